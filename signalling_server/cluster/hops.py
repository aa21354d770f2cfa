"""How long events take between nodes: a histogram of publish-to-write seconds."""

from __future__ import annotations

import bisect
from typing import Final

#: Upper bounds (seconds) of the buckets; a relay hop on a LAN is well under a millisecond.
HOP_BUCKETS: Final = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)


class HopHistogram:
    """Counts of hops per bucket, fed once per batch (all its events took the same hop)."""

    __slots__ = ("counts", "sum", "total")

    def __init__(self) -> None:
        #: Per bucket of :data:`HOP_BUCKETS`, then one for longer hops (not cumulative).
        self.counts = [0] * (len(HOP_BUCKETS) + 1)
        self.total = 0
        self.sum = 0.0

    def observe(self, seconds: float, count: int = 1) -> None:
        """``count`` events took ``seconds`` (clamped at 0: clocks of two machines drift)."""
        seconds = max(0.0, seconds)
        self.counts[bisect.bisect_left(HOP_BUCKETS, seconds)] += count
        self.total += count
        self.sum += seconds * count

    def cumulative(self) -> list[tuple[str, int]]:
        """``(upper bound, events at or below it)`` per bucket up to ``+Inf`` (Prometheus)."""
        bounds = [repr(bound) for bound in HOP_BUCKETS] + ["+Inf"]
        running, out = 0, []
        for bound, count in zip(bounds, self.counts, strict=True):
            running += count
            out.append((bound, running))
        return out


__all__ = ["HOP_BUCKETS", "HopHistogram"]
