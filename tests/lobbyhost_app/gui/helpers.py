"""Waiting on Qt state from coroutines, the real window, real aiortc guests on loopback."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QSettings, Qt, SignalInstance
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from lobbyhost_app.app import AppParts, build, shutdown
from lobbyhost_app.controllers.host_controller import HostController, HostOverrides, HostState
from lobbyhost_app.net.guest import GuestEvent, GuestPhase, GuestSession, GuestStatus
from lobbyhost_app.net.ice import IceSettings
from lobbyhost_app.net.link import LinkState
from lobbyhost_app.net.signalling import SignallingClient
from lobbyhost_app.views.host_view import HostView
from signalling_server import Timeouts
from tests.lobbyhost_app.net.recorder import Recorder
from tests.timeouts import scaled

LOOPBACK = IceSettings(allowed_addresses=("127.0.0.1",))


async def wait_until(
    condition: Callable[[], bool], *signals: SignalInstance, within: float = 10.0
) -> None:
    """Until ``condition()`` holds, checked now and whenever one of ``signals`` fires."""
    if condition():
        return
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def check(*_: Any) -> None:
        if not done.done() and condition():
            done.set_result(None)

    for signal in signals:
        signal.connect(check)
    try:
        async with asyncio.timeout(scaled(within)):
            await done
    except TimeoutError:
        raise AssertionError(f"condition not met within {scaled(within)} s") from None
    finally:
        for signal in signals:
            signal.disconnect(check)


def phase_is(wanted: GuestPhase) -> Callable[[GuestEvent], bool]:
    return lambda event: isinstance(event, GuestStatus) and event.phase is wanted


class RealGuest:
    """A guest from the net layer (GuestSession + SignallingClient) on loopback ICE."""

    def __init__(self, url: str, *, reconnect: bool = False) -> None:
        """With ``reconnect`` its signalling comes back at once after a drop and resumes."""
        self.signalling = SignallingClient(url, reconnect=reconnect, backoff=(0.05, 0.2))
        self.events: Recorder[GuestEvent] = Recorder()
        self.session: GuestSession | None = None

    async def join(self, code: str, name: str) -> GuestSession:
        await self.signalling.connect()
        self.session = GuestSession(self.signalling, LOOPBACK, ping_interval=0.5)
        self.session.add_listener(self.events)
        await self.session.join(code, name)
        return self.session

    async def wait_phase(self, phase: GuestPhase, within: float = 10.0) -> GuestStatus:
        status = await self.events.wait_for(phase_is(phase), within)
        assert isinstance(status, GuestStatus)
        return status

    async def close(self) -> None:
        """Leave if still in, and close the peer link and the socket."""
        if self.session is not None:
            await self.session.leave()
        await self.signalling.close()


@contextlib.asynccontextmanager
async def running_app(
    store: QSettings, *, overrides: HostOverrides | None = None
) -> AsyncIterator[AppParts]:
    """The real main window, shown (offscreen), with its controllers; shut down on exit.

    ``overrides`` are what ``lobbyhost`` would take from its command line.
    """
    parts = build(store, overrides=overrides)
    parts.window.show()
    try:
        yield parts
    finally:
        await shutdown(parts)
        parts.window.allow_close()
        parts.window.close()
        parts.window.deleteLater()


@dataclass
class Hosting:
    """An open lobby in the real window, and the guests a test adds to it."""

    qtbot: QtBot
    parts: AppParts
    guests: list[RealGuest] = field(default_factory=list)

    @property
    def view(self) -> HostView:
        return self.parts.window.host_view

    @property
    def controller(self) -> HostController:
        return self.parts.host

    @property
    def url(self) -> str:
        assert self.controller.server_url is not None
        return self.controller.server_url

    @property
    def code(self) -> str:
        assert self.controller.code is not None
        return self.controller.code

    def click(self, widget: QWidget) -> None:
        self.qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)

    def close_lobby(self) -> None:
        """Click Close lobby, and confirm in the question asked while guests are connected."""
        self.click(self.view.close_button)
        question = self.view.close_confirmation
        if question is not None:
            self.click(question.confirm_button)

    def new_guest(self, *, reconnect: bool = False) -> RealGuest:
        guest = RealGuest(self.url, reconnect=reconnect)
        self.guests.append(guest)
        return guest

    async def add_guest(self, name: str, *, reconnect: bool = False) -> RealGuest:
        """A real guest asks to join; returns once its card is on screen."""
        guest = self.new_guest(reconnect=reconnect)
        await guest.join(self.code, name)
        cards = self.view.request_list
        await wait_until(
            lambda: any(card.name_label.text() == name for card in cards.cards),
            self.controller.requests.rowsInserted,
        )
        return guest

    async def accept_first(self, guest: RealGuest) -> None:
        """Click Accept on the first card; wait for the guest and its row to be connected."""
        self.click(self.view.request_list.cards[0].accept_button)
        await guest.wait_phase(GuestPhase.CONNECTED)
        model = self.controller.peers
        await wait_until(
            lambda: any(peer.stats.state is LinkState.CONNECTED for peer in model.peers()),
            model.rowsInserted,
            model.dataChanged,
        )


@contextlib.asynccontextmanager
async def hosting(
    qtbot: QtBot, store: QSettings, *, timeouts: Timeouts | None = None
) -> AsyncIterator[Hosting]:
    """The window after a click on Open lobby (embedded server on 127.0.0.1, port 0).

    ``timeouts`` shortens the embedded server's timers (grace periods, request timeout).
    """
    async with running_app(store) as parts:
        harness = Hosting(qtbot, parts)
        if timeouts is not None:
            parts.host.server_timeouts = timeouts
        try:
            harness.click(harness.view.open_button)
            await wait_until(lambda: parts.host.state is HostState.OPEN, parts.host.state_changed)
            yield harness
        finally:
            for guest in harness.guests:
                await guest.close()
