"""Ports a guest shares (its listen server): the host reaches them, and so do the other guests."""

from __future__ import annotations

import asyncio

from lobbyhost_app.net.forwards import Forward, SharedPort, Transport
from lobbyhost_app.net.game_ports import GuestGamePorts, HostGamePorts
from lobbyhost_app.net.guest import GuestSession
from lobbyhost_app.session_values import GuestPhase, JoinRequested
from signalling_server import SignallingServer

from .bridge_peers import bridge_server, wait_closed
from .recorder import Recorder
from .test_sessions import Lobby, open_guest, open_host, phase

__all__ = ["bridge_server"]


async def test_a_guest_shares_a_port_and_the_host_reaches_it(
    bridge_server: SignallingServer,
) -> None:
    """A guest's listen server: the host gets a local listener for the port the guest shares, and it reaches the guest's server."""

    async def hello(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"hello from the guest's server")
        writer.close()

    server = await asyncio.start_server(hello, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    lobby = await open_host(bridge_server)
    host_ports = HostGamePorts(lobby.host)
    opened: Recorder[Forward] = Recorder()
    host_ports.add_forward_listener(lambda _connection_id, forward: opened(forward))
    guest, events = await open_guest(bridge_server)
    GuestGamePorts(guest, shared=[SharedPort(port, Transport.TCP, "Listen server")])
    try:
        await guest.join(lobby.lobby_id, "Bob")
        request = await lobby.events.wait_for(lambda e: isinstance(e, JoinRequested))
        assert isinstance(request, JoinRequested)
        await lobby.host.accept(request.connection_id)
        await events.wait_for(phase(GuestPhase.CONNECTED))
        forward = await opened.wait_for(lambda f: f.shared.port == port)
        assert forward.shared.label == "Listen server"
        reader, writer = await asyncio.open_connection(forward.local_host, forward.local_port)
        assert await wait_closed(reader) == b"hello from the guest's server"
        writer.close()
    finally:
        server.close()
        await guest.leave()
        await lobby.host.close()


async def join_with_ports(
    lobby: Lobby, name: str, shared: list[SharedPort]
) -> tuple[GuestSession, Recorder[Forward], Recorder[Forward]]:
    """A guest with the game bridge (sharing ``shared``), accepted and connected."""
    guest, events = await open_guest(lobby.server)
    opened: Recorder[Forward] = Recorder()
    closed: Recorder[Forward] = Recorder()
    GuestGamePorts(guest, shared=shared, local_ports={}).add_forward_listener(opened, closed)
    mark = lobby.events.mark
    await guest.join(lobby.lobby_id, name)
    request = await lobby.events.wait_for(
        lambda e: isinstance(e, JoinRequested) and e.name == name, after=mark
    )
    assert isinstance(request, JoinRequested)
    await lobby.host.accept(request.connection_id)
    await events.wait_for(phase(GuestPhase.CONNECTED))
    return guest, opened, closed


async def test_another_guest_reaches_a_guests_server_through_the_host(
    bridge_server: SignallingServer,
) -> None:
    """A guest's listen server is relayed by the host: another guest gets a listener that reaches it, gone when the first guest leaves."""

    async def hello(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"hello from Bob's server")
        writer.close()

    server = await asyncio.start_server(hello, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    lobby = await open_host(bridge_server)
    HostGamePorts(lobby.host)
    bob, _, _ = await join_with_ports(lobby, "Bob", [SharedPort(port, Transport.TCP, "Arena")])
    cy, cy_opened, cy_closed = await join_with_ports(lobby, "Cy", [])
    try:
        forward = await cy_opened.wait_for(lambda f: f.shared.label == "Arena")
        reader, writer = await asyncio.open_connection(forward.local_host, forward.local_port)
        assert await wait_closed(reader) == b"hello from Bob's server"
        writer.close()
        await bob.leave()
        assert await cy_closed.wait_for(lambda f: f.shared.label == "Arena") == forward
    finally:
        server.close()
        await cy.leave()
        await lobby.host.close()
