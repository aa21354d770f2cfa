"""The reconnect storm: 2,000 hosts drop at once and all resume; our backlog against 100.

Each repetition starts a fresh server (ours, with a listen backlog of 1024 as
shipped, or asyncio's default of 100), opens the hosts with a lobby each, drops
every connection at once, then has every host reconnect and ``resume`` at the
same instant. Measured: the time until the last ``resumed`` arrived, and the
SYNs the kernel dropped because the accept queue was full
(``ListenOverflows`` in ``/proc/net/netstat``). The backlogs alternate.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from .errors import BenchmarkError
from .progress import log
from .servers import ServerProcess
from .stats import merge_counts, percentile
from .worker_pool import Workers

#: What the server ships (signalling_server/transport/listener.py) and asyncio's default.
BACKLOGS = (1024, 100)


def listen_overflows() -> int:
    """SYNs dropped because an accept queue was full (this network namespace)."""
    lines = Path("/proc/net/netstat").read_text().splitlines()
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            table = dict(zip(names.split()[1:], values.split()[1:], strict=True))
            return int(table["ListenOverflows"])
    raise BenchmarkError("no TcpExt in /proc/net/netstat")


def storm_rep(
    workers: Workers, kind: str, backlog: int, clients: int, logdir: Path
) -> dict[str, Any]:
    """One storm against a fresh server with ``backlog``."""
    server = ServerProcess(kind, [], logdir, backlog=backlog)
    try:
        shares = [
            clients // len(workers) + (i < clients % len(workers)) for i in range(len(workers))
        ]
        args = [{"url": server.url, "count": share} for share in shares]
        workers.call("storm_prepare", args, 300)
        workers.call("storm_drop", [{}] * len(workers), 60)
        deadline = time.monotonic() + 30
        while server.connections() and time.monotonic() < deadline:
            time.sleep(0.05)
        overflows = listen_overflows()
        start_at = time.monotonic() + 0.5
        replies = workers.call(
            "storm_resume", [{"url": server.url, "start_at": start_at}] * len(workers), 180
        )
        dropped = listen_overflows() - overflows
        times = sorted(t for reply in replies for t in reply["resumed_after"])
        if len(times) != clients:
            raise BenchmarkError(f"storm: {len(times)} of {clients} hosts resumed")
        workers.call("storm_close", [{}] * len(workers), 60)
        return {
            "seconds_all": times[-1],
            "seconds_p50": percentile(times, 0.5),
            "syn_dropped": dropped,
            "failures": merge_counts(reply["failures"] for reply in replies),
        }
    finally:
        server.stop()


def run_storm(workers: Workers, kind: str, clients: int, reps: int, logdir: Path) -> dict[str, Any]:
    """``reps`` storms per backlog, alternating."""
    log(
        f"reconnect storm: {clients:,} hosts resume at once; backlog {BACKLOGS[0]} vs {BACKLOGS[1]}"
    )
    runs: dict[int, list[dict[str, Any]]] = {backlog: [] for backlog in BACKLOGS}
    for rep in range(reps):
        for backlog in BACKLOGS if rep % 2 == 0 else BACKLOGS[::-1]:
            result = storm_rep(workers, kind, backlog, clients, logdir)
            runs[backlog].append(result)
            log(
                f"  storm backlog {backlog} rep {rep + 1}/{reps}: all resumed in "
                f"{result['seconds_all']:.2f} s (p50 {result['seconds_p50']:.2f} s), "
                f"{result['syn_dropped']} SYNs dropped"
            )
    return {
        "clients": clients,
        "server": kind,
        **{
            str(backlog): {
                "reps": done,
                "seconds_all": statistics.median(r["seconds_all"] for r in done),
                "seconds_p50": statistics.median(r["seconds_p50"] for r in done),
                "syn_dropped": statistics.median(r["syn_dropped"] for r in done),
            }
            for backlog, done in runs.items()
        },
    }
