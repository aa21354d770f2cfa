"""The guest page when the host cannot reach it: told why, with a NAT/TURN hint, and its seat freed.

A server on 127.0.0.1 port 0, the net layer's HostSession as the host (ICE on
127.0.0.1, no ICE servers), Debian's chromium as the page.
"""

from __future__ import annotations

from lobbyhost_app.net.host import HostEvent, HostSession, PeerGone
from lobbyhost_app.net.ice import IceSettings
from lobbyhost_app.net.signalling import SignallingClient
from signalling_server import Limits, ServerConfig, serve
from tests.lobbyhost_app.net.recorder import Recorder

from .harness import page_in_chromium

LOOPBACK = IceSettings(allowed_addresses=("127.0.0.1",))


async def test_a_guest_the_host_gives_up_on_reads_that_the_host_could_not_reach_it() -> None:
    """The host gives up on the handshake: the page says the host could not reach you, with the NAT/TURN hint."""
    config = ServerConfig(port=0, limits=Limits(password_hash_iterations=1))
    async with serve(config) as server:
        signalling = SignallingClient(server.url, reconnect=False)
        await signalling.connect()
        # A host that gives up at once stands for one whose ICE checks all failed.
        host = HostSession(signalling, LOOPBACK, auto_accept=True, handshake_timeout=0.0)
        events: Recorder[HostEvent] = Recorder()
        host.add_listener(events)
        try:
            opened = await host.start(display_name="Ann")
            link = f"http://127.0.0.1:{server.port}/join/{opened.lobby_id}"
            async with page_in_chromium(link) as bob:
                await bob.join("Bob")
                await bob.expect_status("The host could not reach you: no network route")
                text = await bob.status.text_content() or ""
                assert "NAT" in text and "TURN server" in text
                gone = await events.wait_for(lambda e: isinstance(e, PeerGone))
                assert isinstance(gone, PeerGone) and gone.reason == "failed"
                bob.assert_clean()
        finally:
            await host.close()
