"""The browser guest page follows host migrations: real Chromium, real aiortc hosts, loopback only."""

from __future__ import annotations

from lobbyhost_app.net.host import HostEvent, HostSession, JoinRequested
from lobbyhost_app.session_values import ChatReceived, GuestPhase
from signalling_server import Limits, ServerConfig, SignallingServer, Timeouts, serve
from tests.lobbyhost_app.net.recorder import Recorder
from tests.lobbyhost_app.net.test_migration import join_player, open_migratable
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
