"""A host and a guest with the game bridge on both, over a real server and real aiortc peers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass

import pytest

from lobbyhost_app.net.bridge import Forward
from lobbyhost_app.net.forwards import SharedPort
from lobbyhost_app.net.game_ports import GuestGamePorts, HostGamePorts
from lobbyhost_app.net.guest import GuestSession
from lobbyhost_app.session_values import GuestEvent, GuestPhase, JoinRequested
from signalling_server import Limits, ServerConfig, SignallingServer, Timeouts, serve
from tests.timeouts import scaled

from .recorder import Recorder
from .test_sessions import Lobby, open_guest, open_host, phase

WAIT = scaled(10.0)


@dataclass
class BridgedPeers:
    lobby: Lobby
    host_ports: HostGamePorts
    guest: GuestSession
    guest_events: Recorder[GuestEvent]
    guest_ports: GuestGamePorts
    guest_id: str
    forwards: Recorder[Forward]

    async def forward(self, shared: SharedPort) -> Forward:
        """The guest's local listener for ``shared``, once it is open."""
        found = await self.forwards.wait_for(lambda f: f.shared.key == shared.key)
        return found


@pytest.fixture
async def bridge_server() -> AsyncIterator[SignallingServer]:
    config = ServerConfig(
        port=0,
        limits=Limits(password_hash_iterations=1),
        timeouts=Timeouts(guest_grace=10, host_grace=10, close_timeout=1),
    )
    async with serve(config) as running:
        yield running


async def bridged(
    server: SignallingServer,
    shared: Iterable[SharedPort],
    *,
    local_ports: Mapping[int, int] | None = None,
    **host_options: object,
) -> BridgedPeers:
    """A connected host and guest; the host shares ``shared``; the guest opens its listeners."""
    lobby = await open_host(server)
    host_ports = HostGamePorts(lobby.host, shared, **host_options)  # type: ignore[arg-type]
    guest, events = await open_guest(server)
    guest_ports = GuestGamePorts(guest, local_ports=local_ports)
    forwards: Recorder[Forward] = Recorder()
    guest_ports.add_forward_listener(forwards)
    await guest.join(lobby.lobby_id, "Bob")
    request = await lobby.events.wait_for(lambda e: isinstance(e, JoinRequested))
    assert isinstance(request, JoinRequested)
    await lobby.host.accept(request.connection_id)
    await events.wait_for(phase(GuestPhase.CONNECTED))
    return BridgedPeers(
        lobby, host_ports, guest, events, guest_ports, request.connection_id, forwards
    )


async def close_peers(peers: BridgedPeers) -> None:
    if peers.guest.status.phase is not GuestPhase.LEFT:
        await peers.guest.leave()
    await peers.lobby.host.close()


async def wait_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the stream still gives until its end (EOF or reset)."""
    try:
        async with asyncio.timeout(WAIT):
            return await reader.read()
    except ConnectionResetError:
        return b"<reset>"
