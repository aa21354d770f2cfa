"""Host migration with real sessions: a real server, real aiortc peers, loopback only.

The host hands the lobby over (or its signalling dies and its grace runs
out); a guest's app takes the host role on the same connection, offers to the
other guests, and they reconnect to it keeping their peer ids.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from lobbyhost_app.net.guest import GuestSession
from lobbyhost_app.net.host import HostSession
from lobbyhost_app.net.hosting import HostingOptions, HostingService
from lobbyhost_app.net.migration import take_over
from lobbyhost_app.net.relocation import host_moved_lobby, move_to_successor
from lobbyhost_app.net.relocation_messages import HostRequest
from lobbyhost_app.net.signalling import SignallingClient
from lobbyhost_app.session_values import (
    ChatReceived,
    GuestChat,
    GuestEvent,
    GuestPhase,
    HostChanged,
    HostEvent,
    JoinRequested,
    LobbyHandedOver,
    LobbyOpened,
    PeerGone,
    PeerUpdated,
    SnapshotLoaded,
    SnapshotStored,
)
from signalling_server import Limits, ServerConfig, SignallingServer, Timeouts, serve
from signalling_server.protocol import Promoted
from tests.timeouts import scaled

from .recorder import Recorder
from .test_sessions import LOOPBACK, Lobby, connected_peer, phase


@dataclass(eq=False)
class Player:
    """A guest whose app takes the host role if it is promoted, as the real apps do."""

    session: GuestSession
    events: Recorder[GuestEvent]
    host_events: Recorder[HostEvent] = field(default_factory=Recorder)
    host: HostSession | None = None
    session_tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def promoted(self, promoted: Promoted) -> None:
        self.host = take_over(
            self.session,
            promoted,
            attach=lambda host: host.add_listener(self.host_events),
            ping_interval=0.2,
        )


@pytest.fixture
async def server() -> AsyncIterator[SignallingServer]:
    config = ServerConfig(
        port=0,
        limits=Limits(password_hash_iterations=1),
        timeouts=Timeouts(guest_grace=10, host_grace=scaled(0.5), close_timeout=1),
    )
    async with serve(config) as running:
        yield running


async def open_migratable(server: SignallingServer) -> Lobby:
    signalling = SignallingClient(server.url, backoff=(0.05, 0.2))
    await signalling.connect()
    host = HostSession(signalling, LOOPBACK, ping_interval=0.2)
    events: Recorder[HostEvent] = Recorder()
    host.add_listener(events)
    opened = await host.start(display_name="Ann", migratable=True)
    return Lobby(server, host, events, opened.lobby_id)


async def join_player(lobby: Lobby, name: str) -> tuple[Player, str]:
    """A guest that is connected to the host; ``(player, its connection id)``."""
    signalling = SignallingClient(lobby.server.url, backoff=(0.05, 0.2), reconnect=False)
    await signalling.connect()
    session = GuestSession(signalling, LOOPBACK, ping_interval=0.2)
    player = Player(session, Recorder())
    session.add_listener(player.events)
    session.on_promoted = player.promoted
    await session.join(lobby.lobby_id, name)
    request = await lobby.events.wait_for(lambda e: isinstance(e, JoinRequested) and e.name == name)
    assert isinstance(request, JoinRequested)
    await lobby.host.accept(request.connection_id)
    await player.events.wait_for(phase(GuestPhase.CONNECTED))
    return player, request.connection_id


async def close_all(lobby: Lobby, *players: Player) -> None:
    for player in players:
        if player.host is not None:
            await player.host.close()
        else:
            await player.session.leave()
    await lobby.host.close(close_lobby=False)


async def test_a_handed_over_lobby_reforms_around_the_new_host(server: SignallingServer) -> None:
    """After hand_over the named guest hosts: the other guest reconnects to it and chat flows again."""
    lobby = await open_migratable(server)
    bob, bob_id = await join_player(lobby, "Bob")
    cid, cid_id = await join_player(lobby, "Cid")
    await lobby.host.save_snapshot('{"round": 3}')
    mark = cid.events.mark

    handed = await lobby.host.hand_over(bob_id)

    assert handed == LobbyHandedOver("Bob", 2)
    await bob.events.wait_for(phase(GuestPhase.PROMOTED))
    assert bob.host is not None
    opened = await bob.host_events.wait_for(lambda e: isinstance(e, LobbyOpened))
    assert opened == LobbyOpened(lobby.lobby_id, bob_id)
    snapshot = await bob.host_events.wait_for(lambda e: isinstance(e, SnapshotLoaded))
    assert isinstance(snapshot, SnapshotLoaded) and snapshot.data == '{"round": 3}'
    assert await cid.events.wait_for(lambda e: isinstance(e, HostChanged)) == HostChanged("Bob", 2)
    await cid.events.wait_for(phase(GuestPhase.CONNECTED), after=mark)
    await bob.host_events.wait_for(lambda e: connected_peer(e) and e.connection_id == cid_id)  # type: ignore[union-attr]
    assert cid.session.peer_id == 3

    cid.session.send_chat("gg")
    chat = await bob.host_events.wait_for(lambda e: isinstance(e, ChatReceived))
    assert chat == ChatReceived(cid_id, "Cid", "gg")
    bob.host.send_chat("welcome back")
    assert await cid.events.wait_for(lambda e: isinstance(e, GuestChat)) == GuestChat(
        "welcome back"
    )
    assert cid.session.status.phase is GuestPhase.CONNECTED
    # The old host's links are gone (closed by it, or by the guest that moved first).
    await lobby.events.wait_for(lambda e: isinstance(e, PeerGone) and e.name == "Cid")
    stored = await bob.host.save_snapshot('{"round": 4}')
    assert stored.seq == 2
    await close_all(lobby, bob, cid)


async def test_a_lost_host_is_replaced_by_the_first_guest_with_the_snapshot(
    server: SignallingServer,
) -> None:
    """When the host's signalling dies, after its grace the earliest guest hosts with the snapshot."""
    lobby = await open_migratable(server)
    bob, _ = await join_player(lobby, "Bob")
    cid, cid_id = await join_player(lobby, "Cid")
    stored = await lobby.host.save_snapshot('{"hp": [10, 7]}')
    assert isinstance(stored, SnapshotStored)
    mark = cid.events.mark

    await lobby.host.signalling.close()  # the host's app is gone for the server

    await cid.events.wait_for(phase(GuestPhase.HOST_AWAY), after=mark)
    await bob.events.wait_for(phase(GuestPhase.PROMOTED))
    assert bob.host is not None
    snapshot = await bob.host_events.wait_for(lambda e: isinstance(e, SnapshotLoaded))
    assert isinstance(snapshot, SnapshotLoaded) and snapshot.data == '{"hp": [10, 7]}'
    await cid.events.wait_for(phase(GuestPhase.CONNECTED), after=mark)
    await bob.host_events.wait_for(lambda e: connected_peer(e) and e.connection_id == cid_id)  # type: ignore[union-attr]
    await close_all(lobby, bob, cid)


async def test_a_planned_hand_over_moves_the_lobby_to_the_successor_s_own_server() -> None:
    """The host's embedded server goes with it: the successor opens the lobby on its own, guests move."""
    options = HostingOptions(
        listen_host="127.0.0.1", listen_port=0, ice=LOOPBACK, ping_interval=0.2
    )
    old = HostingService(options)
    events: Recorder[HostEvent] = Recorder()
    old.add_listener(events)
    await old.start()
    opened = await old.open_lobby(name="Game night", display_name="Ann", migratable=True)
    assert old.server is not None
    lobby = Lobby(old.server, old.session, events, opened.lobby_id)
    bob, bob_id = await join_player(lobby, "Bob")
    cid, cid_id = await join_player(lobby, "Cid")
    await old.session.save_snapshot('{"round": 7}')
    successor: list[HostingService] = []
    moved = asyncio.Event()

    async def host_here(request: HostRequest) -> None:
        successor.append(await host_moved_lobby(bob.session, request, options))
        successor[0].add_listener(bob.host_events)
        moved.set()

    bob.session.on_host_request = lambda request: bob.session_tasks.append(
        asyncio.create_task(host_here(request))
    )
    mark = cid.events.mark

    old_port = old.server.port
    handed = await move_to_successor(old.session, bob_id, lobby_name="Game night", max_guests=8)
    await old.stop()  # the old host's app quits: its embedded server goes too

    assert handed == LobbyHandedOver("Bob", 2)
    async with asyncio.timeout(scaled(10)):
        await moved.wait()
    new = successor[0]
    assert new.server is not None and new.server.port != old_port
    assert new.session.lobby_id == opened.lobby_id
    await bob.events.wait_for(phase(GuestPhase.PROMOTED))
    await cid.events.wait_for(phase(GuestPhase.CONNECTED), after=mark)
    assert cid.session.peer_id == 3
    connected = await bob.host_events.wait_for(connected_peer)
    assert isinstance(connected, PeerUpdated) and (connected.name, connected.peer_id) == ("Cid", 3)
    assert connected.connection_id != cid_id  # a new connection, on the new server
    snapshot = await new.session.load_snapshot()
    assert snapshot is not None and (snapshot.seq, snapshot.data) == (1, '{"round": 7}')
    cid.session.send_chat("moved fine")
    chat = await bob.host_events.wait_for(lambda e: isinstance(e, ChatReceived))
    assert isinstance(chat, ChatReceived) and chat.text == "moved fine"
    await cid.session.leave()
    await new.stop()
