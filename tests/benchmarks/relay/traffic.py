"""The traffic phases (paced, then saturation) on the same lobbies, with their servers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .contenders import Contender, is_ours
from .errors import BenchmarkError
from .node_peers import NodeRuntime
from .paced import run_paced
from .plan import Plan, Settings
from .progress import log
from .quiet_gate import QuietGate
from .saturation import run_saturation
from .servers import ServerProcess
from .worker_pool import Workers

#: For the saturation run only: high enough that the limiter never says no.
SATURATION_LIMIT = 1_000_000


def lobby_setup(workers: Workers, plan: Plan, contender: Contender, server: ServerProcess) -> None:
    """Have the workers start the plan's lobbies on ``server`` under the contender's key."""
    key = contender.key
    args = [
        {"key": key, "url": server.url, "guest_counts": counts, "dialect": contender.dialect}
        for counts in plan.guest_counts
    ]
    replies = workers.call("setup", args, 240)
    peers = sum(r["peers"] for r in replies)
    if peers != plan.peers:
        raise BenchmarkError(f"{key}: {peers} clients set up, expected {plan.peers}")
    seconds = max(r["seconds"] for r in replies)
    log(f"  {key}: {plan.lobbies} lobbies, {peers} clients ready in {seconds:.1f} s")


def run_traffic(
    settings: Settings,
    workers: Workers,
    plan: Plan,
    logdir: Path,
    gate: QuietGate,
    contenders: list[Contender],
    node: NodeRuntime | None,
) -> dict[str, Any]:
    """The paced and saturation phases (the same lobbies; servers interleave per rep)."""
    results: dict[str, Any] = {}
    servers: dict[str, ServerProcess] = {}
    keys = [c.key for c in contenders]

    def start(contender: Contender, extra: list[str]) -> None:
        servers[contender.key] = ServerProcess(contender.key, extra, logdir, node=node)
        lobby_setup(workers, plan, contender, servers[contender.key])

    try:
        if "paced" in settings.phases:
            log(f"starting {', '.join(keys)} (default limits) and the lobbies")
            for contender in contenders:
                start(contender, [])
            results["paced"] = run_paced(settings, workers, plan, servers, gate, keys)
            for key in [key for key in keys if is_ours(key)]:
                workers.call("teardown", [{"key": key}] * len(workers), 60)
                servers.pop(key).stop()
        if "saturation" in settings.phases:
            # Raised so the limiter (which still runs on every frame) never says no.
            log("starting our server again with --actions-per-second/--action-burst raised")
            raised = ["--actions-per-second", str(SATURATION_LIMIT)]
            raised += ["--action-burst", str(SATURATION_LIMIT)]
            for contender in contenders:
                if contender.key not in servers:
                    start(contender, raised if is_ours(contender.key) else [])
            results["saturation"] = run_saturation(settings, workers, servers, gate, keys)
        for key in servers:
            workers.call("teardown", [{"key": key}] * len(workers), 60)
    finally:
        for server in servers.values():
            server.stop()
    return results
