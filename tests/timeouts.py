"""One knob for every timeout in the tests: LOBBYHOST_TEST_TIMEOUT_FACTOR (default 1)."""

from __future__ import annotations

import os

FACTOR = float(os.environ.get("LOBBYHOST_TEST_TIMEOUT_FACTOR", "1"))


def scaled(seconds: float) -> float:
    """``seconds`` times the factor; slow machines set the factor above 1."""
    return seconds * FACTOR
