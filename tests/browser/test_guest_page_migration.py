"""The browser guest page follows host migrations: real Chromium, real aiortc hosts, loopback only."""

from __future__ import annotations

import asyncio

from lobbyhost_app.net.host import HostEvent, HostSession, JoinRequested
from lobbyhost_app.net.hosting import HostingOptions, HostingService
from lobbyhost_app.net.relocation import host_moved_lobby, move_to_successor
from lobbyhost_app.net.relocation_messages import HostRequest
from lobbyhost_app.session_values import ChatReceived, GuestPhase, PeerUpdated
from signalling_server import Limits, ServerConfig, SignallingServer, Timeouts, serve
from tests.lobbyhost_app.net.recorder import Recorder
from tests.lobbyhost_app.net.test_migration import join_player, open_migratable
from tests.lobbyhost_app.net.test_sessions import LOOPBACK, Lobby
from tests.timeouts import scaled

from .harness import page_in_chromium


def server_config() -> ServerConfig:
    return ServerConfig(
        port=0,
        limits=Limits(password_hash_iterations=1),
        timeouts=Timeouts(host_grace=scaled(0.5), close_timeout=1),
    )


async def accept(host: HostSession, events: Recorder[HostEvent], name: str) -> str:
    request = await events.wait_for(lambda e: isinstance(e, JoinRequested) and e.name == name)
    assert isinstance(request, JoinRequested)
    await host.accept(request.connection_id)
    return request.connection_id


def link(server: SignallingServer, code: str) -> str:
    return f"http://127.0.0.1:{server.port}/join/{code}"


async def test_the_page_follows_a_hand_over_and_chats_with_the_new_host() -> None:
    """After hand_over the page reconnects to the new host by itself; chat flows both ways again."""
    async with serve(server_config()) as server:
        lobby = await open_migratable(server)
        bob, bob_id = await join_player(lobby, "Bob")
        async with page_in_chromium(link(server, lobby.lobby_id)) as eve:
            await eve.join("Eve")
            eve_id = await accept(lobby.host, lobby.events, "Eve")
            await eve.expect_status("Connected$")

            await lobby.host.hand_over(bob_id)

            await bob.events.wait_for(lambda e: getattr(e, "phase", None) is GuestPhase.PROMOTED)
            assert bob.host is not None
            await eve.expect_status("Connected$")
            await eve.expect_chat("", "The host left; Bob hosts the lobby now")
            await eve.say("hi Bob")
            chat = await bob.host_events.wait_for(lambda e: isinstance(e, ChatReceived))
            assert chat == ChatReceived(eve_id, "Eve", "hi Bob")
            bob.host.send_chat("hi Eve")
            await eve.expect_chat("Bob", "hi Eve")
            eve.assert_clean()
            await bob.host.close()
        await lobby.host.close(close_lobby=False)


async def test_the_page_follows_a_host_that_was_lost() -> None:
    """When the host's connection dies, the page waits for the promoted guest and reconnects to it."""
    async with serve(server_config()) as server:
        lobby = await open_migratable(server)
        bob, _ = await join_player(lobby, "Bob")
        async with page_in_chromium(link(server, lobby.lobby_id)) as eve:
            await eve.join("Eve")
            await accept(lobby.host, lobby.events, "Eve")
            await eve.expect_status("Connected$")

            await lobby.host.signalling.close()

            await eve.expect_status("Host disconnected")
            await eve.expect_chat("", "The host left; Bob hosts the lobby now")
            await eve.expect_status("Connected$")
            assert bob.host is not None
            bob.host.send_chat("still on")
            await eve.expect_chat("Bob", "still on")
            eve.assert_clean()
            await bob.host.close()
        await lobby.host.close(close_lobby=False)


async def test_the_page_follows_a_lobby_moved_to_the_successor_s_server() -> None:
    """An embedded host hands over: the page moves to the successor's own server and reconnects."""
    options = HostingOptions(
        listen_host="127.0.0.1", listen_port=0, ice=LOOPBACK, ping_interval=0.2
    )
    old = HostingService(options)
    events: Recorder[HostEvent] = Recorder()
    old.add_listener(events)
    await old.start()
    opened = await old.open_lobby(display_name="Ann", migratable=True)
    assert old.server is not None
    lobby = Lobby(old.server, old.session, events, opened.lobby_id)
    bob, bob_id = await join_player(lobby, "Bob")
    successor: list[HostingService] = []

    async def host_here(request: HostRequest) -> None:
        successor.append(await host_moved_lobby(bob.session, request, options))
        successor[0].add_listener(bob.host_events)

    bob.session.on_host_request = lambda request: bob.session_tasks.append(
        asyncio.create_task(host_here(request))
    )
    try:
        async with page_in_chromium(link(old.server, lobby.lobby_id)) as eve:
            await eve.join("Eve")
            await accept(old.session, events, "Eve")
            await eve.expect_status("Connected$")

            await move_to_successor(old.session, bob_id, lobby_name="Game", max_guests=8)
            await old.stop()

            await eve.expect_status("Connected$")
            new = successor[0]
            await bob.host_events.wait_for(lambda e: isinstance(e, PeerUpdated) and e.name == "Eve")
            await eve.say("on the new server")
            chat = await bob.host_events.wait_for(lambda e: isinstance(e, ChatReceived))
            assert isinstance(chat, ChatReceived) and chat.text == "on the new server"
            new.session.send_chat("welcome")
            await eve.expect_chat("Bob", "welcome")
            eve.assert_clean()
    finally:
        for service in (*successor, old):
            await service.stop()
