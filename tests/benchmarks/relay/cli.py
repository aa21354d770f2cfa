"""The command line: parse the options, run the phases, print the tables."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from websockets.version import version as WEBSOCKETS_VERSION

from .addresses import LISTEN_HOST
from .bare_relay import bare_relay
from .contenders import (
    LABELS,
    OURS,
    OURS_UVLOOP,
    Contender,
    contenders,
    shipped,
    uvloop_installed,
)
from .errors import BenchmarkError
from .flow import GENERATORS, Generator
from .generators import generator_lines, run_generators
from .memory import run_memory
from .node_peers import PACKAGES, NodeRuntime, find_node
from .peer_report import peer_report
from .plan import PHASES, Plan, Settings, make_plan
from .process_resources import raise_nofile
from .progress import log
from .quiet_gate import QuietGate
from .report import TARGET_IDLE_CONNECTIONS, report
from .storm import run_storm
from .traffic import run_traffic
from .worker_pool import Workers


def build_parser() -> argparse.ArgumentParser:
    """The options of ``python -m tests.benchmarks.relay``."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks.relay",
        description=(
            "Relay benchmark: LobbyHost's server against bare Python and Node relays and PeerJS."
        ),
    )
    parser.add_argument("--quick", action="store_true", help="a short run (about a minute)")
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="the cluster rows instead (python -m tests.benchmarks.relay.cluster --help)",
    )
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument(
        "--phases",
        default=",".join(PHASES),
        help=f"comma-separated subset of {','.join(PHASES)} (default: all)",
    )
    parser.add_argument("--lobbies", type=int, default=128, help="lobbies (default 128)")
    parser.add_argument("--rate", type=float, default=8000, help="paced msg/s offered (8000)")
    parser.add_argument("--reps", type=int, help="paced repetitions per server (5; quick 3)")
    parser.add_argument("--paced-seconds", type=float, help="seconds per paced rep (5; quick 2)")
    parser.add_argument("--saturation-reps", type=int, help="saturation reps (3; quick 2)")
    parser.add_argument("--saturation-seconds", type=float, help="seconds measured (4; quick 2)")
    parser.add_argument("--window", type=int, default=8, help="unanswered msgs per client (8)")
    parser.add_argument(
        "--idle-connections",
        type=int,
        default=TARGET_IDLE_CONNECTIONS,
        help=f"idle connections for the memory phase ({TARGET_IDLE_CONNECTIONS})",
    )
    parser.add_argument("--workers", type=int, default=2, help="load-generator processes (2)")
    parser.add_argument(
        "--generator",
        choices=GENERATORS,
        default="raw",
        help=(
            "the load generator's client: raw (an asyncio.Protocol per connection, on uvloop "
            "when installed; default) or websockets (its asyncio client, as before); the "
            "generators phase runs both"
        ),
    )
    parser.add_argument(
        "--storm-clients", type=int, default=2000, help="hosts resuming at once (2000)"
    )
    parser.add_argument("--storm-reps", type=int, help="storms per backlog (3; quick 1)")
    parser.add_argument(
        "--no-node", action="store_true", help="leave the Node servers out even if node is here"
    )
    parser.add_argument(
        "--no-compression",
        action="store_true",
        help="clients do not offer permessage-deflate (they do by default, like browsers)",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        help="seconds in all to wait for other processes to leave the CPUs alone (180; quick 30)",
    )
    parser.add_argument(
        "--retries", type=int, default=2, help="repeats of a rep disturbed by other load (2)"
    )
    parser.add_argument(
        "--servers",
        help="comma-separated subset of the servers to run (default: every one this machine has; "
        "keys: " + ",".join(LABELS) + ")",
    )
    parser.add_argument(
        "--time-limit", type=float, default=900, help="abort after this many seconds (900)"
    )
    # How servers.ServerProcess starts the bare relay in a subprocess of its own.
    parser.add_argument("--serve-bare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--host", default=LISTEN_HOST, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    return parser


def _alarm(signum: int, frame: object) -> None:
    raise BenchmarkError("time limit reached")


def _compare_generators(
    settings: Settings,
    workers: Workers,
    plan: Plan,
    logdir: Path,
    servers: list[Contender],
    node: NodeRuntime | None,
) -> dict[str, Any]:
    """Both generators on our shipped server: the run's own, and the other in a second pool."""
    other_generator: Generator = "websockets" if workers.generator == "raw" else "raw"
    other = Workers(settings.workers, settings.compression, other_generator)
    try:
        ours = next(c for c in servers if c.key == shipped([c.key for c in servers]))
        pools = {workers.generator: workers, other_generator: other}
        return run_generators(settings, pools, plan, logdir, ours, node)
    finally:
        other.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark (or, with ``--serve-bare``, the bare relay); the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    raise_nofile()
    if args.cluster:
        from .cluster import main as cluster_main

        quick = ["--quick"] if args.quick else []
        json_out = ["--json", str(args.json)] if args.json else []
        return cluster_main([*quick, *json_out, "--generator", args.generator])
    if args.serve_bare:
        asyncio.run(bare_relay(args.host, args.port))
        return 0
    phases = tuple(p for p in PHASES if p in args.phases.split(","))
    if not phases or set(args.phases.split(",")) - set(PHASES):
        parser.error(f"--phases takes a comma-separated subset of {','.join(PHASES)}")
    quick = args.quick
    settings = Settings(
        lobbies=args.lobbies,
        rate=args.rate,
        reps=args.reps or (3 if quick else 5),
        paced_seconds=args.paced_seconds or (2.0 if quick else 5.0),
        warmup_seconds=1.0 if quick else 2.0,
        saturation_reps=args.saturation_reps or (2 if quick else 3),
        saturation_seconds=args.saturation_seconds or (2.0 if quick else 4.0),
        window=args.window,
        idle_connections=args.idle_connections,
        workers=args.workers,
        compression=None if args.no_compression else "deflate",
        phases=phases,
        quiet_budget=args.quiet_wait if args.quiet_wait is not None else (30 if quick else 180),
        retries=args.retries,
        storm_clients=args.storm_clients,
        storm_reps=args.storm_reps or (1 if quick else 3),
    )
    plan = make_plan(settings)
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(int(args.time_limit))
    started = time.monotonic()
    node = "left out (--no-node)" if args.no_node else find_node()
    if isinstance(node, str):
        log(f"NOTE: {node}")
    runtime = None if isinstance(node, str) else node
    servers = contenders(runtime)
    if args.servers:
        wanted = args.servers.split(",")
        unknown = set(wanted) - {server.key for server in servers}
        if unknown:
            parser.error(f"--servers: not on this machine or unknown: {','.join(sorted(unknown))}")
        servers = [server for server in servers if server.key in wanted]
    workers = Workers(settings.workers, settings.compression, args.generator)
    results: dict[str, Any] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="relay-bench-") as tmp:
            logdir = Path(tmp)
            gate = QuietGate(workers, settings.quiet_budget)
            results.update(run_traffic(settings, workers, plan, logdir, gate, servers, runtime))
            if "generators" in phases:
                results["generators"] = _compare_generators(
                    settings, workers, plan, logdir, servers, runtime
                )
            if "memory" in phases:
                results["memory"] = run_memory(settings, workers, logdir, servers, runtime)
            if "storm" in phases:
                kind = OURS_UVLOOP if uvloop_installed() else OURS
                results["storm"] = run_storm(
                    workers, kind, settings.storm_clients, settings.storm_reps, logdir
                )
    except BenchmarkError as exc:
        log(f"benchmark failed: {exc}")
        return 1
    finally:
        signal.alarm(0)
        workers.close()
    results["config"] = {
        **settings.__dict__,
        "clients": plan.peers,
        "pairs": plan.pairs,
        "rate_per_connection": settings.rate / plan.peers,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "websockets": WEBSOCKETS_VERSION,
        "generator": args.generator,
        "servers": [server.key for server in servers],
        "node": node if isinstance(node, str) else f"{node.version}, {PACKAGES}",
        "seconds": round(time.monotonic() - started, 1),
    }
    print(report(settings, plan, results))
    print()
    print(peer_report(settings, results))
    if "generators" in results:
        print()
        print("\n".join(generator_lines(results["generators"])))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0
