"""Planned hand-over with embedded servers, through the real window: giving a lobby and taking one."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import QSettings, Qt
from pytestqt.qtbot import QtBot

from lobbyhost_app.controllers.host_controller import HostState
from lobbyhost_app.net.forwards import Forward, Transport
from lobbyhost_app.net.game_ports import GuestGamePorts
from lobbyhost_app.net.hosting import HostingOptions, HostingService
from lobbyhost_app.net.relocation import host_moved_lobby, move_to_successor
from lobbyhost_app.net.relocation_messages import HostRequest
from lobbyhost_app.session_values import GuestPhase, HostEvent, JoinRequested, LinkState
from tests.lobbyhost_app.net.recorder import Recorder

from .helpers import LOOPBACK, RealGuest, running_app, wait_until
from .test_join_window import fill_and_join, show_join_tab, wait_phase

OPTIONS = HostingOptions(listen_host="127.0.0.1", listen_port=0, ice=LOOPBACK, ping_interval=0.5)


async def test_hand_over_moves_the_window_s_lobby_to_a_guest_s_own_server(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """With "Let a guest take over" on, Hand over gives the lobby to the first guest; the other moves."""
    async with running_app(settings_store) as parts:
        view, controller = parts.window.host_view, parts.host
        qtbot.mouseClick(view.migratable_check, Qt.MouseButton.LeftButton)
        qtbot.mouseClick(view.open_button, Qt.MouseButton.LeftButton)
        await wait_until(lambda: controller.state is HostState.OPEN, controller.state_changed)
        assert view.hand_over_button.isEnabled()
        assert controller.server_url is not None and controller.code is not None
        bob, cid = RealGuest(controller.server_url), RealGuest(controller.server_url)
        successor: list[HostingService] = []
        try:
            for guest, name in ((bob, "Bob"), (cid, "Cid")):
                await guest.join(controller.code, name)
                await wait_until(
                    lambda: bool(view.request_list.cards), controller.requests.rowsInserted
                )
                accept = view.request_list.cards[0].accept_button
                qtbot.mouseClick(accept, Qt.MouseButton.LeftButton)
                await guest.wait_phase(GuestPhase.CONNECTED)
            assert bob.session is not None

            async def host_here(request: HostRequest) -> None:
                assert bob.session is not None
                successor.append(await host_moved_lobby(bob.session, request, OPTIONS))

            tasks: list[asyncio.Task[None]] = []
            bob.session.on_host_request = lambda r: tasks.append(asyncio.create_task(host_here(r)))
            mark = cid.events.mark
            peers = controller.peers
            await wait_until(
                lambda: (
                    len([p for p in peers.peers() if p.stats.state is LinkState.CONNECTED]) == 2
                ),
                peers.rowsInserted,
                peers.dataChanged,
            )

            qtbot.mouseClick(view.hand_over_button, Qt.MouseButton.LeftButton)

            await wait_until(lambda: controller.state is HostState.IDLE, controller.state_changed)
            assert "Bob hosts the lobby now" in view.log_panel.plain_text()
            await bob.wait_phase(GuestPhase.PROMOTED)
            await cid.events.wait_for(
                lambda e: getattr(e, "phase", None) is GuestPhase.CONNECTED, after=mark
            )
            assert cid.session is not None and cid.session.peer_id == 3
            assert successor and successor[0].session.lobby_id is not None
        finally:
            await cid.close()
            for service in successor:
                await service.stop()
            await bob.signalling.close()


async def test_a_desktop_guest_takes_a_moved_lobby_on_its_own_server(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """Asked by an embedded host to take over, the window opens the lobby itself, shows Host and shares its game ports."""
    game = await asyncio.start_server(greet, "127.0.0.1", 0)
    game_port = int(game.sockets[0].getsockname()[1])
    yan_forwards: Recorder[Forward] = Recorder()
    old = HostingService(OPTIONS)
    events: Recorder[HostEvent] = Recorder()
    old.add_listener(events)
    await old.start()
    opened = await old.open_lobby(display_name="Ann", migratable=True)
    assert old.server is not None
    yan = RealGuest(old.server.url)
    try:
        async with running_app(settings_store) as parts:
            # Zoe's Host tab lists her game's port: shared once the lobby is hers.
            assert parts.host.game_ports.add_port(game_port, Transport.TCP, "Zoe's game")
            view = show_join_tab(qtbot, parts)
            fill_and_join(qtbot, view, old.server.url, opened.lobby_id, "Zoe")
            zoe = await events.wait_for(lambda e: isinstance(e, JoinRequested) and e.name == "Zoe")
            assert isinstance(zoe, JoinRequested)
            await old.session.accept(zoe.connection_id)
            await wait_phase(parts, GuestPhase.CONNECTED)
            yan_session = await yan.join(opened.lobby_id, "Yan")
            GuestGamePorts(yan_session).add_forward_listener(yan_forwards)
            yan_request = await events.wait_for(
                lambda e: isinstance(e, JoinRequested) and e.name == "Yan"
            )
            assert isinstance(yan_request, JoinRequested)
            await old.session.accept(yan_request.connection_id)
            await yan.wait_phase(GuestPhase.CONNECTED)
            mark = yan.events.mark

            await move_to_successor(old.session, zoe.connection_id, lobby_name="Game", max_guests=8)
            await old.stop()

            window, controller = parts.window, parts.host
            await wait_until(lambda: controller.state is HostState.OPEN, controller.state_changed)
            assert window.tabs.currentWidget() is window.host_view
            assert window.host_view.code_label.text() == opened.lobby_id
            assert controller.embedded_server is not None
            await yan.events.wait_for(
                lambda e: getattr(e, "phase", None) is GuestPhase.CONNECTED, after=mark
            )
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
            await yan.close()
    finally:
        await old.stop()
        game.close()


async def greet(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"Zoe's game")
    writer.close()
