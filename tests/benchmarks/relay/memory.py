"""The memory phase: resident memory per idle connection, and how many one process holds."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from .contenders import Contender
from .node_peers import NodeRuntime
from .plan import Settings
from .process_resources import rss_kib
from .progress import log
from .servers import ServerProcess
from .stats import merge_counts
from .worker_pool import Workers


def run_memory(
    settings: Settings,
    workers: Workers,
    logdir: Path,
    contenders: list[Contender],
    node: NodeRuntime | None,
) -> dict[str, Any]:
    """Open ``settings.idle_connections`` idle connections to a fresh process of each server."""
    results: dict[str, Any] = {}
    total = settings.idle_connections
    shares = [total // len(workers) + (i < total % len(workers)) for i in range(len(workers))]
    for contender in contenders:
        key = contender.key
        log(f"memory: {total:,} idle connections to a fresh {key} server")
        server = ServerProcess(key, [], logdir, node=node)
        try:
            time.sleep(1.0)
            before = rss_kib(server.pid)
            concurrency = max(1, 96 // len(workers))
            args = [
                {
                    "url": server.url,
                    "count": share,
                    "concurrency": concurrency,
                    "dialect": contender.dialect,
                }
                for share in shares
            ]
            replies = workers.call("idle_open", args, 300)
            opened = sum(r["opened"] for r in replies)
            time.sleep(2.0)
            after = rss_kib(server.pid)
            held = server.connections()
            time.sleep(1.0)
            held_later = server.connections()
            results[key] = {
                "requested": total,
                "opened": opened,
                "held": min(held, held_later),
                "open_seconds": max(r["seconds"] for r in replies),
                "failures": merge_counts(r["failures"] for r in replies),
                "rss_before_kib": before,
                "rss_after_kib": after,
                "kib_per_connection": (after - before) / opened if opened else math.nan,
            }
            log(
                f"  {key}: held {held:,}, RSS {before:,} -> {after:,} KiB, "
                f"{results[key]['kib_per_connection']:.1f} KiB/connection, "
                f"opened in {results[key]['open_seconds']:.1f} s"
            )
            workers.call("idle_close", [{}] * len(workers), 60)
        finally:
            server.stop()
    return results
