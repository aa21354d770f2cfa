"""Cluster rows of the relay benchmark: nodes sharing lobbies on Redis, against one process.

``python -m tests.benchmarks.relay.cluster [--quick]`` (or ``python -m
tests.benchmarks.relay --cluster``), by hand, never in CI. Baselines run in
the same run, alternating with the cluster:

* saturation: ``lobbyhost-server --workers 2 --redis`` (two processes on one
  port, about half the pairs split across them) against one process on the
  memory backend and against the bare relay, every client sending as fast as
  its window allows; target: two workers at least 1.7x one process. The load
  generators share the two cores, so beside the measured msg/s the report
  projects a 2-core box from server CPU (workers and redis-server, from
  ``/proc``): 2 x messages per server CPU second of the cluster against 1 x one
  process's (one process uses one core at most);
* relay between nodes against within a node, paced at ``--rate`` msg/s: two
  node processes on one Redis, every lobby's host on node A and its guests on
  node A ("within") or node B ("between"); CPU per message (both nodes and
  Redis) and p50/p99 latency; target p99 under 5 ms;
* memory per idle connection on a cluster node (target at most 20 KiB).

The load generator is the raw one by default (``--generator``, see the
package docstring). Loopback only; Redis is a ``redis-server`` this run starts on a free port and stops.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any

from .addresses import LISTEN_HOST, source_address
from .errors import BenchmarkError
from .flow import GENERATORS, Compression, Flow, Generator, Peer
from .load_worker import Worker, run_worker
from .plan import Plan, Settings, make_plan
from .process_resources import cpu_seconds, cpu_snapshot, other_load_pct, raise_nofile, rss_kib
from .progress import log
from .quiet_gate import QuietGate
from .servers import ServerProcess
from .stats import latency_summary
from .worker_pool import Workers

#: High enough that the limiter never says no during saturation.
SATURATION_LIMIT = "1000000"
TARGET_SPEEDUP = 1.7
TARGET_P99_MS = 5.0
TARGET_KIB_PER_CONNECTION = 20.0


# Load generators that can put hosts and guests on different nodes -----------------


class SplitFlow(Flow):
    """A flow whose hosts connect to one URL and whose guests connect to another."""

    def __init__(
        self, worker: int, compression: Compression, generator: Generator, guest_url: str
    ) -> None:
        super().__init__(worker, compression, "lobbyhost", generator)
        self._guest_url = guest_url
        self._host_addresses: set[str] = set()

    async def setup_split(self, host_url: str, guest_counts: list[int], seed: int) -> None:
        bases = itertools.accumulate((1 + n for n in guest_counts), initial=0)
        self._host_addresses = {source_address(self.worker, base) for base in bases}
        await self.setup(host_url, guest_counts, seed)

    async def connect(self, url: str, address: str, path: str = "") -> Peer:
        return await super().connect(
            url if address in self._host_addresses else self._guest_url, address, path
        )


class ClusterWorker(Worker):
    """A load generator that also sets up lobbies split over two nodes."""

    async def cmd_setup_split(
        self, key: str, host_url: str, guest_url: str, guest_counts: list[int]
    ) -> dict[str, Any]:
        flow = SplitFlow(self.index, self.compression, self.generator, guest_url)
        self.flows[key] = flow
        started = time.monotonic()
        await flow.setup_split(host_url, guest_counts, seed=self.index)
        return {"peers": len(flow.peers), "seconds": time.monotonic() - started}


def _cluster_worker_main(
    pipe: Pipe, index: int, compression: Compression, generator: Generator
) -> None:
    run_worker(ClusterWorker(pipe, index, compression, generator))


# Redis and the servers ---------------------------------------------------------------


class RedisProcess:
    """A redis-server on a free loopback port, nothing on disk."""

    def __init__(self, logdir: Path) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            raise BenchmarkError("redis-server is not installed (apt-get install redis-server)")
        with socket.socket() as probe:
            probe.bind((LISTEN_HOST, 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://{LISTEN_HOST}:{self.port}/0"
        command = [executable, "--bind", LISTEN_HOST, "--port", str(self.port)]
        command += ["--save", "", "--appendonly", "no", "--dir", str(logdir)]
        self.proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if "Ready to accept connections" in line:
                break
        else:
            raise BenchmarkError("redis-server did not start")
        ServerProcess.running.add(self.proc.pid)

    def flush(self) -> None:
        with socket.create_connection((LISTEN_HOST, self.port), timeout=10) as sock:
            sock.sendall(b"FLUSHALL\r\n")
            sock.recv(64)

    def stop(self) -> None:
        ServerProcess.running.discard(self.proc.pid)
        self.proc.kill()
        self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(x) for x in (task / "children").read_text().split()]
    return found


def tree_pids(pid: int) -> list[int]:
    """A process and all its descendants."""
    pids = [pid]
    for child in _children(pid):
        pids += tree_pids(child)
    return pids


def cpu_of(pids: Sequence[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += cpu_seconds(pid)
    return total


class Setup:
    """A server set-up under test: its processes, and how its lobbies are made."""

    def __init__(
        self,
        key: str,
        servers: list[ServerProcess],
        redis: RedisProcess | None,
        *,
        split: bool = False,
    ) -> None:
        self.key = key
        self.servers = servers
        self.redis = redis
        self.split = split
        for server in servers:  # the --workers supervisor's workers count as the server
            ServerProcess.running.update(tree_pids(server.pid))

    def pids(self) -> list[int]:
        pids = {pid for server in self.servers for pid in tree_pids(server.pid)}
        if self.redis is not None:
            pids.add(self.redis.proc.pid)
        return sorted(pids)  # "within" names its one node twice: count it once

    def set_up(self, workers: Workers, plan: Plan) -> None:
        if self.split:
            host, guest = self.servers[0].url, self.servers[-1].url
            args = [
                {"key": self.key, "host_url": host, "guest_url": guest, "guest_counts": counts}
                for counts in plan.guest_counts
            ]
            replies = workers.call("setup_split", args, 240)
        else:
            url = self.servers[0].url
            args = [
                {"key": self.key, "url": url, "guest_counts": counts, "dialect": "lobbyhost"}
                for counts in plan.guest_counts
            ]
            replies = workers.call("setup", args, 240)
        peers = sum(r["peers"] for r in replies)
        if peers != plan.peers:
            raise BenchmarkError(f"{self.key}: {peers} clients set up, expected {plan.peers}")
        log(f"  {self.key}: {plan.lobbies} lobbies, {peers} clients ready")

    def stop(self) -> None:
        for server in self.servers:
            ServerProcess.running.difference_update(tree_pids(server.pid))
            server.stop()


# Measurements ---------------------------------------------------------------------------


def saturation_rep(workers: Workers, setup: Setup, settings: Settings) -> dict[str, Any]:
    """Every client sends as fast as its window allows; messages a second and CPU."""
    start_at = time.monotonic() + 0.3
    t1 = start_at + 0.7
    t2 = t1 + settings.saturation_seconds
    args = [
        {"key": setup.key, "start_at": start_at, "t1": t1, "t2": t2, "window": settings.window}
        for _ in range(len(workers))
    ]
    workers.send("saturate", args)
    time.sleep(max(0.0, t1 - time.monotonic()))
    pids = setup.pids()
    cpu1, m1, load1 = cpu_of(pids), time.monotonic(), cpu_snapshot(workers.own_pids())
    time.sleep(max(0.0, t2 - time.monotonic()))
    cpu2, m2, load2 = cpu_of(pids), time.monotonic(), cpu_snapshot(workers.own_pids())
    replies = workers.collect("saturate", settings.saturation_seconds + 60)
    count = sum(r["count"] for r in replies)
    return {
        "msgs_per_s": sum(r["count"] / r["seconds"] for r in replies),
        "server_cpu_pct": 100 * (cpu2 - cpu1) / (m2 - m1),
        "cpu_us_per_msg": 1e6 * (cpu2 - cpu1) / count if count else math.nan,
        # Messages per second of server CPU (every server process and Redis): what
        # the set-up would relay per core with the load generators elsewhere.
        "msgs_per_cpu_s": count / (cpu2 - cpu1) if cpu2 > cpu1 else math.nan,
        "other_load_pct": other_load_pct(load1, load2, m2 - m1),
        "lost": sum(r["outstanding"] for r in replies),
        "reordered": sum(r["reordered"] for r in replies),
        "errors": sum(r["errors"] for r in replies),
    }


def paced_rep(
    workers: Workers, setup: Setup, rate_per_peer: float, seconds: float
) -> dict[str, Any]:
    """Every client sends at ``rate_per_peer``: CPU per message and latency."""
    start_at = time.monotonic() + 0.3
    args = [
        {"key": setup.key, "rate": rate_per_peer, "start_at": start_at, "duration": seconds}
        for _ in range(len(workers))
    ]
    pids = setup.pids()
    load0, m0, cpu0 = cpu_snapshot(workers.own_pids()), time.monotonic(), cpu_of(pids)
    replies = workers.call("paced", args, seconds + 60)
    cpu = cpu_of(pids) - cpu0
    load1, m1 = cpu_snapshot(workers.own_pids()), time.monotonic()
    received = sum(r["received"] for r in replies)
    sent = sum(r["sent"] for r in replies)
    send_seconds = max(r["send_seconds"] for r in replies)
    latencies = sorted(x for r in replies for x in r["latencies_ns"])
    return {
        "offered_per_s": sent / send_seconds if send_seconds > 0 else math.nan,
        "cpu_us_per_msg": 1e6 * cpu / received if received else math.nan,
        "other_load_pct": other_load_pct(load0, load1, m1 - m0),
        "lost": sum(r["outstanding"] for r in replies),
        "reordered": sum(r["reordered"] for r in replies),
        "errors": sum(r["errors"] for r in replies),
        "_latencies": latencies,
    }


def _summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for name in (
        "msgs_per_s",
        "cpu_us_per_msg",
        "server_cpu_pct",
        "offered_per_s",
        "msgs_per_cpu_s",
    ):
        if name in runs[0]:
            summary[name] = statistics.median(run[name] for run in runs)
    summary["lost"] = runs[-1]["lost"]  # sequence numbers run on: what never arrived
    summary["reordered"] = sum(run["reordered"] for run in runs)
    summary["errors"] = sum(run["errors"] for run in runs)
    summary["other_load_pct_max"] = max(run["other_load_pct"] for run in runs)
    if "_latencies" in runs[0]:
        summary.update(latency_summary(sorted(x for run in runs for x in run.pop("_latencies"))))
    return summary


def alternate(
    gate: QuietGate, reps: int, setups: list[Setup], run: Any
) -> dict[str, dict[str, Any]]:
    """``reps`` repetitions, the set-ups taking turns within each; medians per set-up."""
    kept: dict[str, list[dict[str, Any]]] = {setup.key: [] for setup in setups}
    for rep in range(reps):
        for setup in setups if rep % 2 == 0 else reversed(setups):
            gate.wait()
            result = run(setup)
            kept[setup.key].append(result)
            shown = {k: round(v, 2) for k, v in result.items() if isinstance(v, float)}
            log(f"  rep {rep + 1} {setup.key}: {shown}")
    return {key: _summarise(runs) for key, runs in kept.items()}


def run_saturation(
    settings: Settings, workers: Workers, plan: Plan, logdir: Path, redis: RedisProcess
) -> dict[str, Any]:
    raised = ["--actions-per-second", SATURATION_LIMIT, "--action-burst", SATURATION_LIMIT]
    log("saturation: bare relay, one process (memory backend), --workers 2 on Redis")
    setups = [
        Setup("bare", [ServerProcess("bare", [], logdir)], None),
        Setup("one", [ServerProcess("ours", raised, logdir)], None),
        Setup(
            "workers2",
            [ServerProcess("ours", ["--workers", "2", "--redis", redis.url, *raised], logdir)],
            redis,
        ),
    ]
    try:
        for setup in setups:
            setup.set_up(workers, plan)
        gate = QuietGate(workers, settings.quiet_budget)
        return alternate(
            gate,
            settings.saturation_reps,
            setups,
            lambda setup: saturation_rep(workers, setup, settings),
        )
    finally:
        for setup in setups:
            with contextlib.suppress(BenchmarkError):
                workers.call("teardown", [{"key": setup.key}] * len(workers), 60)
            setup.stop()


def run_between_within(
    settings: Settings, workers: Workers, plan: Plan, logdir: Path, redis: RedisProcess
) -> dict[str, Any]:
    rate_per_peer = settings.rate / plan.peers
    log(f"paced: {settings.rate:,.0f} msg/s offered; relays within a node and between two nodes")
    cluster = ["--redis", redis.url]
    node_a = ServerProcess("ours", cluster, logdir)
    node_b = ServerProcess("ours", cluster, logdir)
    single = ServerProcess("ours", [], logdir)
    setups = [
        Setup("one", [single], None),
        Setup("within", [node_a, node_a], redis, split=True),
        Setup("between", [node_a, node_b], redis, split=True),
    ]
    try:
        for setup in setups:
            setup.set_up(workers, plan)
        gate = QuietGate(workers, settings.quiet_budget)
        for setup in setups:  # warm-up, not kept
            paced_rep(workers, setup, rate_per_peer, settings.warmup_seconds)
        return alternate(
            gate,
            settings.reps,
            setups,
            lambda setup: paced_rep(workers, setup, rate_per_peer, settings.paced_seconds),
        )
    finally:
        for setup in setups:
            with contextlib.suppress(BenchmarkError):
                workers.call("teardown", [{"key": setup.key}] * len(workers), 60)
        for server in (node_a, node_b, single):
            server.stop()


def run_idle_memory(
    settings: Settings, workers: Workers, logdir: Path, redis: RedisProcess
) -> dict[str, Any]:
    """Resident memory per idle connection: one process on memory, one cluster node."""
    results: dict[str, Any] = {}
    total = settings.idle_connections
    shares = [total // len(workers) + (i < total % len(workers)) for i in range(len(workers))]
    for key, extra in (("one", []), ("node", ["--redis", redis.url])):
        log(f"memory: {total:,} idle connections to a fresh {key}")
        server = ServerProcess("ours", extra, logdir)
        try:
            time.sleep(1.0)  # let start-up allocations settle before the baseline
            before = rss_kib(server.pid)
            args = [
                {"url": server.url, "count": share, "concurrency": 48, "dialect": "lobbyhost"}
                for share in shares
            ]
            replies = workers.call("idle_open", args, 300)
            opened = sum(r["opened"] for r in replies)
            time.sleep(2.0)
            after = rss_kib(server.pid)
            results[key] = {
                "opened": opened,
                "held": server.connections(),
                "kib_per_connection": (after - before) / opened if opened else math.nan,
            }
            log(f"  {key}: {results[key]}")
            workers.call("idle_close", [{}] * len(workers), 60)
        finally:
            server.stop()
    return results


# Report ----------------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def report(results: dict[str, Any]) -> str:
    """The cluster rows, as a markdown table."""
    lines = [
        "| metric | cluster | baseline | ratio | target | result |",
        "|---|---:|---:|---:|---|---|",
    ]
    if "saturation" in results:
        sat = results["saturation"]
        two, one, bare = sat["workers2"], sat["one"], sat["bare"]
        speedup = two["msgs_per_s"] / one["msgs_per_s"]
        lines.append(
            f"| saturation msg/s as measured (generators on the same cores), --workers 2 + Redis "
            f"vs one process (memory) "
            f"| {two['msgs_per_s']:,.0f} | {one['msgs_per_s']:,.0f} | {speedup:.2f}x "
            f"| >= {TARGET_SPEEDUP}x | {_verdict(speedup >= TARGET_SPEEDUP)} |"
        )
        # Per box: the generators share the two cores, so what a 2-core box would
        # relay is projected from server CPU: two workers can use both cores, one
        # process only one.
        two_box, one_box = 2 * two["msgs_per_cpu_s"], one["msgs_per_cpu_s"]
        box_ratio = two_box / one_box
        lines.append(
            f"| per box: projected 2-core msg/s (2 x msgs per server CPU s, workers + Redis) "
            f"vs one process (1 x its msgs per CPU s) "
            f"| {two_box:,.0f} | {one_box:,.0f} | {box_ratio:.2f}x "
            f"| >= {TARGET_SPEEDUP}x | {_verdict(box_ratio >= TARGET_SPEEDUP)} |"
        )
        lines.append(
            f"| msgs per server CPU second, --workers 2 + Redis vs one process "
            f"| {two['msgs_per_cpu_s']:,.0f} | {one['msgs_per_cpu_s']:,.0f} "
            f"| {two['msgs_per_cpu_s'] / one['msgs_per_cpu_s']:.2f}x | (context) | |"
        )
        lines.append(
            f"| saturation msg/s, --workers 2 + Redis vs bare relay "
            f"| {two['msgs_per_s']:,.0f} | {bare['msgs_per_s']:,.0f} "
            f"| {two['msgs_per_s'] / bare['msgs_per_s']:.2f}x | (context) | |"
        )
        lines.append(
            f"| saturation CPU us/msg (servers + Redis), --workers 2 vs one "
            f"| {two['cpu_us_per_msg']:.1f} | {one['cpu_us_per_msg']:.1f} "
            f"| {two['cpu_us_per_msg'] / one['cpu_us_per_msg']:.2f}x | (context) | |"
        )
        lost = sum(sat[k]["lost"] for k in sat) + sum(sat[k]["reordered"] for k in sat)
        lines.append(
            f"| saturation lost + reordered (all set-ups) | {lost} | | | 0 | {_verdict(lost == 0)} |"
        )
    if "paced" in results:
        paced = results["paced"]
        within, between, one = paced["within"], paced["between"], paced["one"]
        lines.append(
            f"| paced CPU us/msg (nodes + Redis), between vs within a node "
            f"| {between['cpu_us_per_msg']:.1f} | {within['cpu_us_per_msg']:.1f} "
            f"| {between['cpu_us_per_msg'] / within['cpu_us_per_msg']:.2f}x | (context) | |"
        )
        lines.append(
            f"| paced CPU us/msg, within a cluster node vs one process (memory) "
            f"| {within['cpu_us_per_msg']:.1f} | {one['cpu_us_per_msg']:.1f} "
            f"| {within['cpu_us_per_msg'] / one['cpu_us_per_msg']:.2f}x | (context) | |"
        )
        for name in ("between", "within"):
            row = paced[name]
            lines.append(
                f"| paced latency p50 / p99 ms, {name} "
                f"| {row['latency_p50_ms']:.2f} / {row['latency_p99_ms']:.2f} "
                f"| {one['latency_p50_ms']:.2f} / {one['latency_p99_ms']:.2f} "
                f"| {row['latency_p99_ms'] / one['latency_p99_ms']:.2f}x (p99) "
                f"| p99 < {TARGET_P99_MS} ms | {_verdict(row['latency_p99_ms'] < TARGET_P99_MS)} |"
            )
        lost = sum(paced[k]["lost"] + paced[k]["reordered"] + paced[k]["errors"] for k in paced)
        lines.append(
            f"| paced lost + reordered + errors (all set-ups) | {lost} | | | 0 "
            f"| {_verdict(lost == 0)} |"
        )
    if "memory" in results:
        memory = results["memory"]
        node, one = memory["node"], memory["one"]
        lines.append(
            f"| KiB per idle connection, cluster node vs one process "
            f"| {node['kib_per_connection']:.1f} | {one['kib_per_connection']:.1f} "
            f"| {node['kib_per_connection'] / one['kib_per_connection']:.2f}x "
            f"| <= {TARGET_KIB_PER_CONNECTION:.0f} KiB "
            f"| {_verdict(node['kib_per_connection'] <= TARGET_KIB_PER_CONNECTION)} |"
        )
    return "\n".join(lines)


# Command line -------------------------------------------------------------------------------

PHASES = ("saturation", "paced", "memory")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks.relay.cluster",
        description="Cluster rows: --workers 2 on Redis, relays between nodes, idle memory.",
    )
    parser.add_argument("--quick", action="store_true", help="a short run (about two minutes)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--phases", default=",".join(PHASES), help="subset of " + ",".join(PHASES))
    parser.add_argument("--lobbies", type=int, default=128, help="lobbies (default 128)")
    parser.add_argument("--rate", type=float, default=8000, help="paced msg/s offered (8000)")
    parser.add_argument("--reps", type=int, help="paced repetitions (5; quick 3)")
    parser.add_argument("--saturation-reps", type=int, help="saturation repetitions (3; quick 2)")
    parser.add_argument("--idle-connections", type=int, help="memory phase (5000; quick 2000)")
    parser.add_argument("--workers", type=int, default=2, help="load-generator processes (2)")
    parser.add_argument(
        "--generator",
        choices=GENERATORS,
        default="raw",
        help="the load generator's client (raw: asyncio.Protocol; websockets: its asyncio client)",
    )
    return parser


@contextlib.contextmanager
def _redis(logdir: Path) -> Iterator[RedisProcess]:
    redis = RedisProcess(logdir)
    try:
        yield redis
    finally:
        redis.stop()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    raise_nofile()
    quick = args.quick
    phases = tuple(p for p in PHASES if p in args.phases.split(","))
    settings = Settings(
        lobbies=args.lobbies,
        rate=args.rate,
        paced_seconds=2.0 if quick else 5.0,
        reps=args.reps or (3 if quick else 5),
        warmup_seconds=1.0 if quick else 2.0,
        saturation_seconds=2.0 if quick else 4.0,
        saturation_reps=args.saturation_reps or (2 if quick else 3),
        window=8,
        idle_connections=args.idle_connections or (2000 if quick else 5000),
        workers=args.workers,
        compression=None,  # the memory target is for the server's own state
        phases=phases,
        quiet_budget=30 if quick else 120,
        retries=0,
    )
    plan = make_plan(settings)
    started = time.monotonic()
    workers = Workers(settings.workers, settings.compression, args.generator, _cluster_worker_main)
    results: dict[str, Any] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="relay-cluster-") as tmp:
            logdir = Path(tmp)
            with _redis(logdir) as redis:
                if "saturation" in phases:
                    results["saturation"] = run_saturation(settings, workers, plan, logdir, redis)
                    redis.flush()
                if "paced" in phases:
                    results["paced"] = run_between_within(settings, workers, plan, logdir, redis)
                    redis.flush()
                if "memory" in phases:
                    results["memory"] = run_idle_memory(settings, workers, logdir, redis)
    except BenchmarkError as exc:
        log(f"benchmark failed: {exc}")
        return 1
    finally:
        workers.close()
    results["config"] = {
        "lobbies": plan.lobbies,
        "clients": plan.peers,
        "rate": settings.rate,
        "generator": args.generator,
        "cpus": os.cpu_count(),
        "seconds": round(time.monotonic() - started, 1),
    }
    print(
        f"{plan.peers} clients in {plan.lobbies} lobbies; {settings.workers} load generators "
        f"({args.generator} client); "
        f"{os.cpu_count()} CPUs; {results['config']['seconds']:.0f} s.\n"
    )
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
