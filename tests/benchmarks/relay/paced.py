"""The paced phase: CPU per relayed message and latency at a fixed offered rate."""

from __future__ import annotations

import math
import time
from typing import Any

from .contenders import is_ours
from .errors import BenchmarkError
from .plan import Plan, Settings
from .process_resources import cpu_seconds, cpu_snapshot, other_load_pct
from .progress import log
from .quiet_gate import QuietGate
from .repetitions import run_alternating
from .servers import ServerProcess
from .stats import latency_summary, median_of, merge_counts
from .worker_pool import Workers

#: The per-connection budget of our server by default (actions/s); paced
#: senders must stay well below it.
OUR_DEFAULT_ACTIONS_PER_SECOND = 50.0


def paced_rep(
    workers: Workers, server: ServerProcess, key: str, rate_per_peer: float, seconds: float
) -> dict[str, Any]:
    """One repetition on one server: every client sends at ``rate_per_peer``."""
    start_at = time.monotonic() + 0.3
    args = [
        {"key": key, "rate": rate_per_peer, "start_at": start_at, "duration": seconds}
        for _ in range(len(workers))
    ]
    load0, m0 = cpu_snapshot(workers.own_pids()), time.monotonic()
    cpu0, gen0 = cpu_seconds(server.pid), workers.cpu_seconds()
    replies = workers.call("paced", args, seconds + 60)
    cpu, generator_cpu = cpu_seconds(server.pid) - cpu0, workers.cpu_seconds() - gen0
    load1, m1 = cpu_snapshot(workers.own_pids()), time.monotonic()
    received = sum(r["received"] for r in replies)
    sent = sum(r["sent"] for r in replies)
    send_seconds = max(r["send_seconds"] for r in replies)
    latencies = sorted(x for r in replies for x in r["latencies_ns"])
    return {
        "sent": sent,
        "received": received,
        "lost": sum(r["outstanding"] for r in replies),
        "reordered": sum(r["reordered"] for r in replies),
        "errors": sum(r["errors"] for r in replies),
        "error_codes": merge_counts(r["error_codes"] for r in replies),
        "offered_per_s": sent / send_seconds if send_seconds > 0 else math.nan,
        "worst_lag_ms": 1e3 * max(r["worst_lag_s"] for r in replies),
        "server_cpu_s": cpu,
        "generator_cpu_pct": 100 * generator_cpu / (m1 - m0),
        # Each relayed message is one send and one receive by the load generator.
        "generator_cpu_us_per_msg": 1e6 * generator_cpu / received if received else math.nan,
        "other_load_pct": other_load_pct(load0, load1, m1 - m0),
        "cpu_us_per_msg": 1e6 * cpu / received if received else math.nan,
        **latency_summary(latencies),
        "_latencies": latencies,
    }


def _describe(result: dict[str, Any]) -> str:
    return (
        f"{result['offered_per_s']:.0f} msg/s offered, "
        f"{result['cpu_us_per_msg']:.1f} us CPU/msg, "
        f"p50 {result['latency_p50_ms']:.2f} ms, p99 {result['latency_p99_ms']:.2f} ms, "
        f"lost {result['lost']}, reordered {result['reordered']}, "
        f"errors {result['errors']}, other load {result['other_load_pct']:.0f}%"
    )


def paired_ratios(
    kept: dict[str, list[dict[str, Any]]], baseline: str, name: str
) -> dict[str, list[float]]:
    """Each server's ``name`` over the baseline's, rep by rep (they ran back to back)."""
    return {
        key: [run[name] / base[name] for run, base in zip(runs, kept[baseline], strict=True)]
        for key, runs in kept.items()
    }


def run_paced(
    settings: Settings,
    workers: Workers,
    plan: Plan,
    servers: dict[str, ServerProcess],
    gate: QuietGate,
    keys: list[str],
) -> dict[str, Any]:
    """A warm-up per server, then ``settings.reps`` repetitions interleaved between them."""
    rate_per_peer = settings.rate / plan.peers
    if rate_per_peer > 0.8 * OUR_DEFAULT_ACTIONS_PER_SECOND:
        raise BenchmarkError(
            f"{rate_per_peer:.1f} msg/s per connection is too close to our server's budget "
            f"of {OUR_DEFAULT_ACTIONS_PER_SECOND:.0f}/s; add --lobbies"
        )
    log(f"paced run: {settings.rate:,.0f} msg/s offered, {rate_per_peer:.1f} per connection")
    warm_ups: dict[str, dict[str, Any]] = {}
    for key in keys:
        gate.wait()
        warm_ups[key] = paced_rep(
            workers, servers[key], key, rate_per_peer, settings.warmup_seconds
        )
    kept, measured = run_alternating(
        keys,
        gate,
        "paced",
        settings.reps,
        settings.retries,
        lambda key: paced_rep(workers, servers[key], key, rate_per_peer, settings.paced_seconds),
        _describe,
    )
    every = {key: [warm_ups[key], *measured[key]] for key in keys}
    summary: dict[str, Any] = {
        "paired_cpu_ratios_to": {
            base: paired_ratios(kept, base, "cpu_us_per_msg") for base in keys if not is_ours(base)
        },
    }
    for key in keys:
        runs = kept[key]
        pooled = sorted(x for run in runs for x in run["_latencies"])
        for run in every[key]:
            run.pop("_latencies", None)
        summary[key] = {
            "reps": runs,
            "all_runs": len(every[key]),
            "cpu_us_per_msg": median_of(runs, "cpu_us_per_msg"),
            "cpu_us_per_msg_reps": [run["cpu_us_per_msg"] for run in runs],
            "offered_per_s": median_of(runs, "offered_per_s"),
            "received": sum(run["received"] for run in every[key]),
            # Sequence numbers run on across repetitions: after the last drain,
            # whatever was sent and never arrived (warm-up included) is lost.
            "lost": every[key][-1]["lost"],
            "reordered": sum(run["reordered"] for run in every[key]),
            "errors": sum(run["errors"] for run in every[key]),
            "error_codes": every[key][-1]["error_codes"],
            **latency_summary(pooled),
            "generator_cpu_pct": median_of(runs, "generator_cpu_pct"),
            "generator_cpu_us_per_msg": median_of(runs, "generator_cpu_us_per_msg"),
            "other_load_pct_max": max(run["other_load_pct"] for run in runs),
        }
    return summary
