"""The host's offer is made before a guest is accepted: joins use it and stale ones are dropped."""

from __future__ import annotations

import asyncio

from aiortc import RTCPeerConnection

from lobbyhost_app.net.channels import GameChannel, LobbyChannel
from lobbyhost_app.net.link import PeerLink
from lobbyhost_app.net.prepared_offer import LinkParts, OfferPreparer

from .test_sessions import LOOPBACK

#: How long a test waits for a prepared offer.
WAIT_S = 10.0


def new_parts() -> LinkParts:
    link = PeerLink(RTCPeerConnection(LOOPBACK.configuration()))
    return LinkParts(link, LobbyChannel(link), GameChannel(link))


class Clock:
    """A monotonic clock a test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def ready(preparer: OfferPreparer) -> LinkParts:
    """The prepared parts, once they are made."""
    async with asyncio.timeout(WAIT_S):
        await preparer.made()
    parts = preparer.take()
    assert parts is not None
    return parts


async def closed(link: PeerLink) -> None:
    """Until the link's peer connection is closed (its close runs in a task)."""
    pc = link.pc
    done = asyncio.get_running_loop().create_future()

    @pc.on("connectionstatechange")
    def on_change() -> None:
        if pc.connectionState == "closed" and not done.done():
            done.set_result(None)

    if pc.connectionState != "closed":
        async with asyncio.timeout(WAIT_S):
            await done


async def test_prepared_link_carries_an_offer_with_both_channels() -> None:
    """What the host hands a newly accepted guest is an offer already made, lobby and game in it."""
    preparer = OfferPreparer(new_parts, lambda: "settings")
    preparer.prepare()
    parts = await ready(preparer)
    try:
        description = parts.link.pc.localDescription
        assert description.type == "offer"
        assert "a=candidate:" in description.sdp and "m=application" in description.sdp
        assert preparer.take() is None  # taken once; the next one is made on request
    finally:
        await parts.link.close()
        await preparer.close()


async def test_stale_prepared_offer_is_closed_not_used() -> None:
    """An offer older than its limit, or made under other ICE settings, is closed and not handed out."""
    clock = Clock()
    settings = ["first"]
    made: list[LinkParts] = []

    def parts() -> LinkParts:
        made.append(new_parts())
        return made[-1]

    preparer = OfferPreparer(parts, lambda: settings[0], max_age=60.0, clock=clock)
    try:
        preparer.prepare()
        async with asyncio.timeout(WAIT_S):
            await preparer.made()
        clock.now += 61.0
        assert preparer.take() is None
        await closed(made[0].link)

        preparer.prepare()
        async with asyncio.timeout(WAIT_S):
            await preparer.made()
        settings[0] = "other ICE servers"
        assert preparer.take() is None
        await closed(made[1].link)

        preparer.prepare()
        fresh = await ready(preparer)
        assert fresh is made[2]
        await fresh.link.close()
    finally:
        await preparer.close()


async def test_closing_the_preparer_closes_an_unused_offer() -> None:
    """A host that closes with an offer prepared and unused closes its peer connection too."""
    made: list[LinkParts] = []

    def parts() -> LinkParts:
        made.append(new_parts())
        return made[-1]

    preparer = OfferPreparer(parts, lambda: "settings")
    preparer.prepare()
    async with asyncio.timeout(WAIT_S):
        await preparer.made()
    await preparer.close()
    await closed(made[0].link)
    preparer.prepare()  # after close: nothing more is made
    assert len(made) == 1


async def test_a_disabled_preparer_makes_nothing_ahead() -> None:
    """With offers not prepared (``prepare_offers=False``), no peer connection is made before accept."""
    made: list[LinkParts] = []

    def parts() -> LinkParts:
        made.append(new_parts())
        return made[-1]

    preparer = OfferPreparer(parts, lambda: "settings", enabled=False)
    preparer.prepare()
    await preparer.made()
    assert preparer.take() is None
    assert made == []
    await preparer.close()
