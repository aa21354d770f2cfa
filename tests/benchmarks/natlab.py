"""Joins across NAT in the lab: join to an open channel through STUN and TURN; share of direct routes.

Run as root: ``.venv/bin/python -m tests.benchmarks.natlab [--rounds 10] [--sessions 20] [--json PATH]``

Builds the NAT lab (tests/natlab): a headless host (``lobbyhost --headless
--auto-accept --map-port``) in the host's home, behind a router running
miniupnpd; ``lobbyhost-guest`` processes in the guest's home join through the
router's mapped port; coturn in the cloud. Each join is timed from the guest's
``waiting`` line (the server answered join_lobby) to its ``connected`` line (the
``lobby`` channel is open), as the guest CLI prints them; the route is what the
host's ``peer_connected`` line says. Measured in the same run:

* loopback: host and guest on one machine over 127.0.0.1, no ICE servers (baseline);
* STUN: both homes port-restricted cone NATs, STUN only;
* TURN: the guest's home a symmetric NAT, STUN and TURN offered;
* direct share: cone to cone with STUN and TURN offered (routes only; the join
  times are in the table too): with the homes near each other; then with a slow
  path between the homes (``Lab.slow_path_between_homes``, 64 kbit/s) while the
  TURN server stays near, with relayed checks held back (``--relay-delay``, the
  default) and without (0: aioice as it is).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
from collections import Counter
from dataclasses import dataclass
from typing import Any

from lobbyhost_app.net.route_preference import DEFAULT_RELAY_DELAY_S
from tests.natlab.cli import START_TIMEOUT, CliProcess, guest, headless_host
from tests.natlab.lab import Lab, Machine, NatKind, lab_unavailable
from tests.natlab.processes import LabError, TurnServer

JOIN_TIMEOUT = 30.0
PORT = 8765
#: The rate between the two homes for the direct-share runs (the cloud stays near).
SLOW_PATH = "64kbit"


@dataclass
class Sessions:
    """Join times (seconds) and routes of one condition."""

    join_s: list[float]
    routes: Counter[str]

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.join_s)
        return {
            "sessions": len(ordered),
            "median_ms": statistics.median(ordered) * 1000,
            "worst_ms": ordered[-1] * 1000,
            "routes": dict(self.routes),
        }


async def join_once(
    host: CliProcess, machine: Machine, url: str, code: str, args: list[str], name: str
) -> tuple[float, str]:
    """One guest joins, connects and leaves: seconds from waiting to connected, and the route."""
    async with guest(machine, url, code, *args, name=name) as g:
        waiting = await g.expect("status", START_TIMEOUT, phase="waiting")
        connected = await g.expect("status", JOIN_TIMEOUT, phase="connected")
        line = await host.expect("peer_connected", JOIN_TIMEOUT, name=name)
        await g.stop()
        await host.expect("peer_left", JOIN_TIMEOUT, name=name)
    return connected["_read_at"] - waiting["_read_at"], str(line["route"])


async def sessions(
    host_machine: Machine,
    guest_machine: Machine,
    host_args: list[str],
    guest_args: list[str],
    count: int,
    label: str,
    through: str | None = None,
) -> Sessions:
    """``count`` joins to one headless host; ``through`` is the router's WAN address if mapped."""
    result = Sessions([], Counter())
    async with headless_host(host_machine, *host_args) as host:
        started = await host.expect("lobby_started", START_TIMEOUT)
        url = started["url"]
        if through is not None:
            mapping = await host.expect("port_mapping", START_TIMEOUT, status="opened")
            url = f"ws://{mapping['external_address']}:{mapping['external_port']}/"
        for number in range(count):
            join_s, route = await join_once(
                host, guest_machine, url, started["lobby_id"], guest_args, f"{label}{number}"
            )
            result.join_s.append(join_s)
            result.routes[route] += 1
            print(f"  {label} {number + 1}/{count}: {join_s * 1000:.0f} ms via {route}", flush=True)
        await host.stop()
    return result


def ice_args(*urls: str, relay_delay: float | None = None) -> list[str]:
    args = [arg for url in urls for arg in ("--ice-server", url)]
    if relay_delay is not None:
        args += ["--relay-delay", str(relay_delay)]
    return args


async def run(rounds: int, direct_sessions: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with Lab(host_nat=NatKind.CONE, guest_nat=NatKind.CONE) as lab:
        turn: TurnServer = lab.start_turn_server()
        lab.start_port_mapper(lab.host_router)
        listen = ["--listen", f"0.0.0.0:{PORT}", "--map-port"]
        wan = lab.host_router.wan_address

        print("loopback (baseline)", flush=True)
        loopback = ["--ice-address", "127.0.0.1"]
        results["loopback"] = await sessions(
            lab.host, lab.host, ["--listen", "127.0.0.1:0", *loopback], loopback, rounds, "lo"
        )
        print("STUN, cone to cone", flush=True)
        stun = ice_args(turn.stun_url)
        results["stun"] = await sessions(
            lab.host, lab.guest, [*listen, *stun], stun, rounds, "stun", through=wan
        )
        both = ice_args(turn.stun_url, turn.turn_argument())
        print("cone to cone, STUN and TURN offered", flush=True)
        results["direct_share_near"] = await sessions(
            lab.host, lab.guest, [*listen, *both], both, direct_sessions, "near", through=wan
        )
        with lab.slow_path_between_homes(SLOW_PATH):
            for delay, key in ((0.0, "direct_share_no_delay"), (None, "direct_share")):
                print(f"cone to cone, slow path between homes, relay delay {delay}", flush=True)
                both = ice_args(turn.stun_url, turn.turn_argument(), relay_delay=delay)
                results[key] = await sessions(
                    lab.host,
                    lab.guest,
                    [*listen, *both],
                    both,
                    direct_sessions,
                    "far",
                    through=wan,
                )
        print("TURN, cone to symmetric", flush=True)
        lab.set_nat(lab.guest_router, NatKind.SYMMETRIC)
        both = ice_args(turn.stun_url, turn.turn_argument())
        results["turn"] = await sessions(
            lab.host, lab.guest, [*listen, *both], both, rounds, "turn", through=wan
        )
    return {key: value.summary() for key, value in results.items()}


def table(result: dict[str, Any]) -> str:
    base = result["loopback"]["median_ms"]

    def share(key: str) -> str:
        routes = result[key]["routes"]
        direct = sum(n for route, n in routes.items() if route != "relay")
        return (
            f"{direct}/{result[key]['sessions']} ({100 * direct / result[key]['sessions']:.0f} %)"
        )

    rows = [
        "| measure | sessions | median ms | worst ms | vs loopback | routes |",
        "|---|---:|---:|---:|---:|---|",
    ]
    names = {
        "loopback": "loopback, same machine (baseline)",
        "stun": "through STUN: cone NAT to cone NAT",
        "turn": "through TURN: cone NAT to symmetric NAT",
        "direct_share_near": (
            f"cone to cone, TURN offered, relay delay {DEFAULT_RELAY_DELAY_S:g} s"
        ),
        "direct_share": (
            f"cone to cone, {SLOW_PATH}/s between homes, TURN offered, "
            f"relay delay {DEFAULT_RELAY_DELAY_S:g} s"
        ),
        "direct_share_no_delay": (
            f"cone to cone, {SLOW_PATH}/s between homes, TURN offered, "
            "no relay delay (aioice as is)"
        ),
    }
    for key, name in names.items():
        r = result[key]
        routes = ", ".join(f"{route} {n}" for route, n in sorted(r["routes"].items()))
        rows.append(
            f"| {name} | {r['sessions']} | {r['median_ms']:.0f} | {r['worst_ms']:.0f} | "
            f"{r['median_ms'] / base:.1f}x | {routes} |"
        )
    rows.append("")
    rows.append(
        f"Direct routes, cone to cone with TURN offered: {share('direct_share_near')} with "
        f"the relay delay; with a slow path between the homes {share('direct_share')} with "
        f"the relay delay, {share('direct_share_no_delay')} without; target >= 95 %."
    )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="joins per timed condition")
    parser.add_argument("--sessions", type=int, default=20, help="sessions per direct-share run")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    reason = lab_unavailable()
    if reason is not None:
        sys.exit(f"natlab benchmark: {reason}")
    try:
        result = asyncio.run(run(args.rounds, args.sessions))
    except LabError as exc:
        sys.exit(f"natlab benchmark failed: {exc}")
    print(table(result))
    if args.json:
        with open(args.json, "w") as file:
            json.dump(result, file, indent=2)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
