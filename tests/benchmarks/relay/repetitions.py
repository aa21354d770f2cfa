"""Repetitions alternating between the two servers, each one through the quiet gate."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from .progress import log
from .quiet_gate import QuietGate

Measurement = dict[str, Any]


def alternate(rep: int) -> tuple[str, str]:
    """The order of the two servers in repetition ``rep``: it alternates."""
    return ("ours", "bare") if rep % 2 == 0 else ("bare", "ours")


def run_alternating(
    gate: QuietGate,
    phase: str,
    reps: int,
    retries: int,
    measure_once: Callable[[str], Measurement],
    describe: Callable[[Measurement], str],
) -> tuple[dict[str, list[Measurement]], dict[str, list[Measurement]]]:
    """``reps`` repetitions of ``measure_once(server)`` per server, logged with ``describe``.

    Returns the kept measurements and every measurement (kept or discarded, in order).
    """
    kept: dict[str, list[Measurement]] = {"ours": [], "bare": []}
    every: dict[str, list[Measurement]] = {"ours": [], "bare": []}
    for rep in range(reps):
        for key in alternate(rep):
            label = f"{phase} {key} rep {rep + 1}/{reps}"
            result, discarded = gate.measure(retries, label, functools.partial(measure_once, key))
            kept[key].append(result)
            every[key] += [*discarded, result]
            log(f"  {label}: {describe(result)}")
    return kept, every
