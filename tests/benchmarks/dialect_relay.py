"""What a Bellhop relay costs the server next to a native one: CPU per ICE candidate, host to guest.

Run from the repository root (about twenty seconds)::

    .venv/bin/python -m tests.benchmarks.dialect_relay
    .venv/bin/python -m tests.benchmarks.dialect_relay --pairs 40 --messages 500 --repetitions 9

One server subprocess (``python -m signalling_server`` on 127.0.0.1, its
per-connection and per-address limits raised so that they never refuse the
benchmark; the limiter still runs on every frame) serves both dialects. This
process opens ``--pairs`` native pairs at ``/`` and as many Bellhop pairs at
``/bellhop`` (a host with one accepted guest each, over real websockets on
loopback) and then, in interleaved repetitions (native, Bellhop, Bellhop,
native, ...), has every host send ``--messages`` ICE candidates to its guest,
all pairs at once, and waits until every guest has them all. The server's CPU
time (utime + stime from ``/proc/PID/stat``) over a repetition divided by the
candidates relayed is its cost per message; the table gives the medians and
the Bellhop/native ratio. The same Chrome-shaped candidate line goes both
ways: in ``candidate`` for native, flattened into ``media``, ``index`` and
``name`` for Bellhop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from .relay.process_resources import cpu_seconds
from .relay.servers import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
LINE = (
    "candidate:842163049 1 udp 1677729535 127.0.0.1 54321 typ srflx raddr 0.0.0.0 rport 0"
    " generation 0 ufrag abcd network-cost 999"
)
#: Seconds any one step may take before the benchmark gives up.
STEP_TIMEOUT = 60.0


@dataclass
class Pair:
    """A host and its accepted guest, and the frame the host relays to the guest."""

    host: ClientConnection
    guest: ClientConnection
    frame: str


async def _open(url: str) -> ClientConnection:
    return await connect(url, proxy=None, compression=None, open_timeout=STEP_TIMEOUT)


async def _event(ws: ClientConnection, name: str) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await ws.recv())
    if message.get("event") != name:
        raise RuntimeError(f"expected {name}, got {message}")
    content: dict[str, Any] = message["content"]
    return content


def _send(ws: ClientConnection, action: str, **content: Any) -> Any:
    return ws.send(json.dumps({"action": action, "content": content}))


async def native_pair(port: int) -> Pair:
    host, guest = await _open(f"ws://{HOST}:{port}/"), await _open(f"ws://{HOST}:{port}/")
    await _send(host, "start_lobby")
    code = (await _event(host, "lobby_started"))["lobby_id"]
    await _send(guest, "join_lobby", lobby_id=code)
    await _event(guest, "join_requested")
    guest_id = (await _event(host, "request_to_join"))["connection_id"]
    await _send(host, "accept_request", connection_id=guest_id)
    await _event(guest, "request_accepted")
    await _event(host, "guest_accepted")
    candidate = {"candidate": LINE, "sdpMid": "0", "sdpMLineIndex": 0}
    frame = {
        "action": "send_ice_candidate",
        "content": {"connection_id": guest_id, "candidate": candidate},
    }
    return Pair(host, guest, json.dumps(frame))


async def bellhop_pair(port: int) -> Pair:
    url = f"ws://{HOST}:{port}/bellhop/production"
    host, guest = await _open(url), await _open(url)
    await _send(host, "start_lobby")
    lobby_id = (await _event(host, "lobby_started"))["lobby_id"]
    await _send(guest, "join_lobby", lobby_id=lobby_id)
    guest_id = (await _event(host, "received_join_request"))["connection_id"]
    await _send(host, "accept_join_request", player_connection_id=guest_id, player_peer_id=2)
    await _event(guest, "join_request_accepted")
    content = {"connection_id": guest_id, "media": "0", "index": 0, "name": LINE}
    return Pair(host, guest, json.dumps({"action": "send_ice_candidate", "content": content}))


async def relay_round(pairs: Sequence[Pair], messages: int) -> None:
    """Every host sends ``messages`` candidates to its guest; returns once every guest has them."""

    async def one_pair(pair: Pair) -> None:
        async def send() -> None:
            for _ in range(messages):
                await pair.host.send(pair.frame)

        async def receive() -> None:
            last: str | bytes = ""
            for _ in range(messages):
                last = await pair.guest.recv()
            if '"received_ice_candidate"' not in str(last):
                raise RuntimeError(f"unexpected frame: {last!r}")

        await asyncio.gather(send(), receive())

    async with asyncio.timeout(STEP_TIMEOUT):
        await asyncio.gather(*(one_pair(pair) for pair in pairs))


async def measure(
    pairs: int, messages: int, repetitions: int, report: Callable[[str], None]
) -> dict[str, list[float]]:
    """Server CPU microseconds per relayed candidate, per repetition, for each dialect."""
    # Limits raised so they never refuse the benchmark; the limiter still runs on every frame.
    big = "1000000"
    limits = ["--actions-per-second", big, "--action-burst", big]
    limits += ["--lobbies-per-address", big, "--joins-per-address-per-minute", big]
    logs = tempfile.TemporaryDirectory(prefix="dialect-relay-")
    server = ServerProcess("ours", limits, Path(logs.name))
    opened: list[Pair] = []
    try:
        groups = {
            "native": [await native_pair(server.port) for _ in range(pairs)],
            "bellhop": [await bellhop_pair(server.port) for _ in range(pairs)],
        }
        opened = [*groups["native"], *groups["bellhop"]]
        for group in groups.values():  # warm-up, not counted
            await relay_round(group, messages // 4 or 1)
        results: dict[str, list[float]] = {name: [] for name in groups}
        for repetition in range(repetitions):
            order = ("native", "bellhop") if repetition % 2 == 0 else ("bellhop", "native")
            for name in order:
                before = cpu_seconds(server.pid)
                await relay_round(groups[name], messages)
                used = cpu_seconds(server.pid) - before
                per_message = 1e6 * used / (pairs * messages)
                results[name].append(per_message)
                report(f"  repetition {repetition + 1} {name:8} {per_message:6.2f} us/msg")
        return results
    finally:
        for pair in opened:
            await pair.host.close()
            await pair.guest.close()
        server.stop()
        logs.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pairs", type=int, default=30, help="host/guest pairs per dialect")
    parser.add_argument("--messages", type=int, default=2000, help="candidates per host per round")
    parser.add_argument("--repetitions", type=int, default=7, help="rounds per dialect")
    args = parser.parse_args(argv)
    total = args.pairs * args.messages
    print(
        f"{args.pairs} pairs per dialect, {total} candidates per round, {args.repetitions} rounds each"
    )
    results = asyncio.run(measure(args.pairs, args.messages, args.repetitions, print))
    native = statistics.median(results["native"])
    bellhop = statistics.median(results["bellhop"])
    print()
    print("| relay (host -> guest ICE candidate) | server CPU per message, median | range |")
    print("|---|---|---|")
    for name, median in (
        ("native `send_ice_candidate`", native),
        ("Bellhop `send_ice_candidate`", bellhop),
    ):
        values = results["native" if name.startswith("native") else "bellhop"]
        print(f"| {name} | {median:.2f} us | {min(values):.2f}-{max(values):.2f} us |")
    print(f"\nBellhop / native: {bellhop / native:.2f}x (target <= 1.2x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
