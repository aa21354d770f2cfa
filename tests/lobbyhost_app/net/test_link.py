"""PeerLink's channel registry: two aiortc peers wired to each other directly, on 127.0.0.1."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator

import pytest
from aiortc import RTCDataChannel, RTCPeerConnection

from lobbyhost_app.net.channels import GameChannel, LobbyChannel
from lobbyhost_app.net.link import PeerLink
from lobbyhost_app.session_values import LinkState
from tests.timeouts import scaled

from ..loopback import LOOPBACK

UDP_LABEL = "udp:27960"


async def handshake(offerer: PeerLink, answerer: PeerLink) -> None:
    """Offer and answer handed over directly, as signalling would; until both links are open."""
    await offerer.pc.setLocalDescription(await offerer.pc.createOffer())
    await answerer.set_remote_description("offer", offerer.pc.localDescription.sdp)
    await answerer.pc.setLocalDescription(await answerer.pc.createAnswer())
    await offerer.set_remote_description("answer", answerer.pc.localDescription.sdp)
    async with asyncio.timeout(scaled(10)):
        await asyncio.gather(offerer.wait_open(), answerer.wait_open())


@pytest.fixture
async def links() -> AsyncIterator[tuple[PeerLink, PeerLink]]:
    host = PeerLink(RTCPeerConnection(LOOPBACK.configuration()))
    guest = PeerLink(RTCPeerConnection(LOOPBACK.configuration()))
    yield host, guest
    await host.close()
    await guest.close()


async def test_a_channel_the_answerer_has_no_handler_for_is_ignored(
    links: tuple[PeerLink, PeerLink], caplog: pytest.LogCaptureFixture
) -> None:
    """The guest takes lobby and game, logs and ignores an unknown label; game data still flows."""
    host, guest = links
    host_lobby, host_game = LobbyChannel(host), GameChannel(host)
    LobbyChannel(guest)
    guest_game = GameChannel(guest)
    host.on_channel(UDP_LABEL, lambda channel: None)
    guest.accept_channels()
    host_lobby.open()
    host_game.open()
    host.open_channel(UDP_LABEL, ordered=False, max_retransmits=0)
    received: asyncio.Future[str | bytes] = asyncio.get_running_loop().create_future()
    guest_game.on_message = received.set_result
    with caplog.at_level(logging.INFO, logger="lobbyhost_app.net.link"):
        await handshake(host, guest)
        assert host_game.send(b"\x00state")
        async with asyncio.timeout(scaled(5)):
            assert await received == b"\x00state"
    assert f"ignoring unknown data channel '{UDP_LABEL}'" in caplog.text
    assert host.state is guest.state is LinkState.CONNECTED


async def test_a_registered_channel_opens_with_its_options_and_carries_data_both_ways(
    links: tuple[PeerLink, PeerLink],
) -> None:
    """A third user of the registry (unordered, no retransmits) gets its channel on both sides."""
    host, guest = links
    LobbyChannel(host).open()
    LobbyChannel(guest)
    loop = asyncio.get_running_loop()
    guest_side: asyncio.Future[RTCDataChannel] = loop.create_future()
    host_heard: asyncio.Future[str | bytes] = loop.create_future()
    guest.on_channel(UDP_LABEL, guest_side.set_result)

    def host_side(channel: RTCDataChannel) -> None:
        channel.on("message", host_heard.set_result)

    host.on_channel(UDP_LABEL, host_side)
    guest.accept_channels()
    opened = host.open_channel(UDP_LABEL, ordered=False, max_retransmits=0)
    assert (opened.ordered, opened.maxRetransmits) == (False, 0)
    await handshake(host, guest)
    async with asyncio.timeout(scaled(5)):
        channel = await guest_side
        assert channel.label == UDP_LABEL and channel.ordered is False
        if channel.readyState != "open":
            ready: asyncio.Future[None] = loop.create_future()
            channel.on("open", lambda: ready.set_result(None))
            await ready
        assert guest.send(channel, b"datagram")
        assert await host_heard == b"datagram"


async def test_rtt_is_the_time_on_the_clock_from_a_ping_to_its_pong_in_ms(
    links: tuple[PeerLink, PeerLink],
) -> None:
    """The host's clock reads 5.0 s when it pings and 5.25 s when the pong comes: RTT 250 ms."""
    host, guest = links
    readings = itertools.count(5.0, 0.25)  # each reading a quarter second after the last
    host_lobby = LobbyChannel(host, clock=lambda: next(readings))
    LobbyChannel(guest)  # answers pings
    first: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    def record(ms: float) -> None:
        if not first.done():
            first.set_result(ms)

    host_lobby.on_rtt = record
    guest.accept_channels()
    host_lobby.open()
    await handshake(host, guest)  # the lobby channel opens: the host pings at once
    async with asyncio.timeout(scaled(5)):
        assert await first == 250.0
    assert host.rtt_ms == 250.0


async def test_opening_a_channel_nobody_handles_is_a_mistake(
    links: tuple[PeerLink, PeerLink],
) -> None:
    """open_channel() for a label with no handler raises instead of opening a channel nobody reads."""
    host, _ = links
    with pytest.raises(ValueError, match="no handler for data channel 'chat2'"):
        host.open_channel("chat2")
