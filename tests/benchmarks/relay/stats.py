"""Figures from many measurements: percentiles, medians, summed counts."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (NaN when empty)."""
    if not sorted_values:
        return math.nan
    rank = max(0, math.ceil(fraction * len(sorted_values)) - 1)
    return float(sorted_values[rank])


def latency_summary(sorted_ns: Sequence[float]) -> dict[str, float]:
    """p50, p99 and maximum of sorted latencies in nanoseconds, in milliseconds."""
    return {
        "latency_p50_ms": percentile(sorted_ns, 0.50) / 1e6,
        "latency_p99_ms": percentile(sorted_ns, 0.99) / 1e6,
        "latency_max_ms": percentile(sorted_ns, 1.0) / 1e6,
    }


def median_of(reps: list[dict[str, Any]], name: str) -> float:
    """The median of one figure over repetitions."""
    return float(statistics.median(rep[name] for rep in reps))


def merge_counts(counts: Iterable[dict[str, int]]) -> dict[str, int]:
    """Add up counts by name."""
    total: Counter[str] = Counter()
    for item in counts:
        total.update(item)
    return dict(total)
