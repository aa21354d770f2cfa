"""``lobbyhost --self-test``: the whole path, on this machine, in a few seconds.

Starts the embedded server on 127.0.0.1, opens a lobby, lets an in-process
guest join, auto-accepts it, completes the WebRTC handshake over 127.0.0.1 and
sends a chat message each way. Needs no display and no network beyond loopback.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from signalling_server import ServerConfig, serve

from .errors import LobbyHostError
from .net.guest import GuestChat, GuestEvent, GuestPhase, GuestSession, GuestStatus
from .net.host import ChatReceived, HostEvent, HostSession
from .net.ice import IceSettings
from .net.signalling import SignallingClient

LOOPBACK = IceSettings(allowed_addresses=("127.0.0.1",))


@dataclass(frozen=True, slots=True)
class SelfTestResult:
    ok: bool
    line: str


class SelfTestFailed(LobbyHostError):
    """A step of the self-test did not happen; the message says which."""


async def run_self_test(
    *, ice: IceSettings = LOOPBACK, step_timeout: float = 10.0
) -> SelfTestResult:
    """Run every step; the result's line says what passed and how long it took."""
    started = time.perf_counter()
    try:
        steps = await _steps(ice, step_timeout)
    except (LobbyHostError, OSError) as exc:
        return SelfTestResult(False, f"self-test FAILED: {exc}")
    total_ms = (time.perf_counter() - started) * 1000
    done = ", ".join(f"{name} {ms:.0f} ms" for name, ms in steps)
    return SelfTestResult(True, f"self-test passed in {total_ms:.0f} ms: {done}")


async def _steps(ice: IceSettings, step_timeout: float) -> list[tuple[str, float]]:
    steps: list[tuple[str, float]] = []
    clock = time.perf_counter()

    def passed(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        steps.append((name, (now - clock) * 1000))
        clock = now

    async def within(what: str, future: asyncio.Future[object]) -> None:
        try:
            async with asyncio.timeout(step_timeout):
                await future
        except TimeoutError:
            raise SelfTestFailed(f"{what} did not happen within {step_timeout:.0f} s") from None

    loop = asyncio.get_running_loop()
    async with serve(ServerConfig(host="127.0.0.1", port=0)) as server:
        passed("server started")
        host_signalling = SignallingClient(server.url, reconnect=False)
        guest_signalling = SignallingClient(server.url, reconnect=False)
        await host_signalling.connect()
        await guest_signalling.connect()
        host = HostSession(host_signalling, ice, auto_accept=True)
        guest = GuestSession(guest_signalling, ice)
        try:
            host_chat: asyncio.Future[object] = loop.create_future()
            guest_chat: asyncio.Future[object] = loop.create_future()
            connected: asyncio.Future[object] = loop.create_future()
            host.add_listener(_when(host_chat, lambda e: isinstance(e, ChatReceived)))
            guest.add_listener(_when(guest_chat, lambda e: isinstance(e, GuestChat)))
            guest.add_listener(_guest_progress(connected))
            opened = await host.start(display_name="Self-test host")
            passed("lobby opened")
            await guest.join(opened.lobby_id, "Self-test guest")
            await within("the WebRTC connection", connected)
            passed("guest accepted and connected over 127.0.0.1")
            guest.send_chat("hello host")
            await within("chat from guest to host", host_chat)
            host.send_chat("hello guest")
            await within("chat from host to guest", guest_chat)
            passed("chat both ways")
        finally:
            await guest.leave()
            await host.close()
    return steps


def _when(
    future: asyncio.Future[object], matches: Callable[[HostEvent | GuestEvent], bool]
) -> Callable[[HostEvent | GuestEvent], None]:
    def listener(event: HostEvent | GuestEvent) -> None:
        if matches(event) and not future.done():
            future.set_result(event)

    return listener


def _guest_progress(connected: asyncio.Future[object]) -> Callable[[GuestEvent], None]:
    def listener(event: GuestEvent) -> None:
        if not isinstance(event, GuestStatus) or connected.done():
            return
        if event.phase is GuestPhase.CONNECTED:
            connected.set_result(event)
        elif event.phase in (GuestPhase.FAILED, GuestPhase.REJECTED, GuestPhase.HOST_LEFT):
            connected.set_exception(SelfTestFailed(f"the guest could not connect: {event.detail}"))

    return listener
