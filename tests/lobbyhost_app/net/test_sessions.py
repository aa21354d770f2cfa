"""Host and guest sessions end to end: a real server, real aiortc peers, loopback only."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from lobbyhost_app.net.errors import ServerError
from lobbyhost_app.net.guest import GuestSession
from lobbyhost_app.net.host import HostSession
from lobbyhost_app.net.ice import IceSettings
from lobbyhost_app.net.signalling import SignallingClient
from lobbyhost_app.net.signalling_api import SignallingEvent
from lobbyhost_app.session_values import (
    ChatReceived,
    GuestChat,
    GuestEvent,
    GuestPhase,
    GuestStatus,
    HostEvent,
    JoinRequested,
    LinkState,
    LobbyEnded,
    PeerConnectionLost,
    PeerGone,
    PeerResumed,
    PeerUpdated,
    RequestGone,
    SignallingStatus,
)
from signalling_server import Limits, ServerConfig, SignallingServer, Timeouts, serve
from signalling_server.ids import ConnectionId
from signalling_server.protocol import (
    CloseReason,
    ErrorCode,
    JoinLobby,
    KickReason,
    ReceivedSessionDescription,
    RejectReason,
    Resumed,
)

from ..fake_clock import HeldClock
from .recorder import Recorder

LOOPBACK = IceSettings(allowed_addresses=("127.0.0.1",))


@dataclass
class Lobby:
    server: SignallingServer
    host: HostSession
    events: Recorder[HostEvent]
    lobby_id: str


@pytest.fixture
async def server() -> AsyncIterator[SignallingServer]:
    config = ServerConfig(
        port=0,
        limits=Limits(password_hash_iterations=1),
        timeouts=Timeouts(guest_grace=10, host_grace=10, close_timeout=1),
    )
    async with serve(config) as running:
        yield running


async def open_host(server: SignallingServer, **options: Any) -> Lobby:
    signalling = SignallingClient(server.url, backoff=(0.05, 0.2))
    await signalling.connect()
    host = HostSession(signalling, LOOPBACK, ping_interval=0.2, **options)
    events: Recorder[HostEvent] = Recorder()
    host.add_listener(events)
    opened = await host.start(display_name="Ann")
    return Lobby(server, host, events, opened.lobby_id)


async def open_guest(
    server: SignallingServer, **options: Any
) -> tuple[GuestSession, Recorder[GuestEvent]]:
    signalling = SignallingClient(server.url, backoff=(0.05, 0.2))
    await signalling.connect()
    guest = GuestSession(signalling, LOOPBACK, ping_interval=0.2, **options)
    events: Recorder[GuestEvent] = Recorder()
    guest.add_listener(events)
    return guest, events


@pytest.fixture
async def lobby(server: SignallingServer) -> AsyncIterator[Lobby]:
    opened = await open_host(server)
    yield opened
    await opened.host.close()


def phase(wanted: GuestPhase) -> Any:
    return lambda e: isinstance(e, GuestStatus) and e.phase is wanted


def connected_peer(e: HostEvent) -> bool:
    return isinstance(e, PeerUpdated) and e.stats.state is LinkState.CONNECTED


async def connect_guest(
    lobby: Lobby, name: str = "Bob"
) -> tuple[GuestSession, Recorder[GuestEvent], str]:
    """A guest that joined, was accepted by a click-equivalent and is connected."""
    guest, events = await open_guest(lobby.server)
    await guest.join(lobby.lobby_id, name)
    request = await lobby.events.wait_for(lambda e: isinstance(e, JoinRequested) and e.name == name)
    assert isinstance(request, JoinRequested)
    await lobby.host.accept(request.connection_id)
    await events.wait_for(phase(GuestPhase.CONNECTED))
    await lobby.events.wait_for(
        lambda e: connected_peer(e) and e.connection_id == request.connection_id  # type: ignore[union-attr]
    )
    return guest, events, request.connection_id


async def test_accepted_guest_connects_with_rtt_route_chat_and_game_data(lobby: Lobby) -> None:
    """Accept leads to a connected peer with RTT and route; chat and game data flow both ways."""
    guest, events, guest_id = await connect_guest(lobby)
    update = await lobby.events.wait_for(
        lambda e: isinstance(e, PeerUpdated) and e.stats.rtt_ms is not None
    )
    assert isinstance(update, PeerUpdated)
    assert update.peer_id == 2
    assert update.stats.route == "host"
    assert update.stats.rtt_ms is not None and update.stats.rtt_ms > 0
    assert update.stats.connected_since is not None

    guest.send_chat("hi host")
    chat = await lobby.events.wait_for(lambda e: isinstance(e, ChatReceived))
    assert chat == ChatReceived(guest_id, "Bob", "hi host")
    lobby.host.send_chat("hi guest")
    assert await events.wait_for(lambda e: isinstance(e, GuestChat)) == GuestChat("hi guest")

    received: asyncio.Future[str | bytes] = asyncio.get_running_loop().create_future()
    assert guest.game is not None
    guest.game.on_message = received.set_result
    lobby.host.send_game(guest_id, b"\x00game-state\xff")
    async with asyncio.timeout(5):
        assert await received == b"\x00game-state\xff"
    stats = lobby.host.peer(guest_id)
    assert stats is not None and stats.bytes_out > 0 and stats.bytes_in > 0
    await guest.leave()
    gone = await lobby.events.wait_for(lambda e: isinstance(e, PeerGone))
    assert gone == PeerGone(guest_id, "Bob", 2, "left")


async def test_guests_accepted_one_after_another_and_together_all_connect(lobby: Lobby) -> None:
    """The first guest gets the offer prepared at start, the next ones a fresh or re-made one."""
    await connect_guest(lobby, "Bob")
    await connect_guest(lobby, "Cy")
    await asyncio.gather(connect_guest(lobby, "Di"), connect_guest(lobby, "Ed"))


async def test_offer_gathers_only_on_allowed_addresses(lobby: Lobby) -> None:
    """With the allow-list set to 127.0.0.1, every host candidate in the offer is 127.0.0.1."""
    guest, _, _ = await connect_guest(lobby)
    assert guest.link is not None
    offer = guest.link.pc.remoteDescription.sdp
    candidates = [line for line in offer.splitlines() if line.startswith("a=candidate:")]
    assert candidates
    assert all(" 127.0.0.1 " in line for line in candidates), candidates
    await guest.leave()


async def test_reject_with_reason_reaches_the_guest(lobby: Lobby) -> None:
    """A rejected guest ends as rejected by the host, with the host's words as the detail."""
    guest, _ = await open_guest(lobby.server)
    await guest.join(lobby.lobby_id, "Eve")
    request = await lobby.events.wait_for(lambda e: isinstance(e, JoinRequested))
    assert isinstance(request, JoinRequested)
    await lobby.host.reject(request.connection_id, "game already started")
    assert await guest.wait_ended() == GuestStatus(
        GuestPhase.REJECTED, "game already started", RejectReason.REJECTED_BY_HOST
    )
    assert lobby.host.requests == []
    await guest.signalling.close()


async def test_a_host_typing_host_left_as_a_reason_is_still_a_rejection(lobby: Lobby) -> None:
    """The words "host_left" typed by a host stay words: the guest is rejected, not told the host left."""
    guest, _ = await open_guest(lobby.server)
    await guest.join(lobby.lobby_id, "Eve")
    request = await lobby.events.wait_for(lambda e: isinstance(e, JoinRequested))
    assert isinstance(request, JoinRequested)
    await lobby.host.reject(request.connection_id, "host_left")
    assert await guest.wait_ended() == GuestStatus(
        GuestPhase.REJECTED, "host_left", RejectReason.REJECTED_BY_HOST
    )
    await guest.signalling.close()


async def test_kick_closes_the_link_and_tells_the_guest(lobby: Lobby) -> None:
    """Kick: the guest ends as kicked with the host's words; the host drops the peer as kicked."""
    guest, _, guest_id = await connect_guest(lobby)
    await lobby.host.kick(guest_id, "afk")
    ended = await guest.wait_ended()
    assert ended == GuestStatus(GuestPhase.KICKED, "afk", KickReason.KICKED_BY_HOST)
    gone = await lobby.events.wait_for(lambda e: isinstance(e, PeerGone))
    assert gone == PeerGone(guest_id, "Bob", 2, "kicked")
    assert lobby.host.peer(guest_id) is None
    await guest.signalling.close()


async def test_host_closing_the_lobby_ends_every_guest(lobby: Lobby) -> None:
    """Closing the lobby: guests end as lobby_closed, peers are reported closed."""
    guest, _, guest_id = await connect_guest(lobby)
    await lobby.host.close()
    ended = await guest.wait_ended()
    assert ended.phase is GuestPhase.LOBBY_CLOSED
    assert await lobby.events.wait_for(lambda e: isinstance(e, PeerGone)) == PeerGone(
        guest_id, "Bob", 2, "closed"
    )
    assert await lobby.events.wait_for(lambda e: isinstance(e, LobbyEnded)) == LobbyEnded(
        CloseReason.CLOSED_BY_HOST
    )
    await guest.signalling.close()


async def test_guest_vanishing_mid_handshake_leaves_nothing_behind(lobby: Lobby) -> None:
    """A guest that drops after being accepted but before answering: no stuck peer or task."""
    raw = SignallingClient(lobby.server.url, reconnect=False)
    await raw.connect()
    offers: Recorder[SignallingEvent] = Recorder()
    raw.add_listener(offers)
    await raw.request(JoinLobby(lobby_id=lobby.lobby_id, name="Ghost"))
    request = await lobby.events.wait_for(lambda e: isinstance(e, JoinRequested))
    assert isinstance(request, JoinRequested)
    await lobby.host.accept(request.connection_id)
    await offers.wait_for(lambda e: isinstance(e, ReceivedSessionDescription))
    await raw.close()  # gone before answering
    gone = await lobby.events.wait_for(lambda e: isinstance(e, PeerGone))
    assert gone == PeerGone(request.connection_id, "Ghost", 2, "disconnected")
    assert lobby.host.peer(request.connection_id) is None
    assert lobby.host.requests == []


async def test_handshake_that_never_completes_is_shown_failed(server: SignallingServer) -> None:
    """A guest that stays connected but never answers: at the handshake deadline the peer fails, removed."""
    clock = HeldClock()
    lobby = await open_host(server, clock=clock)  # handshake deadline: 20 s on the clock
    raw = SignallingClient(server.url, reconnect=False)
    await raw.connect()
    await raw.request(JoinLobby(lobby_id=lobby.lobby_id, name="Mute"))
    request = await lobby.events.wait_for(lambda e: isinstance(e, JoinRequested))
    assert isinstance(request, JoinRequested)
    await lobby.host.accept(request.connection_id)
    await clock.wait_for_sleeper()  # the offer went out and its deadline is set
    assert not any(isinstance(e, PeerGone) for e in lobby.events.events)
    clock.advance(20.0)
    gone = await lobby.events.wait_for(lambda e: isinstance(e, PeerGone))
    assert gone == PeerGone(request.connection_id, "Mute", 2, "failed")
    await raw.close()
    await lobby.host.close()


async def test_guest_signalling_drop_is_resumed_without_dropping_the_peer(lobby: Lobby) -> None:
    """The guest's websocket dies; it resumes with its token and the peer link never drops."""
    guest, _, guest_id = await connect_guest(lobby)
    mark = lobby.events.mark
    signals: Recorder[SignallingEvent] = Recorder()
    guest.signalling.add_listener(signals)
    assert lobby.server.abort_connection(ConnectionId(guest_id))
    await signals.wait_for(lambda e: isinstance(e, Resumed))
    resumed = await lobby.events.wait_for(lambda e: isinstance(e, PeerResumed), after=mark)
    assert isinstance(resumed, PeerResumed)
    assert (resumed.old_connection_id, resumed.peer_id) == (guest_id, 2)
    update = await lobby.events.wait_for(
        lambda e: isinstance(e, PeerUpdated) and e.connection_id != guest_id, after=mark
    )
    assert isinstance(update, PeerUpdated)
    assert update.stats.state is LinkState.CONNECTED
    assert not any(isinstance(e, PeerGone) for e in lobby.events.events)
    guest.send_chat("still here")
    chat = await lobby.events.wait_for(lambda e: isinstance(e, ChatReceived), after=mark)
    assert chat == ChatReceived(update.connection_id, "Bob", "still here")
    await guest.leave()


async def test_host_signalling_drop_is_resumed_without_dropping_peers(lobby: Lobby) -> None:
    """The host's websocket dies; it resumes, guests see host away then back, the link stays."""
    guest, events, guest_id = await connect_guest(lobby)
    host_id = lobby.host.signalling.connection_id
    assert host_id is not None
    mark = lobby.events.mark
    assert lobby.server.abort_connection(ConnectionId(host_id))
    await lobby.events.wait_for(lambda e: e == SignallingStatus("restored"), after=mark)
    away = await events.wait_for(phase(GuestPhase.HOST_AWAY))
    await events.wait_for(phase(GuestPhase.CONNECTED), after=events.events.index(away) + 1)
    assert lobby.host.peer(guest_id) is not None
    lobby.host.send_chat("back")
    assert await events.wait_for(lambda e: isinstance(e, GuestChat)) == GuestChat("back")
    # Signalling works again too: a new guest can be accepted.
    second, _, _ = await connect_guest(lobby, "Cy")
    await second.leave()
    await guest.leave()


async def test_join_errors_are_readable(lobby: Lobby) -> None:
    """A wrong code is a ServerError with the server's sentence; the guest ends as failed."""
    guest, _ = await open_guest(lobby.server)
    with pytest.raises(ServerError, match="no lobby") as raised:
        await guest.join("ZZZZZZ", "Bob")
    assert raised.value.code is ErrorCode.LOBBY_NOT_FOUND
    assert guest.status.phase is GuestPhase.FAILED
    await guest.signalling.close()


async def test_auto_accept_connects_without_a_decision(server: SignallingServer) -> None:
    """With auto-accept on, a join request goes straight to a connected peer."""
    lobby = await open_host(server, auto_accept=True)
    guest, events = await open_guest(server)
    await guest.join(lobby.lobby_id, "Dee")
    await events.wait_for(phase(GuestPhase.CONNECTED))
    assert any(isinstance(e, RequestGone) and e.reason == "accepted" for e in lobby.events.events)
    await guest.leave()
    await lobby.host.close()


async def test_closing_the_host_closes_its_peer_connections_itself(lobby: Lobby) -> None:
    """Closing the session closes the host's own peer connections (a frozen guest cannot hold them)."""
    guest, _, _ = await connect_guest(lobby)
    assert guest.link is not None
    # The guest freezes: it hears neither its peer connection nor the server.
    guest.link.pc.remove_all_listeners()
    guest.signalling.remove_listener(guest._on_signal)
    host_links = [g.link for g in lobby.host._guests.values()]
    await lobby.host.close()
    assert [link.pc.connectionState for link in host_links] == ["closed"]
    # Its data channel closing is all the frozen guest notices.
    assert (await guest.wait_ended()).phase is GuestPhase.LOBBY_CLOSED
    await guest.signalling.close()


async def test_a_dropped_guest_is_reported_lost_then_gone_when_its_grace_runs_out() -> None:
    """A connected guest's drop is PeerConnectionLost with the grace; the grace over, PeerGone(lost)."""
    config = ServerConfig(port=0, timeouts=Timeouts(guest_grace=1, host_grace=10, close_timeout=1))
    async with serve(config) as server:
        lobby = await open_host(server, guest_grace=1)
        guest, _, guest_id = await connect_guest(lobby)
        mark = lobby.events.mark
        await guest.signalling.close()  # its page went away: no resume will come
        lost = await lobby.events.wait_for(lambda e: isinstance(e, PeerConnectionLost), after=mark)
        assert lost == PeerConnectionLost(guest_id, "Bob", 2, 1)
        gone = await lobby.events.wait_for(lambda e: isinstance(e, PeerGone), after=mark)
        assert gone == PeerGone(guest_id, "Bob", 2, "lost")
        await guest.leave()
        await lobby.host.close()
