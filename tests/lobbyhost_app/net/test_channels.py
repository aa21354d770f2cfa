"""The lobby channel against a raw peer: two aiortc peers wired directly, on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from aiortc import RTCDataChannel, RTCPeerConnection

from lobbyhost_app.net.channels import LOBBY_CHANNEL, LobbyChannel
from lobbyhost_app.net.link import PeerLink
from lobbyhost_app.session_values import LinkState
from tests.timeouts import scaled

from ..loopback import LOOPBACK
from .test_link import handshake


@pytest.fixture
async def links() -> AsyncIterator[tuple[PeerLink, PeerLink]]:
    host = PeerLink(RTCPeerConnection(LOOPBACK.configuration()))
    guest = PeerLink(RTCPeerConnection(LOOPBACK.configuration()))
    yield host, guest
    await host.close()
    await guest.close()


async def test_a_pong_for_no_ping_in_flight_leaves_the_rtt_as_it_was(
    links: tuple[PeerLink, PeerLink],
) -> None:
    """Only a pong answering a ping the host sent counts: forged, replayed and absurd t values change no RTT."""
    host, guest = links
    host_lobby = LobbyChannel(host, ping_interval=3600.0)  # one ping, as the channel opens
    loop = asyncio.get_running_loop()
    first_rtt: asyncio.Future[float] = loop.create_future()
    rtts: list[float] = []

    def on_rtt(ms: float) -> None:
        rtts.append(ms)
        if not first_rtt.done():
            first_rtt.set_result(ms)

    host_lobby.on_rtt = on_rtt
    chat: asyncio.Future[str] = loop.create_future()
    host_lobby.on_chat = chat.set_result

    # The guest side is raw: it answers the host's ping itself, then forges pongs.
    pings: list[float] = []
    raw: asyncio.Future[RTCDataChannel] = loop.create_future()

    def take(channel: RTCDataChannel) -> None:
        def answer(data: str | bytes) -> None:
            message = json.loads(data)
            if message["type"] == "ping":
                pings.append(message["t"])
                channel.send(json.dumps({"type": "pong", "t": message["t"]}))

        channel.on("message", answer)
        # What a LobbyChannel would do on this side: the channel opening opens the link.
        if channel.readyState == "open":
            guest.mark_open()
        else:
            channel.on("open", guest.mark_open)
        raw.set_result(channel)

    guest.on_channel(LOBBY_CHANNEL, take)
    guest.accept_channels()
    host_lobby.open()
    await handshake(host, guest)
    async with asyncio.timeout(scaled(5)):
        measured = await first_rtt
        channel = await raw
    assert host.rtt_ms == measured

    sent = pings[0]
    for forged in (
        f'{{"type":"pong","t":{sent - 60_000.0!r}}}',  # a ping a minute older than any sent
        f'{{"type":"pong","t":{sent!r}}}',  # the real pong, replayed
        '{"type":"pong","t":-1e308}',
        '{"type":"pong","t":1' + "0" * 400 + "}",  # an int no float can hold
        '{"type":"pong","t":"soon"}',
    ):
        channel.send(forged)
    channel.send(json.dumps({"type": "chat", "text": "after the pongs"}))
    async with asyncio.timeout(scaled(5)):
        assert await chat == "after the pongs"  # the channel is ordered: every pong came first
    assert rtts == [measured]
    assert host.rtt_ms == measured
    assert host.state is LinkState.CONNECTED
