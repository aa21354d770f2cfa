"""Join mode through the real window against a real host (HostSession) in the same loop."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from lobbyhost_app.app import AppParts
from lobbyhost_app.net.host import HostSession
from lobbyhost_app.net.signalling import SignallingClient
from lobbyhost_app.session_values import (
    ChatReceived,
    GuestPhase,
    GuestStatus,
    HostEvent,
    JoinRequested,
)
from lobbyhost_app.views.join_view import JoinView, describe_status
from signalling_server import ServerConfig, serve
from signalling_server.protocol import CloseReason, KickReason, RejectReason
from tests.lobbyhost_app.net.recorder import Recorder

from .helpers import LOOPBACK, running_app, wait_until


@dataclass
class RealHost:
    session: HostSession
    events: Recorder[HostEvent]
    url: str
    code: str


@contextlib.asynccontextmanager
async def real_host(
    *, auto_accept: bool, handshake_timeout: float = 20.0
) -> AsyncIterator[RealHost]:
    """A server on 127.0.0.1 and a lobby hosted by the net layer's HostSession."""
    async with serve(ServerConfig(host="127.0.0.1", port=0)) as server:
        signalling = SignallingClient(server.url, reconnect=False)
        await signalling.connect()
        session = HostSession(
            signalling,
            LOOPBACK,
            auto_accept=auto_accept,
            ping_interval=0.5,
            handshake_timeout=handshake_timeout,
        )
        events: Recorder[HostEvent] = Recorder()
        session.add_listener(events)
        try:
            opened = await session.start(name="Ann's lobby", display_name="Ann")
            yield RealHost(session, events, server.url, opened.lobby_id)
        finally:
            await session.close()


def show_join_tab(qtbot: QtBot, parts: AppParts) -> JoinView:
    """Click the window's Join tab."""
    bar = parts.window.tabs.tabBar()
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(1).center())
    assert parts.window.tabs.currentWidget() is parts.window.join_view
    return parts.window.join_view


def fill_and_join(qtbot: QtBot, view: JoinView, server: str, code: str, name: str) -> None:
    """Type into the form as a person would, then click Join."""
    for edit, text in ((view.server_edit, server), (view.code_edit, code), (view.name_edit, name)):
        edit.clear()
        qtbot.keyClicks(edit, text)
    qtbot.mouseClick(view.join_button, Qt.MouseButton.LeftButton)


async def wait_phase(parts: AppParts, phase: GuestPhase) -> None:
    guest = parts.guest
    await wait_until(lambda: guest.status.phase is phase, guest.status_changed)


async def test_join_connects_shows_rtt_and_chats_both_ways(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """Join with server, code and name: connected with an RTT, chat both ways, then lobby closed."""
    async with real_host(auto_accept=True) as host, running_app(settings_store) as parts:
        view = show_join_tab(qtbot, parts)
        fill_and_join(qtbot, view, host.url, host.code, "Zoe")
        await wait_phase(parts, GuestPhase.CONNECTED)
        assert view.status_label.text() == "Connected to Ann's lobby."
        await wait_until(lambda: "ms" in view.rtt_label.text(), parts.guest.rtt_measured)
        assert not view.join_button.isEnabled() and view.leave_button.isEnabled()

        qtbot.keyClicks(view.log_panel.chat_input, "hello host")
        qtbot.mouseClick(view.log_panel.send_button, Qt.MouseButton.LeftButton)
        chat = await host.events.wait_for(lambda e: isinstance(e, ChatReceived))
        assert isinstance(chat, ChatReceived) and (chat.name, chat.text) == ("Zoe", "hello host")
        host.session.send_chat("welcome Zoe")
        await wait_until(
            lambda: "Host: welcome Zoe" in view.log_panel.plain_text(), parts.guest.chat_received
        )

        await host.session.close()
        await wait_phase(parts, GuestPhase.LOBBY_CLOSED)
        assert view.status_label.text() == "The host closed the lobby."
        await wait_until(lambda: view.join_button.isEnabled(), parts.guest.active_changed)


async def test_an_invite_link_in_the_server_field_fills_the_code(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """Pasting the whole invite link is enough to join; Leave then tells the host."""
    async with real_host(auto_accept=True) as host, running_app(settings_store) as parts:
        view = show_join_tab(qtbot, parts)
        invite = f"{host.url.replace('ws:', 'http:')}join/{host.code}"
        QGuiApplication.clipboard().setText(invite)
        qtbot.keyClick(view.server_edit, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
        assert view.server_edit.text() == invite
        assert view.code_edit.text() == host.code
        qtbot.mouseClick(view.join_button, Qt.MouseButton.LeftButton)
        await wait_phase(parts, GuestPhase.CONNECTED)
        qtbot.mouseClick(view.leave_button, Qt.MouseButton.LeftButton)
        await wait_phase(parts, GuestPhase.LEFT)
        assert view.status_label.text() == "You left the lobby."


async def test_rejection_shows_the_hosts_reason(qtbot: QtBot, settings_store: QSettings) -> None:
    """A host's reject reason is shown in the status line."""
    async with real_host(auto_accept=False) as host, running_app(settings_store) as parts:
        view = show_join_tab(qtbot, parts)
        fill_and_join(qtbot, view, host.url, host.code, "Zoe")
        await wait_phase(parts, GuestPhase.WAITING)
        assert "Waiting for the host of Ann's lobby" in view.status_label.text()
        request = await host.events.wait_for(lambda e: isinstance(e, JoinRequested))
        assert isinstance(request, JoinRequested)
        await host.session.reject(request.connection_id, "friends only tonight")
        await wait_phase(parts, GuestPhase.REJECTED)
        assert view.status_label.text() == (
            "The host turned down your request: friends only tonight."
        )


async def test_wrong_code_and_unreachable_server_are_readable(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """'Lobby not found' and 'cannot reach' reach the user as sentences, not tracebacks."""
    async with real_host(auto_accept=True) as host, running_app(settings_store) as parts:
        view = show_join_tab(qtbot, parts)
        fill_and_join(qtbot, view, host.url, "ZZZZZZ", "Zoe")
        await wait_until(view.error_banner.isVisible, parts.guest.error_occurred)
        assert "No lobby with code" in view.error_banner.text()
        await wait_until(lambda: view.join_button.isEnabled(), parts.guest.active_changed)

        with socket.socket() as probe:  # a port with nobody listening
            probe.bind(("127.0.0.1", 0))
            closed_port = probe.getsockname()[1]
        view.error_banner.clear()
        fill_and_join(qtbot, view, f"127.0.0.1:{closed_port}", host.code, "Zoe")
        await wait_until(view.error_banner.isVisible, parts.guest.error_occurred)
        assert "Cannot reach the signalling server" in view.error_banner.text()
        assert "Traceback" not in view.log_panel.plain_text()


async def test_a_host_typing_host_left_is_shown_as_its_words(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """A rejection whose typed reason is "host_left" reads as a rejection quoting it, not as the host leaving."""
    async with real_host(auto_accept=False) as host, running_app(settings_store) as parts:
        view = show_join_tab(qtbot, parts)
        fill_and_join(qtbot, view, host.url, host.code, "Zoe")
        request = await host.events.wait_for(lambda e: isinstance(e, JoinRequested))
        assert isinstance(request, JoinRequested)
        await host.session.reject(request.connection_id, "host_left")
        await wait_phase(parts, GuestPhase.REJECTED)
        assert view.status_label.text() == "The host turned down your request: host_left."


async def test_a_kicked_guest_reads_words_and_the_hosts_message(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """Kicked: the status says the host removed you, with the host's message; never a reason code."""
    async with real_host(auto_accept=True) as host, running_app(settings_store) as parts:
        view = show_join_tab(qtbot, parts)
        fill_and_join(qtbot, view, host.url, host.code, "Zoe")
        await wait_phase(parts, GuestPhase.CONNECTED)
        request = await host.events.wait_for(lambda e: isinstance(e, JoinRequested))
        assert isinstance(request, JoinRequested)
        await host.session.kick(request.connection_id, "afk")
        await wait_phase(parts, GuestPhase.KICKED)
        assert view.status_label.text() == "The host removed you from the lobby: afk."


async def test_a_guest_the_host_cannot_reach_reads_why_with_a_nat_hint(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """A host that gives up on the handshake: the Join view says the host could not reach you, with a NAT/TURN hint."""
    async with (
        real_host(auto_accept=True, handshake_timeout=0.0) as host,
        running_app(settings_store) as parts,
    ):
        view = show_join_tab(qtbot, parts)
        fill_and_join(qtbot, view, host.url, host.code, "Zoe")
        await wait_phase(parts, GuestPhase.FAILED)
        text = view.status_label.text()
        assert text.startswith("The host could not reach you: ")
        assert "NAT" in text and "TURN server" in text


def test_status_sentences_come_from_the_reason_and_quote_the_host() -> None:
    """Each ending in words: reason codes are translated, the host's text is quoted as it is."""
    said = {
        GuestStatus(GuestPhase.KICKED, "", KickReason.KICKED_BY_HOST): (
            "The host removed you from the lobby."
        ),
        GuestStatus(GuestPhase.KICKED, "afk", KickReason.KICKED_BY_HOST): (
            "The host removed you from the lobby: afk."
        ),
        GuestStatus(GuestPhase.REJECTED, "host_left", RejectReason.REJECTED_BY_HOST): (
            "The host turned down your request: host_left."
        ),
        GuestStatus(GuestPhase.REJECTED, "", RejectReason.REJECTED_BY_HOST): (
            "The host turned down your request: no reason given."
        ),
        GuestStatus(GuestPhase.REJECTED, "", RejectReason.TIMEOUT): (
            "The host did not answer your request in time."
        ),
        GuestStatus(GuestPhase.HOST_LEFT, "", RejectReason.HOST_LEFT): (
            "The host left; the lobby is over."
        ),
        GuestStatus(GuestPhase.LOBBY_CLOSED, "", CloseReason.SERVER_SHUTDOWN): (
            "The signalling server shut down; the lobby is over."
        ),
        GuestStatus(GuestPhase.LOBBY_CLOSED, "", CloseReason.CLOSED_BY_HOST): (
            "The host closed the lobby."
        ),
    }
    assert {status: describe_status(status) for status in said} == said
