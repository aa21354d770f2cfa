"""Host and guest sessions fed typed events through a fake signalling connection: no network."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from lobbyhost_app.net.errors import ServerError
from lobbyhost_app.net.guest import GuestSession
from lobbyhost_app.net.host import HostSession
from lobbyhost_app.net.signalling_api import ConnectionClosed, ResumeFailed
from lobbyhost_app.session_values import (
    UNREACHABLE_HINT,
    GuestEvent,
    GuestPhase,
    GuestStatus,
    HostEvent,
    JoinRequested,
    LobbyEnded,
    LobbyInfoChanged,
    RequestGone,
    SignallingStatus,
)
from signalling_server.protocol import (
    CloseReason,
    ErrorCode,
    JoinLobby,
    Kicked,
    KickGuest,
    KickReason,
    LobbyClosed,
    LobbyInfo,
    MemberInfo,
    RejectJoinRequest,
    RejectReason,
    RequestAccepted,
    RequestCancelled,
    RequestRejected,
    RequestRemoved,
    RequestToJoin,
    ServerEvent,
)
from signalling_server.protocol.actions import Action

from ..loopback import LOOPBACK
from .fake_signalling import FakeSignalling
from .recorder import Recorder


async def waiting_guest() -> tuple[GuestSession, FakeSignalling]:
    """A guest that asked to join lobby ABC123 and waits for the host."""
    signalling = FakeSignalling()
    guest = GuestSession(signalling, LOOPBACK)
    await guest.join("ABC123", "Bob")
    assert guest.status == GuestStatus(GuestPhase.WAITING, "Ann's lobby")
    return guest, signalling


# The guest's side ----------------------------------------------------------------------


async def test_join_sends_one_typed_action() -> None:
    """join() sends join_lobby with the code and name, and no password field when there is none."""
    guest, signalling = await waiting_guest()
    assert signalling.sent == [JoinLobby(lobby_id="ABC123", name="Bob")]
    assert guest.lobby_name == "Ann's lobby"


@pytest.mark.parametrize(
    ("event", "ended"),
    [
        pytest.param(
            Kicked("ABC123", KickReason.KICKED_BY_HOST, "afk"),
            GuestStatus(GuestPhase.KICKED, "afk", KickReason.KICKED_BY_HOST),
            id="kicked-with-words",
        ),
        pytest.param(
            Kicked("ABC123", KickReason.KICKED_BY_HOST),
            GuestStatus(GuestPhase.KICKED, "", KickReason.KICKED_BY_HOST),
            id="kicked-without-words",
        ),
        pytest.param(
            Kicked("ABC123", KickReason.UNREACHABLE),
            GuestStatus(GuestPhase.FAILED, UNREACHABLE_HINT, KickReason.UNREACHABLE),
            id="host-could-not-reach-the-guest",
        ),
        pytest.param(
            RequestRejected("ABC123", RejectReason.REJECTED_BY_HOST, "host_left"),
            GuestStatus(GuestPhase.REJECTED, "host_left", RejectReason.REJECTED_BY_HOST),
            id="host-typed-host_left",
        ),
        pytest.param(
            RequestRejected("ABC123", RejectReason.HOST_LEFT),
            GuestStatus(GuestPhase.HOST_LEFT, "", RejectReason.HOST_LEFT),
            id="host-really-left",
        ),
        pytest.param(
            RequestRejected("ABC123", RejectReason.TIMEOUT),
            GuestStatus(GuestPhase.REJECTED, "", RejectReason.TIMEOUT),
            id="nobody-answered",
        ),
        pytest.param(
            LobbyClosed("ABC123", CloseReason.SERVER_SHUTDOWN),
            GuestStatus(GuestPhase.LOBBY_CLOSED, "", CloseReason.SERVER_SHUTDOWN),
            id="server-shut-down",
        ),
        pytest.param(
            LobbyClosed("ABC123", CloseReason.HOST_LEFT),
            GuestStatus(GuestPhase.HOST_LEFT, "", CloseReason.HOST_LEFT),
            id="lobby-closed-host-left",
        ),
    ],
)
async def test_the_phase_comes_from_the_reason_and_the_hosts_words_stay_words(
    event: Kicked | RequestRejected | LobbyClosed, ended: GuestStatus
) -> None:
    """Each ending: the phase follows the server's reason code; what the host typed is only the detail."""
    guest, signalling = await waiting_guest()
    signalling.feed(event)
    assert await guest.wait_ended() == ended


async def test_losing_the_server_while_waiting_ends_as_failed() -> None:
    """ConnectionClosed (or a refused resume) before the link exists ends the guest as failed."""
    guest, signalling = await waiting_guest()
    signalling.feed(ConnectionClosed("the signalling connection was lost"))
    ended = await guest.wait_ended()
    assert ended.phase is GuestPhase.FAILED
    assert ended.detail == "lost the connection to the server"


async def test_a_refused_resume_while_waiting_ends_as_failed() -> None:
    """ResumeFailed before the link exists ends the guest as failed too."""
    guest, signalling = await waiting_guest()
    refused = ServerError(ErrorCode.INVALID_TOKEN, "unknown token", "resume")
    signalling.feed(ResumeFailed(refused))
    assert (await guest.wait_ended()).phase is GuestPhase.FAILED


async def test_a_refused_join_is_failed_with_the_servers_sentence() -> None:
    """join() raises the server's error and the guest shows it as failed."""
    signalling = FakeSignalling()
    signalling.refuse_next = ServerError(ErrorCode.LOBBY_LOCKED, "the lobby is locked", "join")
    guest = GuestSession(signalling, LOOPBACK)
    events: Recorder[GuestEvent] = Recorder()
    guest.add_listener(events)
    with pytest.raises(ServerError) as raised:
        await guest.join("ABC123", "Bob")
    assert raised.value.code is ErrorCode.LOBBY_LOCKED
    assert events.events == [GuestStatus(GuestPhase.FAILED, "the lobby is locked")]


class AcceptedInTheSameRead(FakeSignalling):
    """The server's reply to join_lobby and an auto-accepting host's request_accepted
    arrive together: listeners hear the acceptance before join() gets its reply."""

    async def request(self, action: Action) -> ServerEvent:
        reply = await super().request(action)
        if isinstance(action, JoinLobby):
            self.feed(RequestAccepted("ABC123", "host-1", "me", 2, "guest-token", []))
        return reply


async def test_an_acceptance_arriving_with_the_join_reply_is_not_overwritten_by_waiting() -> None:
    """A guest accepted in the same read as its join reply stays connecting, never back to waiting."""
    guest = GuestSession(AcceptedInTheSameRead(), LOOPBACK)
    events: Recorder[GuestEvent] = Recorder()
    guest.add_listener(events)
    await guest.join("ABC123", "Bob")
    assert guest.status.phase is GuestPhase.CONNECTING
    assert [e.phase for e in events.events if isinstance(e, GuestStatus)] == [GuestPhase.CONNECTING]
    await guest.leave()


# The host's side -----------------------------------------------------------------------


async def started_host() -> tuple[HostSession, FakeSignalling, Recorder[HostEvent]]:
    signalling = FakeSignalling()
    host = HostSession(signalling, LOOPBACK)
    events: Recorder[HostEvent] = Recorder()
    host.add_listener(events)
    opened = await host.start(display_name="Ann")
    assert opened.lobby_id == "ABC123"
    return host, signalling, events


def gone(connection_id: str) -> Callable[[HostEvent], bool]:
    return lambda e: isinstance(e, RequestGone) and e.connection_id == connection_id


async def test_requests_come_and_go_with_the_servers_reason() -> None:
    """request_to_join lists a request; cancelled and removed (with its reason) take it off."""
    host, signalling, events = await started_host()
    for connection_id, name in (("c1", "Bob"), ("c2", "Eve"), ("c3", "Cy")):
        signalling.feed(RequestToJoin(connection_id, name))
    assert [r.name for r in host.requests] == ["Bob", "Eve", "Cy"]
    requested = events.events[1]
    assert isinstance(requested, JoinRequested) and requested.connection_id == "c1"
    signalling.feed(RequestCancelled("c1"))
    signalling.feed(RequestRemoved("c2", RejectReason.TIMEOUT))
    signalling.feed(RequestRemoved("c3", RejectReason.REJECTED_BY_HOST))
    assert await events.wait_for(gone("c1")) == RequestGone("c1", "cancelled")
    assert await events.wait_for(gone("c2")) == RequestGone("c2", "timeout")
    assert await events.wait_for(gone("c3")) == RequestGone("c3", "rejected_by_host")
    assert host.requests == []


async def test_the_hosts_words_travel_as_message_never_as_reason() -> None:
    """reject() and kick() put what the host typed in ``message``; none typed, none sent."""
    host, signalling, _ = await started_host()
    await host.reject("c1", "host_left")
    await host.reject("c2")
    await host.kick("c3", "afk")
    assert signalling.sent[1:] == [
        RejectJoinRequest(connection_id="c1", message="host_left"),
        RejectJoinRequest(connection_id="c2"),
        KickGuest(connection_id="c3", message="afk"),
    ]


async def test_lobby_info_end_and_lost_signalling_become_host_events() -> None:
    """lobby_info, lobby_closed (with its reason) and a connection gone for good reach listeners."""
    host, signalling, events = await started_host()
    info = LobbyInfo("ABC123", "Ann's lobby", False, 8, False, MemberInfo("host-1", "Ann", 1), [])
    signalling.feed(info)
    signalling.feed(ConnectionClosed("the signalling connection was lost"))
    signalling.feed(LobbyClosed("ABC123", CloseReason.SERVER_SHUTDOWN))
    assert events.events[1:] == [
        LobbyInfoChanged(info),
        SignallingStatus("failed"),
        LobbyEnded(CloseReason.SERVER_SHUTDOWN),
    ]
    assert host.lobby_id is None
