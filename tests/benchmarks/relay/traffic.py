"""The traffic phases (paced, then saturation) on the same lobbies, with their servers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import BenchmarkError
from .paced import run_paced
from .plan import Plan, Settings
from .progress import log
from .quiet_gate import QuietGate
from .saturation import run_saturation
from .servers import ServerProcess
from .worker_pool import Workers

#: For the saturation run only: high enough that the limiter never says no.
SATURATION_LIMIT = 1_000_000


def lobby_setup(workers: Workers, plan: Plan, key: str, server: ServerProcess) -> None:
    """Have the workers start the plan's lobbies on ``server`` under the name ``key``."""
    args = [{"key": key, "url": server.url, "guest_counts": counts} for counts in plan.guest_counts]
    replies = workers.call("setup", args, 240)
    peers = sum(r["peers"] for r in replies)
    if peers != plan.peers:
        raise BenchmarkError(f"{key}: {peers} clients set up, expected {plan.peers}")
    seconds = max(r["seconds"] for r in replies)
    log(f"  {key}: {plan.lobbies} lobbies, {peers} clients ready in {seconds:.1f} s")


def run_traffic(
    settings: Settings, workers: Workers, plan: Plan, logdir: Path, gate: QuietGate
) -> dict[str, Any]:
    """The paced and saturation phases (the same lobbies; servers alternate per rep)."""
    results: dict[str, Any] = {}
    servers: dict[str, ServerProcess] = {}
    try:
        if "paced" in settings.phases:
            log("starting both servers (default limits) and the lobbies")
            servers["ours"] = ServerProcess("ours", [], logdir)
            servers["bare"] = ServerProcess("bare", [], logdir)
            for key in ("ours", "bare"):
                lobby_setup(workers, plan, key, servers[key])
            results["paced"] = run_paced(settings, workers, plan, servers, gate)
            workers.call("teardown", [{"key": "ours"}] * len(workers), 60)
            servers.pop("ours").stop()
        if "saturation" in settings.phases:
            # Raised so the limiter (which still runs on every frame) never says no.
            log("starting our server again with --actions-per-second/--action-burst raised")
            raised = ["--actions-per-second", str(SATURATION_LIMIT)]
            raised += ["--action-burst", str(SATURATION_LIMIT)]
            servers["ours"] = ServerProcess("ours", raised, logdir)
            lobby_setup(workers, plan, "ours", servers["ours"])
            if "bare" not in servers:
                servers["bare"] = ServerProcess("bare", [], logdir)
                lobby_setup(workers, plan, "bare", servers["bare"])
            results["saturation"] = run_saturation(settings, workers, servers, gate)
        for key in servers:
            workers.call("teardown", [{"key": key}] * len(workers), 60)
    finally:
        for server in servers.values():
            server.stop()
    return results
