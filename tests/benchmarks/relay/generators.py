"""The measuring stick itself: both load generators on the same server and flow, in turn.

The raw generator (``raw_client.py``) replaced websockets' asyncio client; this
phase runs both against one fresh server of ours, same lobbies shape and
offered rate, repetitions alternating, so the report shows what each costs per
message (its own CPU, from ``/proc``) and what latency each reports.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .contenders import Contender
from .errors import BenchmarkError
from .flow import Generator
from .node_peers import NodeRuntime
from .paced import paced_rep
from .plan import Plan, Settings
from .progress import log
from .quiet_gate import QuietGate
from .repetitions import run_alternating
from .servers import ServerProcess
from .stats import latency_summary, median_of
from .worker_pool import Workers

#: Repetitions per generator (at most): enough for a median, short enough that a
#: default run stays within its ten minutes.
GENERATOR_REPS = 3


def _describe(result: dict[str, Any]) -> str:
    return (
        f"generator {result['generator_cpu_us_per_msg']:.1f} us CPU/msg "
        f"({result['generator_cpu_pct']:.0f}% of a core), "
        f"p50 {result['latency_p50_ms']:.2f} ms, p99 {result['latency_p99_ms']:.2f} ms, "
        f"lost {result['lost']}, other load {result['other_load_pct']:.0f}%"
    )


def run_generators(
    settings: Settings,
    pools: dict[Generator, Workers],
    plan: Plan,
    logdir: Path,
    contender: Contender,
    node: NodeRuntime | None,
) -> dict[str, Any]:
    """Paced repetitions on one server, alternating between the generators' worker pools."""
    rate_per_peer = settings.rate / plan.peers
    log(f"generators: {', '.join(pools)} in turn on {contender.key}, {settings.rate:,.0f} msg/s")
    server = ServerProcess(contender.key, [], logdir, node=node)
    by_key: dict[str, Workers] = {str(key): pool for key, pool in pools.items()}
    keys = list(by_key)
    try:
        for generator, pool in pools.items():
            args = [
                {
                    "key": generator,
                    "url": server.url,
                    "guest_counts": counts,
                    "dialect": contender.dialect,
                }
                for counts in plan.guest_counts
            ]
            peers = sum(r["peers"] for r in pool.call("setup", args, 240))
            if peers != plan.peers:
                raise BenchmarkError(f"{generator}: {peers} clients set up, not {plan.peers}")

        def measure(key: str) -> dict[str, Any]:
            return paced_rep(by_key[key], server, key, rate_per_peer, settings.paced_seconds)

        for key in keys:  # warm-up, not kept
            paced_rep(by_key[key], server, key, rate_per_peer, settings.warmup_seconds)
        gate = QuietGate(by_key[keys[0]], settings.quiet_budget)
        kept, _ = run_alternating(
            keys,
            gate,
            "generators",
            min(settings.reps, GENERATOR_REPS),
            settings.retries,
            measure,
            _describe,
        )
        for key in keys:
            by_key[key].call("teardown", [{"key": key}] * len(by_key[key]), 60)
    finally:
        server.stop()
    summary: dict[str, Any] = {"server": contender.key}
    for key in keys:
        runs = kept[key]
        pooled = sorted(x for run in runs for x in run.pop("_latencies"))
        summary[key] = {
            "reps": runs,
            "generator_cpu_us_per_msg": median_of(runs, "generator_cpu_us_per_msg"),
            "generator_cpu_pct": median_of(runs, "generator_cpu_pct"),
            "server_cpu_us_per_msg": median_of(runs, "cpu_us_per_msg"),
            "offered_per_s": median_of(runs, "offered_per_s"),
            "lost": runs[-1]["lost"],
            "reordered": sum(run["reordered"] for run in runs),
            "errors": sum(run["errors"] for run in runs),
            "other_load_pct_max": max(run["other_load_pct"] for run in runs),
            **latency_summary(pooled),
        }
    return summary


def generator_lines(results: dict[str, Any]) -> list[str]:
    """The report's table of the two generators (from :func:`run_generators`)."""
    lines = [
        f"Load generators on the same server ({results['server']}), same flow and rate, "
        "alternating (medians of the reps):",
        "",
        "| generator | its CPU us/msg | % of a core | server CPU us/msg | p50 ms | p99 ms "
        "| lost / reordered / errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for key in ("raw", "websockets"):
        row = results.get(key)
        if row is None:
            continue
        lines.append(
            f"| {key} | {row['generator_cpu_us_per_msg']:.1f} | {row['generator_cpu_pct']:.0f} "
            f"| {row['server_cpu_us_per_msg']:.1f} | {row['latency_p50_ms']:.2f} "
            f"| {row['latency_p99_ms']:.2f} "
            f"| {row['lost']} / {row['reordered']} / {row['errors']} |"
        )
    if "raw" in results and "websockets" in results:
        ratio = (
            results["raw"]["generator_cpu_us_per_msg"]
            / results["websockets"]["generator_cpu_us_per_msg"]
        )
        lines += [
            "",
            f"The raw generator's own CPU per message: {ratio:.2f}x websockets'. Compare on a "
            "quiet machine: a generator that falls behind reads several frames per wake-up, "
            "so its CPU per message drops as its latency grows.",
        ]
    return lines
