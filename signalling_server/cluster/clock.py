"""The clock of a cluster's nodes: timer deadlines must mean the same on every node."""

from __future__ import annotations

import time


class WallClock:
    """Wall-clock seconds for every timer, shared by machines whose clocks NTP keeps in sync.

    Each process has its own monotonic clock, so a grace period's deadline
    written by one node would mean nothing to another.
    """

    def monotonic(self) -> float:
        return time.time()

    def wall(self) -> float:
        return time.time()
