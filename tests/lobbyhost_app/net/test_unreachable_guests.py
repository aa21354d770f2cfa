"""Guests the host cannot reach: their seats are freed on the server and they are told why."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from lobbyhost_app.net.errors import ServerError
from lobbyhost_app.net.guest import GuestSession
from lobbyhost_app.net.host import HostSession
from lobbyhost_app.net.signalling import SignallingClient
from lobbyhost_app.net.signalling_api import ErrorCallback
from lobbyhost_app.session_values import (
    UNREACHABLE_HINT,
    GuestEvent,
    GuestPhase,
    GuestStatus,
    HostEvent,
    PeerGone,
)
from signalling_server import Limits, ServerConfig, SignallingServer, Timeouts, serve
from signalling_server.protocol import Action, KickReason, SetSessionDescription
from tests.signalling_server.wsclient import WsClient
from tests.timeouts import scaled

from ..loopback import LOOPBACK
from .recorder import Recorder

#: How long the host waits for an answer in these tests before giving up on a guest.
ANSWER_S = scaled(1.0)
SEATS = 8


@pytest.fixture
async def server() -> AsyncIterator[SignallingServer]:
    config = ServerConfig(
        port=0,
        limits=Limits(password_hash_iterations=1, default_max_guests=SEATS),
        timeouts=Timeouts(close_timeout=1),
    )
    async with serve(config) as running:
        yield running


async def auto_accepting_host(server: SignallingServer) -> tuple[HostSession, Recorder[HostEvent]]:
    signalling = SignallingClient(server.url)
    await signalling.connect()
    # The whole handshake may take its usual 20 s; no answer within ANSWER_S is enough to give up.
    host = HostSession(signalling, LOOPBACK, auto_accept=True, answer_timeout=ANSWER_S)
    events: Recorder[HostEvent] = Recorder()
    host.add_listener(events)
    await host.start(display_name="Ann")
    return host, events


async def silent_joiner(server: SignallingServer, lobby_id: str, number: int) -> WsClient:
    """A socket that joins and is let in, then never answers the host's offer."""
    silent = await WsClient.open(server.url, f"127.0.0.{10 + number}")
    await silent.act("join_lobby", lobby_id=lobby_id, name=f"silent {number}")
    await silent.expect("join_requested")
    await silent.expect("request_accepted")
    return silent


async def until_kicked(client: WsClient) -> dict[str, Any]:
    """Read past the host's offer and candidates until the ``kicked`` event."""
    while True:
        message = await client.next()
        if message["event"] == "kicked":
            content: dict[str, Any] = message["content"]
            return content
        assert message["event"] in ("received_session_description", "received_ice_candidate")


async def test_sockets_that_never_answer_lose_their_seats_to_a_real_guest(
    server: SignallingServer,
) -> None:
    """8 sockets that never answer fill an auto-accept lobby, are kicked as unreachable, and a 9th real guest connects."""
    host, events = await auto_accepting_host(server)
    assert host.lobby_id is not None
    silent = [await silent_joiner(server, host.lobby_id, number) for number in range(SEATS)]
    turned_away = await WsClient.open(server.url, "127.0.0.30")
    await turned_away.act("join_lobby", lobby_id=host.lobby_id, name="too early")
    await turned_away.expect_error("lobby_full")

    for client in silent:
        assert await until_kicked(client) == {"lobby_id": host.lobby_id, "reason": "unreachable"}
    gone = [e for e in events.events if isinstance(e, PeerGone)]
    assert len(gone) == SEATS and {e.reason for e in gone} == {"failed"}

    signalling = SignallingClient(server.url)
    await signalling.connect()
    guest = GuestSession(signalling, LOOPBACK)
    guest_events: Recorder[GuestEvent] = Recorder()
    guest.add_listener(guest_events)
    await guest.join(host.lobby_id, "Bob")
    await guest_events.wait_for(
        lambda e: isinstance(e, GuestStatus) and e.phase is GuestPhase.CONNECTED
    )
    await guest.leave()
    for client in (*silent, turned_away):
        await client.close()
    await host.close()


class AnswerLost(SignallingClient):
    """A guest's connection whose answer never reaches the host, as if the path were blocked."""

    async def send(self, action: Action, *, on_error: ErrorCallback | None = None) -> None:
        if not isinstance(action, SetSessionDescription):
            await super().send(action, on_error=on_error)


async def test_a_guest_the_host_gives_up_on_is_told_the_host_could_not_reach_it(
    server: SignallingServer,
) -> None:
    """When the host gives up on the handshake, the guest ends as failed with the unreachable reason and a NAT/TURN hint."""
    host, events = await auto_accepting_host(server)
    assert host.lobby_id is not None
    signalling = AnswerLost(server.url)
    await signalling.connect()
    guest = GuestSession(signalling, LOOPBACK)
    await guest.join(host.lobby_id, "Bob")
    ended = await guest.wait_ended()
    assert ended == GuestStatus(GuestPhase.FAILED, UNREACHABLE_HINT, KickReason.UNREACHABLE)
    gone = await events.wait_for(lambda e: isinstance(e, PeerGone))
    assert isinstance(gone, PeerGone) and gone.reason == "failed"
    with pytest.raises(ServerError):  # the seat is gone on the server too
        await host.kick(gone.connection_id)
    await signalling.close()
    await host.close()
