"""A link is connected as soon as ICE has nominated a pair, not at aioice's next pacing tick."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aioice.ice
import pytest
from aiortc import RTCPeerConnection

from lobbyhost_app.net.channels import GameChannel, LobbyChannel
from lobbyhost_app.net.link import PeerLink
from lobbyhost_app.net.route_preference import ice_connection
from tests.timeouts import scaled

from ..loopback import LOOPBACK
from .test_link import handshake

#: aioice's pacing timer (Ta), which it sleeps between checks and before it
#: looks at the check list's outcome.
AIOICE_PACING_S = 0.02


class NeverPacedAgain:
    """aioice's view of asyncio, with its 20 ms pacing sleep made an hour long.

    Only aioice's module sees it: every other sleep (consent checks, timeouts)
    and the rest of asyncio are the real ones.
    """

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    @staticmethod
    async def sleep(delay: float, result: Any = None) -> Any:
        return await asyncio.sleep(3600.0 if delay == AIOICE_PACING_S else delay, result)


@pytest.fixture
async def links() -> AsyncIterator[tuple[PeerLink, PeerLink]]:
    host = PeerLink(RTCPeerConnection(LOOPBACK.configuration()))
    guest = PeerLink(RTCPeerConnection(LOOPBACK.configuration()))
    LobbyChannel(host).open()
    GameChannel(host).open()
    LobbyChannel(guest)
    GameChannel(guest)
    guest.accept_channels()
    yield host, guest
    await host.close()
    await guest.close()


async def test_links_open_without_waiting_for_aioice_to_look_again(
    links: tuple[PeerLink, PeerLink], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With aioice's next look at its check list an hour away, both sides still connect now."""
    monkeypatch.setattr(aioice.ice, "asyncio", NeverPacedAgain())
    host, guest = links
    await handshake(host, guest)  # both open within the handshake's timeout
    assert host.pc.iceConnectionState == guest.pc.iceConnectionState == "completed"
    # What aioice starts once connected still runs: the consent checks (RFC 7675).
    for link in (host, guest):
        connection = ice_connection(link.pc)
        assert connection is not None and not connection._query_consent_task.done()


async def test_a_link_closed_while_checking_reports_the_failure() -> None:
    """Closing a link before the other side answers ends its ICE as failed, not completed."""
    link = PeerLink(RTCPeerConnection(LOOPBACK.configuration()))
    LobbyChannel(link).open()
    await link.pc.setLocalDescription(await link.pc.createOffer())
    peer = RTCPeerConnection(LOOPBACK.configuration())
    try:
        # The other side's answer arrives, but its candidates never answer a check.
        await peer.setRemoteDescription(link.pc.localDescription)
        await peer.setLocalDescription(await peer.createAnswer())
        answer = peer.localDescription.sdp
    finally:
        await peer.close()
    await link.set_remote_description("answer", answer)
    closing = asyncio.ensure_future(link.close())
    async with asyncio.timeout(scaled(10)):
        await closing
        with pytest.raises(ConnectionError):
            await link.wait_open()
    assert link.pc.iceConnectionState in ("failed", "closed")
