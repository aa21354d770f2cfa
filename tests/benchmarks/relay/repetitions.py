"""Repetitions interleaved between the servers, each one through the quiet gate."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from .progress import log
from .quiet_gate import QuietGate

Measurement = dict[str, Any]


def rotate(keys: Sequence[str], rep: int) -> list[str]:
    """The order of the servers in repetition ``rep``: each rep starts one further on."""
    shift = rep % len(keys)
    return [*keys[shift:], *keys[:shift]]


def run_alternating(
    keys: Sequence[str],
    gate: QuietGate,
    phase: str,
    reps: int,
    retries: int,
    measure_once: Callable[[str], Measurement],
    describe: Callable[[Measurement], str],
) -> tuple[dict[str, list[Measurement]], dict[str, list[Measurement]]]:
    """``reps`` repetitions of ``measure_once(key)`` per server, logged with ``describe``.

    Returns the kept measurements and every measurement (kept or discarded, in order).
    """
    kept: dict[str, list[Measurement]] = {key: [] for key in keys}
    every: dict[str, list[Measurement]] = {key: [] for key in keys}
    for rep in range(reps):
        for key in rotate(keys, rep):
            label = f"{phase} {key} rep {rep + 1}/{reps}"
            result, discarded = gate.measure(retries, label, functools.partial(measure_once, key))
            kept[key].append(result)
            every[key] += [*discarded, result]
            log(f"  {label}: {describe(result)}")
    return kept, every
