"""TURN against a real coturn on 127.0.0.1: static users, REST credentials, and the embedded
server minting credentials for the host and every guest from a shared secret."""

from __future__ import annotations

import time
from pathlib import Path

from aiortc import RTCPeerConnection

from lobbyhost_app.guest_cli import build_parser, ice_from_arguments
from lobbyhost_app.net.guest import GuestSession
from lobbyhost_app.net.hosting import HostingOptions, HostingService
from lobbyhost_app.net.ice import IceServer, IceSettings
from lobbyhost_app.net.signalling import SignallingClient
from lobbyhost_app.net.signalling_api import SignallingEvent
from lobbyhost_app.session_values import GuestEvent, GuestPhase, GuestStatus
from signalling_server import TurnSecretServer
from signalling_server.ice import turn_rest_credentials
from signalling_server.protocol import RequestAccepted
from tests.coturn import Coturn, running_coturn

from ..loopback import LOOPBACK
from .recorder import Recorder

SECRET = "shared-with-coturn"


def candidate_types(sdp: str) -> set[str]:
    """The candidate types (host, srflx, relay) an SDP lists."""
    return {line.split(" typ ")[1].split()[0] for line in sdp.splitlines() if " typ " in line}


async def gathered_types(ice: IceSettings) -> set[str]:
    """Candidate types aiortc gathers with these ICE servers (on 127.0.0.1)."""
    pc = RTCPeerConnection(ice.configuration())
    try:
        pc.createDataChannel("probe")
        await pc.setLocalDescription(await pc.createOffer())
        return candidate_types(pc.localDescription.sdp)
    finally:
        await pc.close()


def from_command_line(url: str) -> IceSettings:
    args = build_parser().parse_args(
        ["ws://127.0.0.1:1/", "C", "--ice-address", "127.0.0.1", "--ice-server", url]
    )
    return ice_from_arguments(args)


async def test_a_static_turn_user_on_the_command_line_gets_a_relay_candidate(
    tmp_path: Path,
) -> None:
    """--ice-server turn:USER:PASSWORD@HOST:PORT against coturn with that static user: aiortc gathers a relay candidate."""
    async with running_coturn(tmp_path, user=("ann", "pw")) as coturn:
        url = f"turn:ann:pw@127.0.0.1:{coturn.port}?transport=udp"
        assert "relay" in await gathered_types(from_command_line(url))


async def test_a_turn_rest_username_with_its_colon_gets_a_relay_candidate(tmp_path: Path) -> None:
    """--ice-server turn:<expiry>:<name>:<credential>@HOST:PORT against coturn's use-auth-secret: relay; a wrong secret: none."""
    async with running_coturn(tmp_path, secret=SECRET) as coturn:
        expires = int(time.time()) + 600
        username, credential = turn_rest_credentials(SECRET, "bob", expires_at=expires)
        url = f"turn:{username}:{credential}@127.0.0.1:{coturn.port}?transport=udp"
        assert "relay" in await gathered_types(from_command_line(url))
        _, forged = turn_rest_credentials("not-the-secret", "bob", expires_at=expires)
        wrong = f"turn:{username}:{forged}@127.0.0.1:{coturn.port}?transport=udp"
        assert "relay" not in await gathered_types(from_command_line(wrong))


async def hosting_with_turn(coturn: Coturn) -> HostingService:
    """The embedded server on 127.0.0.1 with coturn's STUN server and its shared secret."""
    options = HostingOptions(
        listen_host="127.0.0.1",
        listen_port=0,
        ice=IceSettings(
            servers=(IceServer(urls=(coturn.stun_url,)),),
            allowed_addresses=LOOPBACK.allowed_addresses,
        ),
        turn_secrets=(TurnSecretServer(urls=(coturn.turn_url,), secret=SECRET, ttl_s=600),),
        auto_accept=True,
    )
    hosting = HostingService(options)
    await hosting.start()
    return hosting


async def test_the_embedded_server_hands_every_guest_stun_and_minted_turn_credentials(
    tmp_path: Path,
) -> None:
    """A guest with no ICE servers of its own gets the host's STUN and TURN, with credentials minted for it, and relays through coturn."""
    async with running_coturn(tmp_path, secret=SECRET) as coturn:
        hosting = await hosting_with_turn(coturn)
        try:
            opened = await hosting.open_lobby(display_name="Ann")
            assert hosting.client_url is not None
            usernames = []
            for name in ("Bob", "Cy"):
                signalling = SignallingClient(hosting.client_url, reconnect=False)
                told: Recorder[SignallingEvent] = Recorder()
                signalling.add_listener(told)
                await signalling.connect()
                guest = GuestSession(signalling, LOOPBACK)  # no ICE servers of its own
                progress: Recorder[GuestEvent] = Recorder()
                guest.add_listener(progress)
                await guest.join(opened.lobby_id, name)
                await progress.wait_for(
                    lambda e: isinstance(e, GuestStatus) and e.phase is GuestPhase.CONNECTED
                )
                assert guest.link is not None
                answer = guest.link.pc.localDescription.sdp
                offer = guest.link.pc.remoteDescription.sdp
                assert "relay" in candidate_types(answer), answer
                assert "relay" in candidate_types(offer), offer  # the host's own, minted too
                accepted = await told.wait_for(lambda e: isinstance(e, RequestAccepted))
                assert isinstance(accepted, RequestAccepted)
                stun, turn = accepted.ice_servers
                assert (stun.urls, stun.username) == ([coturn.stun_url], None)
                assert turn.urls == [coturn.turn_url] and turn.username is not None
                expiry, _, who = turn.username.partition(":")
                assert int(expiry) > time.time() and who == accepted.connection_id
                usernames.append(turn.username)
                await guest.leave()
            assert usernames[0] != usernames[1]  # minted per guest
        finally:
            await hosting.stop()
