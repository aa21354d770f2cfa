"""The game bridge across a host migration: real server, real aiortc peers, real TCP servers.

The old host shares its game server's port; guest Bob runs a listen server
(shared as a guest, so the old host relays it); Cid plays. When Bob becomes
the host (by hand-over, or when the old host is lost), Bob shares his server
straight from his own bridge, and Cid's listeners follow: the old host's
ports close, Bob's port opens on the new link and reaches Bob's server.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from lobbyhost_app.net.forwards import Forward, SharedPort, Transport
from lobbyhost_app.net.game_ports import GuestGamePorts, HostGamePorts
from lobbyhost_app.net.guest import GuestSession
from lobbyhost_app.net.host import HostSession
from lobbyhost_app.net.migration import take_over
from lobbyhost_app.net.signalling import SignallingClient
from lobbyhost_app.session_values import GuestEvent, GuestPhase, JoinRequested
from signalling_server import SignallingServer
from signalling_server.protocol import Promoted

from .bridge_peers import wait_closed
from .recorder import Recorder
from .test_migration import open_migratable, server
from .test_sessions import LOOPBACK, Lobby, phase

__all__ = ["server"]


@dataclass(eq=False)
class BridgedPlayer:
    """A guest with the game bridge whose app hosts on (sharing ``hosted``) if promoted."""

    session: GuestSession
    events: Recorder[GuestEvent]
    ports: GuestGamePorts
    opened: Recorder[Forward]
    closed: Recorder[Forward]
    hosted: tuple[SharedPort, ...] = ()
    host: HostSession | None = None
    host_ports: HostGamePorts | None = None

    def promoted(self, promoted: Promoted) -> None:
        def attach(host: HostSession) -> None:
            self.host_ports = HostGamePorts(host, self.hosted)

        self.host = take_over(self.session, promoted, attach=attach, ping_interval=0.2)


async def join_bridged(
    lobby: Lobby, name: str, *, shared: tuple[SharedPort, ...] = ()
) -> tuple[BridgedPlayer, str]:
    """A connected guest sharing ``shared`` (and hosting them if promoted); its connection id."""
    signalling = SignallingClient(lobby.server.url, backoff=(0.05, 0.2), reconnect=False)
    await signalling.connect()
    session = GuestSession(signalling, LOOPBACK, ping_interval=0.2)
    events: Recorder[GuestEvent] = Recorder()
    session.add_listener(events)
    ports = GuestGamePorts(session, shared=shared)
    player = BridgedPlayer(session, events, ports, Recorder(), Recorder(), hosted=shared)
    ports.add_forward_listener(player.opened, player.closed)
    session.on_promoted = player.promoted
    mark = lobby.events.mark
    await session.join(lobby.lobby_id, name)
    request = await lobby.events.wait_for(
        lambda e: isinstance(e, JoinRequested) and e.name == name, after=mark
    )
    assert isinstance(request, JoinRequested)
    await lobby.host.accept(request.connection_id)
    await events.wait_for(phase(GuestPhase.CONNECTED))
    return player, request.connection_id


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Bob's listen server: sends back all it read, then closes."""
    writer.write(await reader.read())
    await writer.drain()
    writer.close()


async def old_game(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"the old host's game")
    writer.close()


def port_of(server: asyncio.Server) -> int:
    return int(server.sockets[0].getsockname()[1])


async def echoed_through(forward: Forward, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(forward.local_host, forward.local_port)
    writer.write(payload)
    await writer.drain()
    writer.write_eof()
    answer = await wait_closed(reader)
    writer.close()
    return answer


@dataclass(eq=False)
class MigratingLobby:
    lobby: Lobby
    old_port: SharedPort
    bob_port: SharedPort
    bob: BridgedPlayer
    bob_id: str
    cid: BridgedPlayer
    #: Cid's listener for Bob's server as the old host relayed it.
    relayed: Forward


@pytest.fixture
async def migrating(server: SignallingServer) -> AsyncIterator[MigratingLobby]:
    old_server = await asyncio.start_server(old_game, "127.0.0.1", 0)
    bob_server = await asyncio.start_server(echo, "127.0.0.1", 0)
    lobby = await open_migratable(server)
    old_port = SharedPort(port_of(old_server), Transport.TCP, "Old game")
    bob_port = SharedPort(port_of(bob_server), Transport.TCP, "Bob's server")
    HostGamePorts(lobby.host, [old_port])
    bob, bob_id = await join_bridged(lobby, "Bob", shared=(bob_port,))
    cid, _ = await join_bridged(lobby, "Cid")
    await cid.opened.wait_for(lambda f: f.shared.key == old_port.key)
    relayed = await cid.opened.wait_for(lambda f: f.shared.label == bob_port.label)
    assert relayed.shared.port != bob_port.port  # the old host's listener for it
    try:
        yield MigratingLobby(lobby, old_port, bob_port, bob, bob_id, cid, relayed)
    finally:
        for player in (bob, cid):
            if player.host is not None:
                await player.host.close()
            else:
                await player.session.leave()
        await lobby.host.close(close_lobby=False)
        old_server.close()
        bob_server.close()


async def forwards_follow_the_new_host(
    migrating: MigratingLobby, migrate: Callable[[], Awaitable[object]]
) -> None:
    """Migrate; then Cid's listeners are for Bob's ports only, and reach Bob's server."""
    cid = migrating.cid
    opened_mark, closed_mark = cid.opened.mark, cid.closed.mark

    await migrate()

    await migrating.bob.events.wait_for(phase(GuestPhase.PROMOTED))
    assert migrating.bob.host_ports is not None
    assert migrating.bob.host_ports.shared == (migrating.bob_port,)
    await cid.closed.wait_for(lambda f: f.shared.key == migrating.old_port.key, after=closed_mark)
    await cid.closed.wait_for(lambda f: f == migrating.relayed, after=closed_mark)
    direct = await cid.opened.wait_for(
        lambda f: f.shared.key == migrating.bob_port.key, after=opened_mark
    )
    assert direct.shared.label == "Bob's server"
    assert await echoed_through(direct, b"hello over the new link") == b"hello over the new link"
    assert [f.shared for f in cid.ports.forwards] == [migrating.bob_port]


async def test_a_hand_over_moves_the_game_forwards_to_the_new_host(
    migrating: MigratingLobby,
) -> None:
    """After hand_over the new host shares its server: Cid's listener reaches it, the old host's port is closed."""

    async def hand_over() -> None:
        await migrating.lobby.host.hand_over(migrating.bob_id)

    await forwards_follow_the_new_host(migrating, hand_over)


async def test_a_lost_host_s_forwards_close_and_the_promoted_guest_s_open(
    migrating: MigratingLobby,
) -> None:
    """When the host is lost and a guest is promoted after the grace, Cid's forwards switch to the new host's ports."""

    async def lose_the_host() -> None:
        await migrating.lobby.host.signalling.close()  # the host's app is gone for the server

    await forwards_follow_the_new_host(migrating, lose_the_host)


async def test_a_port_shared_again_by_the_new_host_reopens_at_the_same_local_address(
    server: SignallingServer,
) -> None:
    """A port both hosts share (the game restarted its server on the new host) keeps its local address for Cid."""
    bob_server = await asyncio.start_server(echo, "127.0.0.1", 0)
    shared = SharedPort(port_of(bob_server), Transport.TCP, "Game")
    lobby = await open_migratable(server)
    # The old host's game listened on the same port: the new host's takes it over.
    HostGamePorts(lobby.host, [shared])
    bob, bob_id = await join_bridged(lobby, "Bob")
    bob.hosted = (shared,)
    cid, _ = await join_bridged(lobby, "Cid")
    try:
        before = await cid.opened.wait_for(lambda f: f.shared.key == shared.key)
        mark = cid.opened.mark

        await lobby.host.hand_over(bob_id)

        await cid.closed.wait_for(lambda f: f == before)
        after = await cid.opened.wait_for(lambda f: f.shared.key == shared.key, after=mark)
        assert after.address == before.address
        assert await echoed_through(after, b"same address") == b"same address"
    finally:
        for player in (bob, cid):
            if player.host is not None:
                await player.host.close()
            else:
                await player.session.leave()
        await lobby.host.close(close_lobby=False)
        bob_server.close()
