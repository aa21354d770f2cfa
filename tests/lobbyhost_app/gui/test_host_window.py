"""Host mode through the real window: real clicks, a real embedded server, real aiortc guests."""

from __future__ import annotations

import asyncio
import re
import socket
import time

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QWidget
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
from signalling_server import ServerConfig, Timeouts, serve
from signalling_server.protocol import JoinLobby, ReceivedSessionDescription
from tests.timeouts import scaled

from .helpers import hosting, running_app, wait_until


def rtt(model: PeerTableModel, row: int = 0) -> object:
    return model.index(row, PeerColumn.RTT).data(PeerTableModel.RawRole)


def shown(model: PeerTableModel, column: PeerColumn, row: int = 0) -> str:
    return str(model.index(row, column).data())


def tab_cycle(qtbot: QtBot, start: QWidget, limit: int = 60) -> list[QWidget]:
    """The widgets Tab visits from ``start`` until it is back there; fails if it never is."""
    start.setFocus(Qt.FocusReason.TabFocusReason)
    assert QApplication.focusWidget() is start
    visited: list[QWidget] = []
    for _ in range(limit):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        widget = QApplication.focusWidget()
        assert widget is not None
        if widget is start:
            return visited
        visited.append(widget)
    raise AssertionError(f"Tab never came back; it went round {visited[-4:]}")


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
        accepted_at = time.monotonic()  # the clock the host's pings carry (milliseconds)
        await h.accept_first(guest)
        model = h.controller.peers
        await wait_until(lambda: rtt(model) is not None, model.dataChanged)
        since_accept_ms = (time.monotonic() - accepted_at) * 1000
        assert h.view.request_list.cards == []
        assert model.index(0, PeerColumn.NAME).data() == "Bob"
        assert model.index(0, PeerColumn.STATE).data() == "connected"
        assert model.index(0, PeerColumn.ROUTE).data() == "host"
        assert model.index(0, PeerColumn.PEER_ID).data() == "2"
        # A round trip of a ping sent after Accept: more than nothing (a clamped or
        # garbled pong gives 0) and within the time since Accept (a wrong unit or a
        # time not from this ping would not fit); shown as that number of ms.
        shown = rtt(model)
        assert isinstance(shown, float) and 0 < shown <= since_accept_ms
        assert model.index(0, PeerColumn.RTT).data() == f"{shown:.1f}"
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
    """Tab reaches the card's Accept button, and Space on it accepts."""
    async with hosting(qtbot, settings_store) as h:
        guest = await h.add_guest("Kim")
        card = h.view.request_list.cards[0]
        h.parts.window.activateWindow()
        assert card.accept_button in tab_cycle(qtbot, h.view.close_button)
        qtbot.keyClick(card.accept_button, Qt.Key.Key_Space)
        await guest.wait_phase(GuestPhase.CONNECTED)


async def test_tab_reaches_every_control_in_order_and_leaves_the_peers_table(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """Tab goes through the lobby controls, the card, the table, its Kick and the chat, and round."""
    async with hosting(qtbot, settings_store) as h:
        guest = await h.add_guest("Bob")
        await h.accept_first(guest)
        await h.add_guest("Cy")
        view, card = h.view, h.view.request_list.cards[0]
        kick = view.peers_table.kick_button(0)
        h.parts.window.activateWindow()
        visited = tab_cycle(qtbot, view.close_button)
        wanted = [
            view.copy_code_button,
            view.invite_edit,
            view.copy_link_button,
            view.qr_button,
            view.lock_check,
            view.auto_accept_check,
            card.accept_button,
            card.reject_button,
            card.reason_input,
            view.peers_table,
            kick,
            view.log_panel.transcript,
            view.log_panel.chat_input,
            view.log_panel.send_button,
        ]
        assert [widget for widget in visited if widget in wanted] == wanted


async def test_shortcuts_accept_and_reject_the_oldest_request(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """Ctrl+Enter accepts the oldest request and Ctrl+Shift+R rejects it with its reason; tooltips say so."""
    async with hosting(qtbot, settings_store) as h:
        first = await h.add_guest("Bob")
        second = await h.add_guest("Cy")
        cards, requests = h.view.request_list.cards, h.controller.requests
        assert "Ctrl+Return" in cards[1].accept_button.toolTip()
        assert "Ctrl+Shift+R" in cards[1].reject_button.toolTip()
        h.parts.window.activateWindow()
        chat = h.view.log_panel.chat_input
        chat.setFocus()
        qtbot.keyClick(chat, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
        await first.wait_phase(GuestPhase.CONNECTED)
        await wait_until(lambda: requests.rowCount() == 1, requests.rowsRemoved)
        qtbot.keyClicks(cards[0].reason_input, "full tonight")
        shift_control = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
        qtbot.keyClick(chat, Qt.Key.Key_R, shift_control)
        status = await second.wait_phase(GuestPhase.REJECTED)
        assert status.detail == "full tonight"


async def test_kick_asks_first_and_the_guest_reads_the_reason(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """Kick opens a window-modal dialog; Cancel keeps the guest; Kick (by keyboard) sends the reason typed."""
    async with hosting(qtbot, settings_store) as h:
        guest = await h.add_guest("Bob")
        await h.accept_first(guest)
        kick = h.view.peers_table.kick_button(0)
        assert kick is not None
        h.click(kick)
        dialog = h.view.kick_dialog
        assert dialog is not None and dialog.isVisible()
        assert dialog.windowModality() is Qt.WindowModality.WindowModal  # open(), not exec()
        assert dialog.question_label.text() == "Remove Bob from the lobby?"
        h.click(dialog.cancel_button)
        assert h.view.kick_dialog is None
        qtbot.keyClick(kick, Qt.Key.Key_Space)  # the keyboard alone, this time
        dialog = h.view.kick_dialog
        assert dialog is not None
        qtbot.keyClicks(dialog.reason_edit, "spamming the chat")
        qtbot.keyClick(dialog.reason_edit, Qt.Key.Key_Return)  # Kick is the default button
        status = await guest.wait_phase(GuestPhase.KICKED)
        assert status.detail == "spamming the chat"  # the first Kick was cancelled: no kick before
        model = h.controller.peers
        await wait_until(lambda: model.rowCount() == 0, model.rowsRemoved)
        assert "Bob was kicked" in h.view.log_panel.plain_text()
        await h.add_guest("Bob")  # a plain kick blocks nobody


async def test_kick_and_block_keeps_that_guest_out(qtbot: QtBot, settings_store: QSettings) -> None:
    """Kick and block removes the guest, and its address is refused (blocked) when it asks again."""
    async with hosting(qtbot, settings_store) as h:
        guest = await h.add_guest("Bob")
        await h.accept_first(guest)
        kick = h.view.peers_table.kick_button(0)
        assert kick is not None
        h.click(kick)
        dialog = h.view.kick_dialog
        assert dialog is not None
        h.click(dialog.block_button)
        await guest.wait_phase(GuestPhase.KICKED)
        model, log = h.controller.peers, h.view.log_panel
        await wait_until(
            lambda: (
                model.rowCount() == 0 and "Bob may not join this lobby again" in log.plain_text()
            ),
            model.rowsRemoved,
            h.controller.message_logged,
        )
        again = h.new_guest()
        with pytest.raises(ServerError) as refused:
            await again.join(h.code, "Bob again")
        assert refused.value.code == "blocked"


async def test_a_dropped_guest_is_shown_waiting_then_back_when_it_resumes(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """A guest whose connection drops reads "connection lost, waiting up to N s" with no stale RTT, then connected."""
    async with hosting(qtbot, settings_store) as h:
        guest = await h.add_guest("Bob", reconnect=True)
        await h.accept_first(guest)
        model = h.controller.peers
        await wait_until(lambda: rtt(model) is not None, model.dataChanged)
        states: list[tuple[str, str, str]] = []

        def on_data_changed(*_: object) -> None:
            state, rtt_ms = shown(model, PeerColumn.STATE), shown(model, PeerColumn.RTT)
            states.append((state, rtt_ms, shown(model, PeerColumn.ROUTE)))

        model.dataChanged.connect(on_data_changed)
        server = h.controller.embedded_server
        assert server is not None
        assert server.abort_connection(model.peer_at(0).connection_id)  # a network failure
        log = h.view.log_panel
        await wait_until(
            lambda: (
                "Bob is back" in log.plain_text() and shown(model, PeerColumn.STATE) == "connected"
            ),
            model.dataChanged,
            h.controller.message_logged,
        )
        lost = [state for state in states if state[0].startswith("connection lost")]
        assert lost, states
        waiting = re.fullmatch(r"connection lost, waiting up to (\d+) s", lost[0][0])
        assert waiting is not None and 0 < int(waiting.group(1)) <= 30
        assert lost[0][1:] == ("\N{EN DASH}", "\N{EN DASH}")  # no stale RTT or route
        assert "Bob's connection dropped; waiting up to 30 s" in log.plain_text()
        assert model.rowCount() == 1


async def test_a_guest_that_never_comes_back_is_removed_as_lost(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """A guest whose page went away waits out the grace on screen, then goes as having lost the connection."""
    async with hosting(qtbot, settings_store, timeouts=Timeouts(guest_grace=2)) as h:
        guest = await h.add_guest("Bob")
        await h.accept_first(guest)
        model = h.controller.peers
        states: list[str] = []
        model.dataChanged.connect(lambda *_: states.append(shown(model, PeerColumn.STATE)))
        await guest.signalling.close()  # the tab closed: its websocket is gone, nothing resumes
        await wait_until(lambda: model.rowCount() == 0, model.rowsRemoved)
        assert "connection lost, waiting up to 2 s" in states
        log = h.view.log_panel.plain_text()
        assert "Bob lost the connection" in log
        assert "Bob left" not in log
        assert h.view.peers_box.title() == "Peers (0)"


async def test_a_request_nobody_answered_says_so(qtbot: QtBot, settings_store: QSettings) -> None:
    """A request that timed out leaves the list saying nobody answered, not that it was turned down."""
    async with hosting(qtbot, settings_store, timeouts=Timeouts(pending_request_timeout=1)) as h:
        guest = await h.add_guest("Bob")
        requests = h.controller.requests
        await wait_until(lambda: requests.rowCount() == 0, requests.rowsRemoved)
        await guest.wait_phase(GuestPhase.REJECTED)
        log = h.view.log_panel.plain_text()
        assert "Nobody answered Bob's request in time" in log
        assert "turned down" not in log
        assert h.view.request_list.cards == []


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
        h.close_lobby()
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
        question = h.parts.window.quit_confirmation
        assert question is not None  # a guest is connected: asked first
        h.click(question.confirm_button)
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
