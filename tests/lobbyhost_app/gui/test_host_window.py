"""Host mode through the real window: real clicks, a real embedded server, real aiortc guests."""

from __future__ import annotations

import asyncio
import socket

import pytest
from PySide6.QtCore import QSettings, Qt
from pytestqt.qtbot import QtBot

from lobbyhost_app.app import run_window
from lobbyhost_app.controllers.host_controller import HostState
from lobbyhost_app.controllers.settings import Settings
from lobbyhost_app.models.peers import PeerColumn, PeerTableModel
from lobbyhost_app.net.errors import ServerError
from lobbyhost_app.net.guest import GuestPhase
from lobbyhost_app.net.link import LinkState
from lobbyhost_app.net.signalling import SignallingClient
from lobbyhost_app.net.signalling_api import SignallingEvent
from lobbyhost_app.views.host_view import NO_CODE
from signalling_server import ServerConfig, serve
from signalling_server.protocol import JoinLobby, ReceivedSessionDescription
from tests.timeouts import scaled

from .helpers import hosting, running_app, wait_until


def rtt(model: PeerTableModel, row: int = 0) -> object:
    return model.index(row, PeerColumn.RTT).data(PeerTableModel.RawRole)


async def test_join_request_appears_as_a_card(qtbot: QtBot, settings_store: QSettings) -> None:
    """A guest's join request shows as a card with its name and time waiting."""
    async with hosting(qtbot, settings_store) as h:
        assert h.view.code_label.text() == h.code
        assert h.view.invite_edit.text() == f"{h.url.replace('ws:', 'http:')}join/{h.code}"
        await h.add_guest("Bob")
        card = h.view.request_list.cards[0]
        assert card.waiting_label.text().startswith("waiting ")
        assert card.accept_button.isVisible() and card.reject_button.isVisible()
        assert h.view.requests_box.title() == "Join requests (1)"
        assert "Bob asks to join" in h.view.log_panel.plain_text()


async def test_accept_turns_the_request_into_a_connected_peer_with_rtt(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """Clicking Accept removes the card and shows a connected peer row with RTT and route."""
    async with hosting(qtbot, settings_store) as h:
        guest = await h.add_guest("Bob")
        await h.accept_first(guest)
        model = h.controller.peers
        await wait_until(lambda: rtt(model) is not None, model.dataChanged)
        assert h.view.request_list.cards == []
        assert model.index(0, PeerColumn.NAME).data() == "Bob"
        assert model.index(0, PeerColumn.STATE).data() == "connected"
        assert model.index(0, PeerColumn.ROUTE).data() == "host"
        assert model.index(0, PeerColumn.PEER_ID).data() == "2"
        assert float(str(model.index(0, PeerColumn.RTT).data())) >= 0
        assert h.view.peers_table.kick_button(0) is not None
        assert h.view.peers_box.title() == "Peers (1)"


async def test_reject_with_a_reason_reaches_the_guest(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """The reason typed on the card arrives with the guest's REJECTED status."""
    async with hosting(qtbot, settings_store) as h:
        guest = await h.add_guest("Mallory")
        card = h.view.request_list.cards[0]
        h.click(card.reason_input)
        qtbot.keyClicks(card.reason_input, "the lobby is full")
        h.click(card.reject_button)
        status = await guest.wait_phase(GuestPhase.REJECTED)
        assert status.detail == "the lobby is full"
        requests = h.controller.requests
        await wait_until(lambda: requests.rowCount() == 0, requests.rowsRemoved)
        assert h.view.request_list.cards == []


async def test_keyboard_alone_accepts_a_request(qtbot: QtBot, settings_store: QSettings) -> None:
    """Focus goes from the card to its Accept button, and Space accepts."""
    async with hosting(qtbot, settings_store) as h:
        guest = await h.add_guest("Kim")
        card = h.view.request_list.cards[0]
        assert card.focusProxy() is card.accept_button
        assert card.accept_button.focusPolicy() & Qt.FocusPolicy.TabFocus
        qtbot.keyClick(card.accept_button, Qt.Key.Key_Space)
        await guest.wait_phase(GuestPhase.CONNECTED)


async def test_kick_disconnects_the_guest(qtbot: QtBot, settings_store: QSettings) -> None:
    """Kick on a peer row tells the guest it was kicked and removes the row."""
    async with hosting(qtbot, settings_store) as h:
        guest = await h.add_guest("Bob")
        await h.accept_first(guest)
        kick = h.view.peers_table.kick_button(0)
        assert kick is not None
        h.click(kick)
        await guest.wait_phase(GuestPhase.KICKED)
        model = h.controller.peers
        await wait_until(lambda: model.rowCount() == 0, model.rowsRemoved)
        assert "Bob was kicked" in h.view.log_panel.plain_text()


async def test_guest_vanishing_mid_handshake_leaves_no_stuck_row(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """A guest dropping after the host's offer, and one dropping while waiting, leave no row."""
    async with hosting(qtbot, settings_store) as h:
        offered: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def on_ghost_event(event: SignallingEvent) -> None:
            if isinstance(event, ReceivedSessionDescription) and not offered.done():
                offered.set_result(None)

        ghost = SignallingClient(h.url, reconnect=False)
        ghost.add_listener(on_ghost_event)
        shy = SignallingClient(h.url, reconnect=False)
        try:
            await ghost.connect()
            await ghost.request(JoinLobby(lobby_id=h.code, name="Ghost"))
            await shy.connect()
            await shy.request(JoinLobby(lobby_id=h.code, name="Shy"))
            requests, peers = h.controller.requests, h.controller.peers
            await wait_until(lambda: requests.rowCount() == 2, requests.rowsInserted)
            h.click(h.view.request_list.cards[0].accept_button)
            async with asyncio.timeout(scaled(10)):
                await offered  # the host sent its offer: the handshake is under way
            await wait_until(lambda: peers.rowCount() == 1, peers.rowsInserted)
            assert peers.peer_at(0).stats.state is LinkState.CONNECTING
            await ghost.close()
            await shy.close()
            await wait_until(
                lambda: peers.rowCount() == 0 and requests.rowCount() == 0,
                peers.rowsRemoved,
                requests.rowsRemoved,
            )
            assert h.view.request_list.cards == []
        finally:
            await ghost.close()
            await shy.close()


async def test_closing_the_lobby_tells_every_guest(qtbot: QtBot, settings_store: QSettings) -> None:
    """Close lobby: connected and waiting guests see LOBBY_CLOSED, lists empty, code goes."""
    async with hosting(qtbot, settings_store) as h:
        guest = await h.add_guest("Bob")
        await h.accept_first(guest)
        waiting = await h.add_guest("Late")
        h.click(h.view.close_button)
        await guest.wait_phase(GuestPhase.LOBBY_CLOSED)
        await waiting.wait_phase(GuestPhase.LOBBY_CLOSED)
        c = h.controller
        await wait_until(lambda: c.state is HostState.IDLE, c.state_changed)
        assert c.peers.rowCount() == 0 and c.requests.rowCount() == 0
        assert h.view.code_label.text() == NO_CODE
        assert h.view.open_button.isEnabled() and not h.view.close_button.isEnabled()


async def test_auto_accept_lets_waiting_and_new_guests_in(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """Ticking auto-accept accepts the guest waiting and the next one; the choice is saved."""
    async with hosting(qtbot, settings_store) as h:
        first = await h.add_guest("Early")
        h.click(h.view.auto_accept_check)
        await first.wait_phase(GuestPhase.CONNECTED)
        second = h.new_guest()
        await second.join(h.code, "Later")
        await second.wait_phase(GuestPhase.CONNECTED)
        assert Settings(settings_store).load().auto_accept is True


async def test_locking_turns_new_guests_away(qtbot: QtBot, settings_store: QSettings) -> None:
    """With Locked ticked, a new guest's join fails with the server's lobby_locked error."""
    async with hosting(qtbot, settings_store) as h:
        h.click(h.view.lock_check)
        await wait_until(
            lambda: "locked" in h.view.info_label.text(), h.controller.lobby_info_changed
        )
        guest = h.new_guest()
        with pytest.raises(ServerError) as refused:
            await guest.join(h.code, "Bob")
        assert refused.value.code == "lobby_locked"


async def test_port_in_use_is_a_readable_message(qtbot: QtBot, settings_store: QSettings) -> None:
    """Opening a lobby on a busy port shows a sentence about the port, not a traceback."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        Settings(settings_store).update(listen_port=port)
        async with running_app(settings_store) as parts:
            view = parts.window.host_view
            qtbot.mouseClick(view.open_button, Qt.MouseButton.LeftButton)
            await wait_until(view.error_banner.isVisible, parts.host.error_occurred)
            assert f"Port {port} is already in use" in view.error_banner.text()
            assert "Traceback" not in view.log_panel.plain_text()
            await wait_until(lambda: parts.host.state is HostState.IDLE, parts.host.state_changed)
            assert view.open_button.isEnabled()


async def test_quitting_with_a_peer_connected_closes_cleanly(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """Closing the window closes the lobby first (the guest hears), then the window goes."""
    async with hosting(qtbot, settings_store) as h:
        guest = await h.add_guest("Bob")
        await h.accept_first(guest)
        h.parts.window.close()  # what the title bar's close button does
        assert h.parts.window.isVisible()  # until the lobby is closed
        running = asyncio.create_task(run_window(h.parts))
        await guest.wait_phase(GuestPhase.LOBBY_CLOSED)
        async with asyncio.timeout(scaled(10)):
            await running
        assert not h.parts.window.isVisible()
        assert h.controller.state is HostState.IDLE


async def test_a_remote_server_is_used_instead_of_the_embedded_one(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """With a remote server set, Open lobby starts no server and the invite points at the remote."""
    async with serve(ServerConfig(host="127.0.0.1", port=0)) as remote:
        Settings(settings_store).update(use_remote_server=True, remote_server_url=remote.url)
        async with running_app(settings_store) as parts:
            view = parts.window.host_view
            qtbot.mouseClick(view.open_button, Qt.MouseButton.LeftButton)
            await wait_until(lambda: parts.host.state is HostState.OPEN, parts.host.state_changed)
            code = parts.host.code
            assert parts.host.server_url is None  # nothing embedded
            assert view.invite_edit.text() == f"http://127.0.0.1:{remote.port}/join/{code}"
            assert remote.counters.lobbies == 1
