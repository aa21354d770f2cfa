"""A hostile guest against a real HostSession: a real aiortc peer behind a raw signalling client.

Whatever the hostile guest sends (descriptions and candidates through the
server, messages on the ``lobby`` channel), the most it can do is end its own
link, as ``failed``; nothing raises out of a callback, and a well-behaved guest
in the same lobby stays connected throughout. Everything stays on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import msgspec
import pytest
from aiortc import RTCDataChannel, RTCPeerConnection

from lobbyhost_app.net.channels import GAME_CHANNEL, LOBBY_CHANNEL
from lobbyhost_app.net.guest import GuestSession
from lobbyhost_app.net.link import MAX_REMOTE_CANDIDATES, PeerLink
from lobbyhost_app.net.signalling import SignallingClient
from lobbyhost_app.net.signalling_api import SignallingEvent
from lobbyhost_app.session_values import (
    ChatReceived,
    GuestChat,
    GuestEvent,
    HostEvent,
    JoinRequested,
    PeerGone,
    PeerUpdated,
)
from signalling_server import Limits, ServerConfig, SignallingServer, Timeouts, serve
from signalling_server.protocol import (
    JoinLobby,
    ReceivedSessionDescription,
    RequestAccepted,
    SendIceCandidate,
    SetSessionDescription,
    decode_description,
)
from tests.timeouts import scaled

from ..loopback import LOOPBACK
from .recorder import Recorder
from .test_sessions import Lobby, connect_guest, connected_peer, open_host

MALLORY = "Mallory"


@pytest.fixture
async def server() -> AsyncIterator[SignallingServer]:
    """A server that lets one client relay a thousand candidates at once."""
    config = ServerConfig(
        port=0,
        limits=Limits(password_hash_iterations=1, actions_per_second=5000, action_burst=5000),
        timeouts=Timeouts(guest_grace=10, host_grace=10, close_timeout=1),
    )
    async with serve(config) as running:
        yield running


@dataclass(eq=False)
class HostileGuest:
    """Joins like a guest, then sends whatever a test wants, as a browser page could."""

    signalling: SignallingClient
    link: PeerLink
    host_id: str
    connection_id: str
    answer: str
    lobby_channel: asyncio.Future[RTCDataChannel]

    async def send_answer(self, sdp: str) -> None:
        description = msgspec.json.encode({"type": "answer", "sdp": sdp})
        await self.signalling.send(
            SetSessionDescription(connection_id=self.host_id, description=msgspec.Raw(description))
        )

    async def send_candidate(self, candidate: str) -> None:
        raw = msgspec.json.encode({"candidate": candidate, "sdpMid": "0", "sdpMLineIndex": 0})
        await self.signalling.send(
            SendIceCandidate(connection_id=self.host_id, candidate=msgspec.Raw(raw))
        )

    async def open_lobby_channel(self) -> RTCDataChannel:
        """The host's ``lobby`` channel, once it is open on this side."""
        async with asyncio.timeout(scaled(10)):
            channel = await self.lobby_channel
            if channel.readyState != "open":
                opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                channel.on("open", lambda: opened.set_result(None))
                await opened
        return channel

    async def close(self) -> None:
        await self.link.close()
        await self.signalling.close()


async def join_hostile(lobby: Lobby) -> HostileGuest:
    """Mallory asks to join, is accepted, and has the host's offer and an answer ready (unsent)."""
    signalling = SignallingClient(lobby.server.url, reconnect=False, action_budget=(5000.0, 5000))
    await signalling.connect()
    heard: Recorder[SignallingEvent] = Recorder()
    signalling.add_listener(heard)
    await signalling.request(JoinLobby(lobby_id=lobby.lobby_id, name=MALLORY))
    request = await lobby.events.wait_for(
        lambda e: isinstance(e, JoinRequested) and e.name == MALLORY
    )
    assert isinstance(request, JoinRequested)
    await lobby.host.accept(request.connection_id)
    accepted = await heard.wait_for(lambda e: isinstance(e, RequestAccepted))
    offered = await heard.wait_for(lambda e: isinstance(e, ReceivedSessionDescription))
    assert isinstance(accepted, RequestAccepted) and isinstance(offered, ReceivedSessionDescription)

    link = PeerLink(RTCPeerConnection(LOOPBACK.configuration()))
    lobby_channel: asyncio.Future[RTCDataChannel] = asyncio.get_running_loop().create_future()
    link.on_channel(LOBBY_CHANNEL, lobby_channel.set_result)
    link.on_channel(GAME_CHANNEL, lambda channel: None)
    link.accept_channels()
    await link.set_remote_description("offer", decode_description(offered.description).sdp)
    await link.pc.setLocalDescription(await link.pc.createAnswer())
    answer = link.pc.localDescription.sdp
    return HostileGuest(
        signalling, link, accepted.host_connection_id, request.connection_id, answer, lobby_channel
    )


@pytest.fixture
async def mallory(lobby: Lobby, bob: Bystander) -> AsyncIterator[HostileGuest]:
    """The hostile guest, accepted after Bob is connected, its answer not sent yet."""
    hostile = await join_hostile(lobby)
    yield hostile
    await hostile.close()


@dataclass
class Bystander:
    guest: GuestSession
    events: Recorder[GuestEvent]
    connection_id: str


@pytest.fixture
async def lobby(server: SignallingServer) -> AsyncIterator[Lobby]:
    opened = await open_host(server)
    yield opened
    await opened.host.close()


@pytest.fixture
async def bob(lobby: Lobby) -> AsyncIterator[Bystander]:
    """A well-behaved guest, connected before Mallory comes."""
    guest, events, connection_id = await connect_guest(lobby)
    yield Bystander(guest, events, connection_id)
    await guest.leave()


async def assert_still_connected(lobby: Lobby, bob: Bystander) -> None:
    """Bob was never dropped, and chat still goes both ways between him and the host."""
    assert not any(
        isinstance(e, PeerGone) and e.connection_id == bob.connection_id
        for e in lobby.events.events
    )
    mark = bob.events.mark
    lobby.host.send_chat("still there, Bob?", to=bob.connection_id)
    await bob.events.wait_for(lambda e: e == GuestChat("still there, Bob?"), after=mark)
    bob.guest.send_chat("yes")
    await lobby.events.wait_for(lambda e: e == ChatReceived(bob.connection_id, "Bob", "yes"))


def gone(connection_id: str) -> Callable[[HostEvent], bool]:
    return lambda e: isinstance(e, PeerGone) and e.connection_id == connection_id


def connected(connection_id: str) -> Callable[[HostEvent], bool]:
    return lambda e: (
        isinstance(e, PeerUpdated) and connected_peer(e) and e.connection_id == connection_id
    )


# Signalling: descriptions and candidates ----------------------------------------------------


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(
            lambda sdp: sdp.replace("a=sctp-port:5000", "a=sctp-port:99999999"),
            id="sctp-port-out-of-range",
        ),
        pytest.param(
            lambda sdp: sdp.replace("a=sctp-port:5000", "a=sctp-port:-1"), id="sctp-port-negative"
        ),
        pytest.param(lambda sdp: sdp.replace("a=sctp-port:5000\r\n", ""), id="sctp-port-missing"),
        pytest.param(lambda sdp: "this is not SDP", id="not-sdp"),
        pytest.param(
            lambda sdp: sdp.replace("a=fingerprint:sha-256 ", "a=fingerprint:"), id="broken-line"
        ),
    ],
)
async def test_an_answer_aiortc_cannot_take_fails_that_guest_at_once(
    lobby: Lobby, bob: Bystander, mallory: HostileGuest, spoil: Callable[[str], str]
) -> None:
    """An answer that is not SDP, or names an SCTP port out of range, ends Mallory's link as failed right away."""
    spoilt = spoil(mallory.answer)
    assert spoilt != mallory.answer
    await mallory.send_answer(spoilt)
    ended = await lobby.events.wait_for(gone(mallory.connection_id))
    assert ended == PeerGone(mallory.connection_id, MALLORY, 3, "failed")
    assert lobby.host.peer(mallory.connection_id) is None
    await assert_still_connected(lobby, bob)


async def test_a_second_answer_fails_that_guest(
    lobby: Lobby, bob: Bystander, mallory: HostileGuest
) -> None:
    """Once connected, an answer sent again ends Mallory's link as failed (aiortc would raise InvalidStateError)."""
    await mallory.send_answer(mallory.answer)
    await lobby.events.wait_for(connected(mallory.connection_id))
    await mallory.send_answer(mallory.answer)
    ended = await lobby.events.wait_for(gone(mallory.connection_id))
    assert ended == PeerGone(mallory.connection_id, MALLORY, 3, "failed")
    await assert_still_connected(lobby, bob)


async def test_a_thousand_candidates_are_cut_to_the_budget_and_said_once(
    lobby: Lobby, bob: Bystander, mallory: HostileGuest, caplog: pytest.LogCaptureFixture
) -> None:
    """1000 trickled candidates: the host uses 64, logs the rest as ignored once, and Mallory still connects."""
    # Sent before the answer, so the host holds them until the description comes,
    # and each one names a port on 127.0.0.1 (lowest priority: real pairs go first).
    for n in range(1000):
        await mallory.send_candidate(f"candidate:{n} 1 udp 1 127.0.0.1 {20000 + n} typ host")
    await mallory.send_answer(mallory.answer.replace("a=end-of-candidates\r\n", ""))
    await lobby.events.wait_for(connected(mallory.connection_id))
    said = [r for r in caplog.records if "ICE candidates: ignoring the rest" in r.getMessage()]
    assert len(said) == 1
    assert f"more than {MAX_REMOTE_CANDIDATES}" in said[0].getMessage()
    await assert_still_connected(lobby, bob)


async def test_candidates_in_the_answer_count_against_the_same_budget(
    lobby: Lobby, bob: Bystander, mallory: HostileGuest, caplog: pytest.LogCaptureFixture
) -> None:
    """An answer carrying 100 extra candidate lines is cut to the budget, said once; Mallory still connects."""
    extra = "".join(
        f"a=candidate:x{n} 1 udp 1 127.0.0.1 {20000 + n} typ host\r\n" for n in range(100)
    )
    stuffed = mallory.answer.replace("a=end-of-candidates\r\n", extra + "a=end-of-candidates\r\n")
    assert stuffed.count("a=candidate:") > MAX_REMOTE_CANDIDATES
    await mallory.send_answer(stuffed)
    await mallory.send_candidate("candidate:late 1 udp 1 127.0.0.1 30000 typ host")
    await lobby.events.wait_for(connected(mallory.connection_id))
    said = [r for r in caplog.records if "ICE candidates: ignoring the rest" in r.getMessage()]
    assert len(said) == 1
    await assert_still_connected(lobby, bob)


# The lobby channel ----------------------------------------------------------------------------

#: Each is ignored: Mallory's link stays up and its next chat line arrives.
JUNK = [
    pytest.param("[" * 100_000, id="json-nested-100k-deep"),
    pytest.param(b"\xff\xfe\xfd{" + b"\x80" * 64, id="invalid-utf8-binary"),
    pytest.param('{"type":"pong","t":1' + "0" * 400 + "}", id="pong-t-too-large-for-a-float"),
    pytest.param('{"type":"pong","t":-1e999}', id="pong-t-overflows"),
    pytest.param('{"type":"ping","t":NaN}', id="ping-t-nan"),
    pytest.param('{"type":"chat","text":["not", "text"]}', id="chat-text-not-a-string"),
    pytest.param('["type", "chat"]', id="not-an-object"),
    pytest.param('{"type":{"nested":"type"}}', id="type-not-a-string"),
]


@pytest.mark.parametrize("junk", JUNK)
async def test_junk_on_the_lobby_channel_is_ignored(
    lobby: Lobby,
    bob: Bystander,
    mallory: HostileGuest,
    junk: str | bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Undecodable or malformed lobby messages neither raise nor drop anyone: Mallory's next chat line still arrives."""
    await mallory.send_answer(mallory.answer)
    channel = await mallory.open_lobby_channel()
    channel.send(junk)
    channel.send(json.dumps({"type": "chat", "text": "after the junk"}))
    said = await lobby.events.wait_for(lambda e: isinstance(e, ChatReceived) and e.name == MALLORY)
    assert said == ChatReceived(mallory.connection_id, MALLORY, "after the junk")
    assert not any(isinstance(e, PeerGone) for e in lobby.events.events)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    await assert_still_connected(lobby, bob)


@pytest.mark.parametrize("reason", ["kicked", "closed", "lost", "x" * 5000, None])
async def test_a_guest_saying_bye_is_reported_as_left_whatever_reason_it_gives(
    lobby: Lobby, bob: Bystander, mallory: HostileGuest, reason: str | None
) -> None:
    """A guest's own bye{kicked} (or any other reason) is reported as left: guests neither kick nor close lobbies."""
    await mallory.send_answer(mallory.answer)
    channel = await mallory.open_lobby_channel()
    channel.send(json.dumps({"type": "bye", "reason": reason}))
    ended = await lobby.events.wait_for(gone(mallory.connection_id))
    assert ended == PeerGone(mallory.connection_id, MALLORY, 3, "left")
    await assert_still_connected(lobby, bob)
