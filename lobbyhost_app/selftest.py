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

from .errors import LobbyHostError
from .net.clock import SYSTEM_CLOCK, Clock, within
from .net.errors import connect_problem
from .net.guest import GuestSession
from .net.hosting import HostingOptions, HostingService
from .net.ice import IceSettings, address_allow_list
from .net.signalling import SignallingClient
from .session_values import (
    ChatReceived,
    GuestChat,
    GuestEvent,
    GuestPhase,
    GuestStatus,
    HostEvent,
)

LOOPBACK = IceSettings(allowed_addresses=("127.0.0.1",))


@dataclass(frozen=True, slots=True)
class SelfTestResult:
    ok: bool
    line: str


class SelfTestFailed(LobbyHostError):
    """A step of the self-test did not happen; the message says which."""


async def run_self_test(
    *, ice: IceSettings = LOOPBACK, step_timeout: float = 10.0, clock: Clock = SYSTEM_CLOCK
) -> SelfTestResult:
    """Run every step; the result's line says what passed and how long it took.

    ICE gathers on ``ice``'s allow-list while it runs (loopback by default). A step
    fails when it has not happened ``step_timeout`` seconds on ``clock`` after it began.
    """
    started = time.perf_counter()
    try:
        with address_allow_list(ice.allowed_addresses):
            steps = await _steps(ice, step_timeout, clock)
    except LobbyHostError as exc:
        return SelfTestResult(False, f"self-test FAILED: {exc}")
    except OSError as exc:  # in words, never the system's errno text
        problem = connect_problem(exc)
        return SelfTestResult(False, f"self-test FAILED: the network refused: {problem}")
    total_ms = (time.perf_counter() - started) * 1000
    done = ", ".join(f"{name} {ms:.0f} ms" for name, ms in steps)
    return SelfTestResult(True, f"self-test passed in {total_ms:.0f} ms: {done}")


async def _steps(ice: IceSettings, step_timeout: float, timer: Clock) -> list[tuple[str, float]]:
    steps: list[tuple[str, float]] = []
    clock = time.perf_counter()

    def passed(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        steps.append((name, (now - clock) * 1000))
        clock = now

    async def expect(what: str, future: asyncio.Future[object]) -> None:
        try:
            await within(timer, step_timeout, future)
        except TimeoutError:
            raise SelfTestFailed(f"{what} did not happen within {step_timeout:.0f} s") from None

    loop = asyncio.get_running_loop()
    options = HostingOptions(
        listen_host="127.0.0.1", listen_port=0, ice=ice, auto_accept=True, reconnect=False
    )
    hosting = HostingService(options)
    guest_signalling: SignallingClient | None = None
    guest: GuestSession | None = None
    try:
        await hosting.start()
        passed("server started")
        assert hosting.client_url is not None
        guest_signalling = SignallingClient(hosting.client_url, reconnect=False)
        await guest_signalling.connect()
        guest = GuestSession(guest_signalling, ice)
        host_chat: asyncio.Future[object] = loop.create_future()
        guest_chat: asyncio.Future[object] = loop.create_future()
        connected: asyncio.Future[object] = loop.create_future()
        hosting.add_listener(_when(host_chat, lambda e: isinstance(e, ChatReceived)))
        guest.add_listener(_when(guest_chat, lambda e: isinstance(e, GuestChat)))
        guest.add_listener(_guest_progress(connected))
        opened = await hosting.open_lobby(display_name="Self-test host")
        passed("lobby opened")
        await guest.join(opened.lobby_id, "Self-test guest")
        await expect("the WebRTC connection", connected)
        passed("guest accepted and connected over 127.0.0.1")
        guest.send_chat("hello host")
        await expect("chat from guest to host", host_chat)
        hosting.session.send_chat("hello guest")
        await expect("chat from host to guest", guest_chat)
        passed("chat both ways")
    finally:
        if guest is not None:
            await guest.leave()
        elif guest_signalling is not None:
            await guest_signalling.close()
        await hosting.stop()
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
