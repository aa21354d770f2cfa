"""Direct routes first: relayed pairs wait, against a real coturn on loopback.

The host side is a :class:`PeerLink` (the offerer, which nominates); the guest a
bare aiortc answerer. Both get a TURN server (coturn, started here on
127.0.0.1 with TURN REST credentials), so relayed pairs exist from the start.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCPeerConnection,
)

from lobbyhost_app.net.link import PeerLink, selected_route
from signalling_server.protocol import IceCandidate
from tests.ci import cannot_run
from tests.natlab.processes import (
    TurnServer,
    coturn_ready_line,
    start_logged,
    write_coturn_config,
)
from tests.timeouts import scaled

OPEN_S = scaled(20.0)


@pytest.fixture(scope="module")
def loopback_turn() -> Iterator[TurnServer]:
    """coturn on 127.0.0.1 (relaying between loopback addresses), for this module."""
    if shutil.which("turnserver") is None:
        cannot_run("coturn's turnserver is not installed (bash .ci/run installs it)")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = TurnServer("127.0.0.1", port, secret=os.urandom(16).hex(), realm="loopback")
    with tempfile.TemporaryDirectory(prefix="lobbyhost-coturn-") as workdir:
        config = write_coturn_config(server, Path(workdir), loopback=True)
        process = start_logged(["turnserver", "-c", str(config)], "coturn", Path(workdir))
        try:
            process.wait_for_output(coturn_ready_line(server), scaled(10.0))
            yield server
        finally:
            process.stop()


def turn_configuration(turn: TurnServer, *, relay_only: bool = False) -> RTCConfiguration:
    username, credential = turn.rest_credentials()
    server = RTCIceServer(urls=[turn.turn_url], username=username, credential=credential)
    policy = RTCIceTransportPolicy.RELAY if relay_only else RTCIceTransportPolicy.ALL
    return RTCConfiguration(iceServers=[server], iceTransportPolicy=policy)


def split_candidates(sdp: str) -> tuple[str, list[str]]:
    """The SDP without its host candidates (nor end-of-candidates), and those candidates."""
    kept, host = [], []
    for line in sdp.splitlines(keepends=True):
        if line.startswith("a=candidate:") and " typ host" in line:
            host.append(line.strip().removeprefix("a="))
        elif not line.startswith("a=end-of-candidates"):
            kept.append(line)
    return "".join(kept), host


async def handshake(
    turn: TurnServer, *, relay_delay_s: float, guest_relay_only: bool, hide_guest_host: bool
) -> str | None:
    """Connect a host link and a guest; the route the host nominated."""
    host_pc = RTCPeerConnection(turn_configuration(turn))
    guest_pc = RTCPeerConnection(turn_configuration(turn, relay_only=guest_relay_only))
    link = PeerLink(host_pc, relay_delay_s=relay_delay_s)
    opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_open() -> None:
        if not opened.done():
            opened.set_result(None)

    def on_lobby(channel: RTCDataChannel) -> None:
        channel.on("open", on_open)

    link.on_channel("lobby", on_lobby)
    link.open_channel("lobby")
    try:
        await host_pc.setLocalDescription(await host_pc.createOffer())
        await guest_pc.setRemoteDescription(host_pc.localDescription)
        await guest_pc.setLocalDescription(await guest_pc.createAnswer())
        answer = guest_pc.localDescription.sdp
        trickled: list[str] = []
        if hide_guest_host:
            answer, trickled = split_candidates(answer)
        await link.set_remote_description("answer", answer)
        for candidate in trickled:
            await link.add_remote_candidate(
                IceCandidate(candidate=candidate, sdpMid="0", sdpMLineIndex=0)
            )
        await link.add_remote_candidate(None)
        async with asyncio.timeout(OPEN_S):
            await opened
        return selected_route(host_pc)
    finally:
        await host_pc.close()
        await guest_pc.close()


async def test_a_direct_route_wins_though_only_a_relay_candidate_was_signalled(
    loopback_turn: TurnServer,
) -> None:
    """With relayed checks held back, the direct path the guest's own checks reveal is chosen over the relay."""
    route = await handshake(
        loopback_turn, relay_delay_s=scaled(5.0), guest_relay_only=False, hide_guest_host=True
    )
    assert route in ("host", "srflx")


async def test_a_guest_reachable_only_through_turn_still_connects_through_the_relay(
    loopback_turn: TurnServer,
) -> None:
    """A guest with relay candidates only connects through coturn: holding relayed pairs back never blocks them."""
    route = await handshake(
        loopback_turn, relay_delay_s=1.0, guest_relay_only=True, hide_guest_host=False
    )
    assert route == "relay"


def test_a_relay_delay_out_of_range_is_refused() -> None:
    """A negative or absurd relay delay in the ICE settings is a NetError naming the value."""
    from lobbyhost_app.net.errors import NetError
    from lobbyhost_app.net.ice import IceSettings

    with pytest.raises(NetError, match="-1"):
        IceSettings(relay_delay_s=-1)
    with pytest.raises(NetError, match="300"):
        IceSettings(relay_delay_s=300)
