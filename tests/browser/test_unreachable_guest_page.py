"""The guest page when the host cannot reach it (told why, with a NAT/TURN hint) or it cannot reach the server.

A server on 127.0.0.1 port 0, the net layer's HostSession as the host (ICE on
127.0.0.1, no ICE servers), Debian's chromium as the page.
"""

from __future__ import annotations

from playwright.async_api import Route, expect

from lobbyhost_app.net.host import HostEvent, HostSession, PeerGone
from lobbyhost_app.net.ice import IceSettings
from lobbyhost_app.net.signalling import SignallingClient
from signalling_server import Limits, ServerConfig, serve
from tests.lobbyhost_app.net.recorder import Recorder

from .harness import WAIT_S, chromium, ms, page_in_chromium

LOOPBACK = IceSettings(allowed_addresses=("127.0.0.1",))
#: An invite link's private address; the test never lets anything be sent to it.
PRIVATE = "http://192.168.1.20:8765"


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


async def test_a_page_whose_server_cannot_be_reached_says_a_private_address_only_works_at_home() -> (
    None
):
    """The page from an invite link with a private address, its websocket unreachable: it says that address only works on the host's own network."""
    async with serve(ServerConfig(port=0)) as server, chromium() as browser:
        context = await browser.new_context()
        try:
            # The page's files come from the real server on 127.0.0.1; its websocket
            # goes to 192.168.1.20 for real, and in this loopback-only namespace
            # nothing routes there: the connection fails at once.
            async def from_local_server(route: Route) -> None:
                local = route.request.url.replace(PRIVATE, f"http://127.0.0.1:{server.port}")
                await route.fulfill(response=await route.fetch(url=local))

            await context.route(f"{PRIVATE}/**", from_local_server)
            page = await context.new_page()
            await page.goto(f"{PRIVATE}/join/K7QX2M", timeout=ms(WAIT_S))
            await page.get_by_label("Your name").fill("Bob")
            await page.get_by_role("button", name="Join").click()
            await expect(page.get_by_role("status")).to_have_text(
                "Could not reach the signalling server at 192.168.1.20: 192.168.1.20 is a "
                "private address: it only works on the host's own network.",
                timeout=ms(WAIT_S),
            )
        finally:
            await context.close()
