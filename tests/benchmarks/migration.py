"""Host migration: how fast the star re-forms around a promoted guest, against fresh joins.

Run: ``.venv/bin/python -m tests.benchmarks.migration [--rounds N] [--guests N] [--json PATH]``

Everything runs in one process on loopback (ICE restricted to 127.0.0.1, no ICE
servers), on one signalling server. Each round measures, for ``--guests``
guests (8 by default):

- baseline: a fresh lobby (auto-accept host) that all of them join at once,
  from ``join_lobby`` sent to the last guest's lobby channel open;
- re-forming: a migratable lobby with one more guest, whose host hands over to
  that guest; from the promoted guest receiving its promotion (``promoted``,
  delivered with its ``host_migrated``) to the last other guest's lobby channel
  open again, to the new host;
- planned hand-over end to end: from the host sending ``hand_over`` to the same
  moment;
- planned hand-over with embedded servers end to end: the host's own server
  goes with it, so the lobby moves to the successor's own embedded server
  (:mod:`lobbyhost_app.net.relocation`); from the host asking the successor to
  the last guest's lobby channel open on the new server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

from lobbyhost_app.net.guest import GuestPhase, GuestSession, GuestStatus
from lobbyhost_app.net.host import HostSession
from lobbyhost_app.net.hosting import HostingOptions, HostingService
from lobbyhost_app.net.ice import IceSettings, install_address_allow_list
from lobbyhost_app.net.migration import take_over
from lobbyhost_app.net.relocation import host_moved_lobby, move_to_successor
from lobbyhost_app.net.relocation_messages import HostRequest
from lobbyhost_app.net.signalling import SignallingClient
from lobbyhost_app.session_values import HostChanged, JoinRequested
from signalling_server import Limits, ServerConfig, SignallingServer, serve
from signalling_server.protocol import Promoted

LOOPBACK = IceSettings(allowed_addresses=("127.0.0.1",))
TIMEOUT_S = 60


class Guest:
    """A guest session that records when its lobby channel opens, and follows migrations."""

    def __init__(self, session: GuestSession) -> None:
        self.session = session
        self.connected: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.reconnected: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.promoted_at: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.host: HostSession | None = None
        self._moving = False
        session.add_listener(self._on_event)
        session.on_promoted = self._on_promoted

    def _on_event(self, event: object) -> None:
        if isinstance(event, HostChanged) or (
            isinstance(event, GuestStatus) and event.phase is GuestPhase.HOST_AWAY
        ):
            self._moving = True
        elif isinstance(event, GuestStatus) and event.phase is GuestPhase.CONNECTED:
            target = self.reconnected if self._moving else self.connected
            if not target.done():
                target.set_result(time.perf_counter())
        elif isinstance(event, GuestStatus) and event.phase is GuestPhase.FAILED:
            for future in (self.connected, self.reconnected):
                if not future.done():
                    future.set_exception(RuntimeError(f"guest failed: {event}"))

    def _on_promoted(self, promoted: Promoted) -> None:
        self.promoted_at.set_result(time.perf_counter())
        self.host = take_over(self.session, promoted, auto_accept=True)

    async def close(self) -> None:
        if self.host is not None:
            await self.host.close()
        else:
            await self.session.leave()


async def new_guest(url: str) -> Guest:
    signalling = SignallingClient(url)
    await signalling.connect()
    return Guest(GuestSession(signalling, LOOPBACK))


async def open_host(url: str, *, migratable: bool) -> tuple[HostSession, str]:
    signalling = SignallingClient(url)
    await signalling.connect()
    host = HostSession(signalling, LOOPBACK, auto_accept=True)
    opened = await host.start(max_guests=64, migratable=migratable)
    return host, opened.lobby_id


async def fresh_joins(server: SignallingServer, count: int) -> float:
    """Seconds from the first join_lobby to the last of ``count`` guests' channel open."""
    host, code = await open_host(server.url, migratable=False)
    guests = [await new_guest(server.url) for _ in range(count)]
    start = time.perf_counter()
    await asyncio.gather(*(g.session.join(code, f"g{i}") for i, g in enumerate(guests)))
    async with asyncio.timeout(TIMEOUT_S):
        opened = await asyncio.gather(*(g.connected for g in guests))
    for guest in guests:
        await guest.close()
    await host.close()
    return max(opened) - start


async def hand_over(server: SignallingServer, count: int) -> tuple[float, float]:
    """(promotion to all reconnected, hand_over sent to all reconnected), in seconds."""
    host, code = await open_host(server.url, migratable=True)
    joined: asyncio.Queue[str] = asyncio.Queue()
    host.add_listener(
        lambda e: joined.put_nowait(e.connection_id) if isinstance(e, JoinRequested) else None
    )
    successor = await new_guest(server.url)
    await successor.session.join(code, "next host")
    successor_id = await joined.get()
    others = [await new_guest(server.url) for _ in range(count)]
    await asyncio.gather(*(g.session.join(code, f"m{i}") for i, g in enumerate(others)))
    async with asyncio.timeout(TIMEOUT_S):
        await asyncio.gather(successor.connected, *(g.connected for g in others))
    start = time.perf_counter()
    await host.hand_over(successor_id)
    async with asyncio.timeout(TIMEOUT_S):
        promoted_at = await successor.promoted_at
        reopened = await asyncio.gather(*(g.reconnected for g in others))
    for guest in (*others, successor):
        await guest.close()
    await host.close(close_lobby=False)
    return max(reopened) - promoted_at, max(reopened) - start


async def moved_hand_over(count: int) -> float:
    """Seconds from asking the successor to host to ``count`` guests open on its own server."""
    options = HostingOptions(listen_host="127.0.0.1", listen_port=0, ice=LOOPBACK, auto_accept=True)
    old = HostingService(options)
    joined: asyncio.Queue[str] = asyncio.Queue()
    old.add_listener(
        lambda e: joined.put_nowait(e.connection_id) if isinstance(e, JoinRequested) else None
    )
    await old.start()
    opened = await old.open_lobby(max_guests=64, migratable=True)
    assert old.server is not None
    url = old.server.url
    successor = await new_guest(url)
    services: list[HostingService] = []

    async def host_here(request: HostRequest) -> None:
        services.append(await host_moved_lobby(successor.session, request, options))

    tasks: list[asyncio.Task[None]] = []
    successor.session.on_host_request = lambda r: tasks.append(asyncio.create_task(host_here(r)))
    await successor.session.join(opened.lobby_id, "next host")
    successor_id = await joined.get()
    others = [await new_guest(url) for _ in range(count)]
    await asyncio.gather(*(g.session.join(opened.lobby_id, f"e{i}") for i, g in enumerate(others)))
    async with asyncio.timeout(TIMEOUT_S):
        await asyncio.gather(successor.connected, *(g.connected for g in others))
    start = time.perf_counter()
    await move_to_successor(old.session, successor_id, lobby_name="moved", max_guests=64)
    async with asyncio.timeout(TIMEOUT_S):
        reopened = await asyncio.gather(*(g.reconnected for g in others))
    await old.stop()
    for guest in others:
        await guest.close()
    for service in services:
        await service.stop()
    return max(reopened) - start


async def run(rounds: int, count: int) -> dict[str, Any]:
    install_address_allow_list(LOOPBACK.allowed_addresses)
    limits = Limits(
        joins_per_address_per_minute=100_000,
        lobbies_per_address=100_000,
        default_max_guests=64,
        pending_per_lobby=64,
        password_hash_iterations=1,
    )
    fresh: list[float] = []
    reform: list[float] = []
    end_to_end: list[float] = []
    moved: list[float] = []
    async with serve(ServerConfig(port=0, limits=limits)) as server:
        await fresh_joins(server, 1)  # warm-up: imports, first certificates
        for _ in range(rounds):
            # Interleaved, so both see the same machine load.
            fresh.append(await fresh_joins(server, count))
            promoted, whole = await hand_over(server, count)
            reform.append(promoted)
            end_to_end.append(whole)
            moved.append(await moved_hand_over(count))
    fresh_ms = statistics.median(fresh) * 1000
    reform_ms = statistics.median(reform) * 1000
    return {
        "guests": count,
        "rounds": rounds,
        "fresh_join_median_ms": fresh_ms,
        "fresh_join_worst_ms": max(fresh) * 1000,
        "reform_median_ms": reform_ms,
        "reform_worst_ms": max(reform) * 1000,
        "ratio_median": reform_ms / fresh_ms,
        "ratio_worst": max(reform) / max(fresh),
        "hand_over_median_ms": statistics.median(end_to_end) * 1000,
        "hand_over_worst_ms": max(end_to_end) * 1000,
        "moved_median_ms": statistics.median(moved) * 1000,
        "moved_worst_ms": max(moved) * 1000,
    }


def table(result: dict[str, Any]) -> str:
    n = result["guests"]
    ratio_ok = "PASS" if result["ratio_median"] <= 1.5 else "FAIL"
    hand_ok = "PASS" if result["hand_over_worst_ms"] < 2000 else "FAIL"
    moved_ok = "PASS" if result["moved_worst_ms"] < 2000 else "FAIL"
    return "\n".join(
        [
            "| measure | median ms | worst ms | target |",
            "|---|---|---|---|",
            f"| fresh lobby, {n} guests join at once: all open (baseline) | "
            f"{result['fresh_join_median_ms']:.1f} | {result['fresh_join_worst_ms']:.1f} | |",
            f"| promoted host's host_migrated to {n} guests open again | "
            f"{result['reform_median_ms']:.1f} | {result['reform_worst_ms']:.1f} | "
            f"<= 1.5x baseline: {result['ratio_median']:.2f}x median, "
            f"{result['ratio_worst']:.2f}x worst {ratio_ok} |",
            f"| planned hand-over end to end, {n} guests | "
            f"{result['hand_over_median_ms']:.1f} | {result['hand_over_worst_ms']:.1f} | "
            f"< 2000 ms: {hand_ok} |",
            f"| planned hand-over to the successor's own server, {n} guests | "
            f"{result['moved_median_ms']:.1f} | {result['moved_worst_ms']:.1f} | "
            f"< 2000 ms: {moved_ok} |",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="rounds of each measure")
    parser.add_argument("--guests", type=int, default=8, help="guests that (re)connect")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    result = asyncio.run(run(args.rounds, args.guests))
    print(table(result))
    if args.json:
        with open(args.json, "w") as file:
            json.dump(result, file, indent=2)


if __name__ == "__main__":
    main()
