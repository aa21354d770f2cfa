"""Join latency: ``join_lobby`` sent to ``lobby`` channel open, against a bare handshake.

Run: ``.venv/bin/python -m tests.benchmarks.join [--rounds N] [--json PATH]``

Everything runs in one process on loopback (ICE restricted to 127.0.0.1, no ICE
servers): the embedded signalling server, a host with auto-accept, and guests.
The baseline, measured in the same run, is two bare aiortc peers wired to each
other directly: createOffer to data channel open, no signalling server at all.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiortc import RTCPeerConnection

from lobbyhost_app.net.guest import GuestPhase, GuestSession, GuestStatus
from lobbyhost_app.net.host import HostSession
from lobbyhost_app.net.ice import IceSettings, install_address_allow_list
from lobbyhost_app.net.signalling import SignallingClient
from signalling_server import Limits, ServerConfig, serve

LOOPBACK = IceSettings(allowed_addresses=("127.0.0.1",))


async def bare_handshake() -> float:
    """Seconds from createOffer to an open data channel between two bare peers."""
    config = LOOPBACK.configuration()
    offerer, answerer = RTCPeerConnection(config), RTCPeerConnection(config)
    opened = asyncio.get_running_loop().create_future()
    start = time.perf_counter()
    channel = offerer.createDataChannel("lobby")

    def on_open() -> None:
        if not opened.done():
            opened.set_result(time.perf_counter())

    channel.on("open", on_open)
    await offerer.setLocalDescription(await offerer.createOffer())
    await answerer.setRemoteDescription(offerer.localDescription)
    await answerer.setLocalDescription(await answerer.createAnswer())
    await offerer.setRemoteDescription(answerer.localDescription)
    async with asyncio.timeout(20):
        end = await opened
    await offerer.close()
    await answerer.close()
    return float(end - start)


async def guest_join(url: str, code: str, name: str) -> tuple[float, GuestSession]:
    """Seconds from sending join_lobby to the guest's lobby channel opening."""
    signalling = SignallingClient(url)
    await signalling.connect()
    guest = GuestSession(signalling, LOOPBACK)
    connected = asyncio.get_running_loop().create_future()

    def on_event(event: object) -> None:
        if isinstance(event, GuestStatus) and not connected.done():
            if event.phase is GuestPhase.CONNECTED:
                connected.set_result(time.perf_counter())
            elif event.phase in (GuestPhase.FAILED, GuestPhase.REJECTED):
                connected.set_exception(RuntimeError(f"{name}: {event}"))

    guest.add_listener(on_event)
    start = time.perf_counter()
    await guest.join(code, name)
    async with asyncio.timeout(30):
        end = await connected
    return float(end - start), guest


async def measure_lobby(rounds: int, crowd: int) -> dict[str, Any]:
    limits = Limits(
        joins_per_address_per_minute=100_000,
        default_max_guests=64,
        pending_per_lobby=64,
        password_hash_iterations=1,
    )
    async with serve(ServerConfig(port=0, limits=limits)) as server:
        signalling = SignallingClient(server.url)
        await signalling.connect()
        host = HostSession(signalling, LOOPBACK, auto_accept=True)
        opened = await host.start(max_guests=64)
        singles = []
        for n in range(rounds):
            seconds, guest = await guest_join(server.url, opened.lobby_id, f"g{n}")
            singles.append(seconds)
            await guest.leave()
        crowds = []
        for n in range(max(1, rounds // 4)):
            joins = await asyncio.gather(
                *(guest_join(server.url, opened.lobby_id, f"c{n}-{i}") for i in range(crowd))
            )
            crowds.append(max(seconds for seconds, _ in joins))
            await asyncio.gather(*(guest.leave() for _, guest in joins))
        await host.close()
    return {"single": singles, "crowd_all_open": crowds}


async def repeat(times: int, make: Callable[[], Awaitable[float]]) -> list[float]:
    return [await make() for _ in range(times)]


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


async def run(rounds: int, crowd: int) -> dict[str, Any]:
    install_address_allow_list(LOOPBACK.allowed_addresses)
    await bare_handshake()  # warm-up: imports, first certificate
    bare = await repeat(rounds, bare_handshake)
    ours = await measure_lobby(rounds, crowd)
    bare_ms = statistics.median(bare) * 1000
    single_ms = statistics.median(ours["single"]) * 1000
    return {
        "bare_median_ms": bare_ms,
        "bare_p95_ms": p95(bare) * 1000,
        "one_guest_median_ms": single_ms,
        "one_guest_p95_ms": p95(ours["single"]) * 1000,
        "ratio_median": single_ms / bare_ms,
        "crowd": crowd,
        "crowd_all_open_median_ms": statistics.median(ours["crowd_all_open"]) * 1000,
        "crowd_all_open_worst_ms": max(ours["crowd_all_open"]) * 1000,
    }


def table(result: dict[str, Any]) -> str:
    crowd = result["crowd"]
    ratio_ok = "PASS" if result["ratio_median"] <= 2.0 else "FAIL"
    crowd_ok = "PASS" if result["crowd_all_open_worst_ms"] <= 2000 else "FAIL"
    return "\n".join(
        [
            "| measure | median ms | p95 / worst ms | target |",
            "|---|---|---|---|",
            f"| bare aiortc handshake (baseline) | {result['bare_median_ms']:.1f} | "
            f"{result['bare_p95_ms']:.1f} | |",
            f"| 1 guest: join_lobby to lobby open | {result['one_guest_median_ms']:.1f} | "
            f"{result['one_guest_p95_ms']:.1f} | <= 2x baseline: "
            f"{result['ratio_median']:.2f}x {ratio_ok} |",
            f"| {crowd} guests at once: all open | {result['crowd_all_open_median_ms']:.1f} | "
            f"{result['crowd_all_open_worst_ms']:.1f} | <= 2000 ms: {crowd_ok} |",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="joins measured one at a time")
    parser.add_argument("--crowd", type=int, default=16, help="guests joining at once")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    result = asyncio.run(run(args.rounds, args.crowd))
    print(table(result))
    if args.json:
        with open(args.json, "w") as file:
            json.dump(result, file, indent=2)


if __name__ == "__main__":
    main()
