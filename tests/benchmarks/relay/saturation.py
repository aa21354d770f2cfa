"""The saturation phase: the most messages a second each server relays."""

from __future__ import annotations

import math
import time
from typing import Any

from .contenders import is_ours
from .paced import paired_ratios
from .plan import Settings
from .process_resources import cpu_seconds, cpu_snapshot, other_load_pct
from .progress import log
from .quiet_gate import QuietGate
from .repetitions import run_alternating
from .servers import ServerProcess
from .stats import median_of
from .worker_pool import Workers


def saturation_rep(
    workers: Workers, server: ServerProcess, key: str, settings: Settings
) -> dict[str, Any]:
    """One repetition on one server: every client sends as fast as its window allows."""
    start_at = time.monotonic() + 0.3
    t1 = start_at + 0.7  # let the windows fill before measuring
    t2 = t1 + settings.saturation_seconds
    args = [
        {"key": key, "start_at": start_at, "t1": t1, "t2": t2, "window": settings.window}
        for _ in range(len(workers))
    ]
    workers.send("saturate", args)
    time.sleep(max(0.0, t1 - time.monotonic()))
    cpu1, gen1, m1 = cpu_seconds(server.pid), workers.cpu_seconds(), time.monotonic()
    load1 = cpu_snapshot(workers.own_pids())
    time.sleep(max(0.0, t2 - time.monotonic()))
    cpu2, gen2, m2 = cpu_seconds(server.pid), workers.cpu_seconds(), time.monotonic()
    load2 = cpu_snapshot(workers.own_pids())
    replies = workers.collect("saturate", settings.saturation_seconds + 60)
    count = sum(r["count"] for r in replies)
    return {
        "messages": count,
        "msgs_per_s": sum(r["count"] / r["seconds"] for r in replies),
        "server_cpu_pct": 100 * (cpu2 - cpu1) / (m2 - m1),
        "generator_cpu_pct": 100 * (gen2 - gen1) / (m2 - m1),
        "other_load_pct": other_load_pct(load1, load2, m2 - m1),
        "cpu_us_per_msg": 1e6 * (cpu2 - cpu1) / count if count else math.nan,
        # What one whole core of the server would relay: the load generator (Python,
        # on the same two cores) saturates before the faster servers do.
        "msgs_per_core_s": count / (cpu2 - cpu1) if cpu2 > cpu1 else math.nan,
        "lost": sum(r["outstanding"] for r in replies),
        "reordered": sum(r["reordered"] for r in replies),
        "errors": sum(r["errors"] for r in replies),
    }


def _describe(result: dict[str, Any]) -> str:
    return (
        f"{result['msgs_per_s']:.0f} msg/s, "
        f"server CPU {result['server_cpu_pct']:.0f}%, "
        f"generator CPU {result['generator_cpu_pct']:.0f}%, "
        f"{result['cpu_us_per_msg']:.1f} us CPU/msg, "
        f"other load {result['other_load_pct']:.0f}%"
    )


def run_saturation(
    settings: Settings,
    workers: Workers,
    servers: dict[str, ServerProcess],
    gate: QuietGate,
    keys: list[str],
) -> dict[str, Any]:
    """``settings.saturation_reps`` repetitions interleaved between the servers."""
    log(f"saturation: {settings.window} unanswered messages per client")
    kept, _ = run_alternating(
        keys,
        gate,
        "saturation",
        settings.saturation_reps,
        settings.retries,
        lambda key: saturation_rep(workers, servers[key], key, settings),
        _describe,
    )
    summary: dict[str, Any] = {
        "paired_rate_ratios_to": {
            base: paired_ratios(kept, base, "msgs_per_s") for base in keys if not is_ours(base)
        },
        "paired_capacity_ratios_to": {
            base: paired_ratios(kept, base, "msgs_per_core_s") for base in keys if not is_ours(base)
        },
    }
    for key in keys:
        runs = kept[key]
        summary[key] = {
            "reps": runs,
            "msgs_per_s": median_of(runs, "msgs_per_s"),
            "server_cpu_pct": median_of(runs, "server_cpu_pct"),
            "generator_cpu_pct": median_of(runs, "generator_cpu_pct"),
            "cpu_us_per_msg": median_of(runs, "cpu_us_per_msg"),
            "msgs_per_core_s": median_of(runs, "msgs_per_core_s"),
            "lost": runs[-1]["lost"],
            "reordered": sum(run["reordered"] for run in runs),
            "errors": sum(run["errors"] for run in runs),
            "other_load_pct_max": max(run["other_load_pct"] for run in runs),
        }
    return summary
