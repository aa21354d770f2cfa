"""A desktop guest promoted to host: the real window switches to the Host view and hosts on."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import QSettings, Qt
from pytestqt.qtbot import QtBot

from lobbyhost_app.controllers.host_controller import HostState
from lobbyhost_app.net.forwards import Forward, Transport
from lobbyhost_app.net.game_ports import GuestGamePorts
from lobbyhost_app.net.host import HostSession
from lobbyhost_app.net.signalling import SignallingClient
from lobbyhost_app.session_values import GuestPhase, HostEvent, JoinRequested, LinkState
from lobbyhost_app.views.host_view import describe_snapshot
from signalling_server import Limits, ServerConfig, Timeouts, serve
from tests.lobbyhost_app.net.recorder import Recorder
from tests.timeouts import scaled

from .helpers import LOOPBACK, RealGuest, running_app, wait_until
from .test_join_window import fill_and_join, show_join_tab, wait_phase


async def accept_named(host: HostSession, events: Recorder[HostEvent], name: str) -> None:
    request = await events.wait_for(lambda e: isinstance(e, JoinRequested) and e.name == name)
    assert isinstance(request, JoinRequested)
    await host.accept(request.connection_id)


async def test_a_promoted_desktop_guest_shows_the_host_view_and_keeps_hosting(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """When the host is lost, the window that joined first switches to Host: roster, request, snapshot, game ports."""
    config = ServerConfig(
        host="127.0.0.1",
        port=0,
        limits=Limits(password_hash_iterations=1),
        timeouts=Timeouts(host_grace=scaled(0.5), close_timeout=1),
    )
    async with serve(config) as server, running_app(settings_store) as parts:
        signalling = SignallingClient(server.url, reconnect=False)
        await signalling.connect()
        host = HostSession(signalling, LOOPBACK, ping_interval=0.5)
        events: Recorder[HostEvent] = Recorder()
        host.add_listener(events)
        opened = await host.start(name="Ann's lobby", display_name="Ann", migratable=True)
        yan, xia = RealGuest(server.url), RealGuest(server.url)
        game = await asyncio.start_server(greet, "127.0.0.1", 0)
        game_port = int(game.sockets[0].getsockname()[1])
        # Zoe's Host tab lists her game's port: shared once she hosts.
        assert parts.host.game_ports.add_port(game_port, Transport.TCP, "Zoe's game")
        yan_forwards: Recorder[Forward] = Recorder()
        try:
            view = show_join_tab(qtbot, parts)
            fill_and_join(qtbot, view, server.url, opened.lobby_id, "Zoe")
            await accept_named(host, events, "Zoe")
            await wait_phase(parts, GuestPhase.CONNECTED)
            yan_session = await yan.join(opened.lobby_id, "Yan")
            GuestGamePorts(yan_session).add_forward_listener(yan_forwards)
            await accept_named(host, events, "Yan")
            await yan.wait_phase(GuestPhase.CONNECTED)
            await xia.join(opened.lobby_id, "Xia")
            await events.wait_for(lambda e: isinstance(e, JoinRequested) and e.name == "Xia")
            stored = await host.save_snapshot('{"turn": 9}')

            await host.signalling.close()  # the host's app is gone

            window, controller = parts.window, parts.host
            await wait_until(
                lambda: window.tabs.currentWidget() is window.host_view,
                window.tabs.currentChanged,
            )
            await wait_until(lambda: controller.state is HostState.OPEN, controller.state_changed)
            host_view = window.host_view
            assert host_view.code_label.text() == opened.lobby_id
            assert host_view.invite_edit.text().endswith(f"/join/{opened.lobby_id}")
            assert host_view.snapshot_label.text() == describe_snapshot(stored.saved_at, 11)
            assert view.status_label.text().endswith("you are the host now.")
            peers = controller.peers
            await wait_until(
                lambda: (
                    [(p.name, p.stats.state) for p in peers.peers()]
                    == [("Yan", LinkState.CONNECTED)]
                ),
                peers.rowsInserted,
                peers.dataChanged,
            )
            forward = await yan_forwards.wait_for(lambda f: f.shared.port == game_port)
            reader, writer = await asyncio.open_connection(forward.local_host, forward.local_port)
            assert await reader.read() == b"Zoe's game"
            writer.close()
            cards = host_view.request_list.cards
            assert [card.name_label.text() for card in cards] == ["Xia"]

            qtbot.mouseClick(cards[0].accept_button, Qt.MouseButton.LeftButton)
            await xia.wait_phase(GuestPhase.CONNECTED)
            assert xia.session is not None and xia.session.peer_id == 4
            await wait_until(lambda: len(peers.peers()) == 2, peers.rowsInserted, peers.dataChanged)
        finally:
            for guest in (xia, yan):
                await guest.close()
            await host.close(close_lobby=False)
            game.close()


async def greet(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"Zoe's game")
    writer.close()
