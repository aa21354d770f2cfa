"""The browser guest page against ``lobbyhost --headless`` and the net-layer host, on loopback."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from playwright.async_api import WebSocketRoute, expect

from lobbyhost_app.net.host import HostEvent, HostSession, JoinRequested
from lobbyhost_app.net.ice import IceSettings
from lobbyhost_app.net.signalling import SignallingClient
from lobbyhost_app.net.signalling_api import SignallingEvent
from signalling_server import ServerConfig, SignallingServer, Timeouts, serve
from signalling_server.protocol import GuestResumed
from tests.lobbyhost_app.net.recorder import Recorder
from tests.lobbyhost_app.test_headless_and_guest_cli import headless_host

from .harness import WAIT_S, chromium, guest_page, page_in_chromium

LOOPBACK = IceSettings(allowed_addresses=("127.0.0.1",))


async def test_join_by_invite_link_connects_chats_both_ways_and_sees_the_host_quit() -> None:
    """/join/<code> fills the code; accepted on stdin, the page connects, shows RTT, chats both ways, then sees the host quit."""
    async with headless_host() as host:
        started = host.started
        link = f"http://127.0.0.1:{started['port']}/join/{started['lobby_id'].lower()}"
        async with page_in_chromium(link) as guest:
            await expect(guest.page.get_by_label("Lobby code")).to_have_value(started["lobby_id"])
            await expect(guest.page.get_by_label("Your name")).to_be_focused()
            await guest.join("Bob")
            await guest.expect_status("Waiting for the host")
            request = await host.expect("request_to_join", name="Bob")
            await host.send({"accept": request["connection_id"]})
            await guest.expect_status("Connected$")
            await host.expect("peer_connected", connection_id=request["connection_id"])
            await guest.expect_rtt()
            rtt = await host.expect("peer_rtt", connection_id=request["connection_id"])
            assert rtt["rtt_ms"] > 0  # the page answers the host's pings

            await guest.say("hello from the browser")
            chat = await host.expect("chat", connection_id=request["connection_id"])
            assert chat["text"] == "hello from the browser" and chat["name"] == "Bob"
            await host.send({"chat": "welcome, Bob"})
            await guest.expect_chat("Alice", "welcome, Bob")
            await guest.expect_chat("You", "hello from the browser")

            assert host.process.stdin is not None
            host.process.stdin.close()  # the end of its input: the headless host closes and quits
            await guest.expect_status("Lobby closed$")
            assert await host.exit_code() == 0
            await expect(guest.page.get_by_label("Message")).to_be_disabled()
            guest.assert_clean()


async def test_kick_and_reject_show_words_and_only_quote_what_the_host_typed() -> None:
    """Kicked with a reason reads 'Kicked: <reason>'; a rejection typed "host_left" reads 'Rejected: host_left', not 'Host left'."""
    async with headless_host() as host, chromium() as browser:
        started = host.started
        link = f"http://127.0.0.1:{started['port']}/join/{started['lobby_id']}"
        async with guest_page(browser, link) as bob:
            await bob.join("Bob")
            request = await host.expect("request_to_join", name="Bob")
            await host.send({"accept": request["connection_id"]})
            await bob.expect_status("Connected$")
            await host.send({"kick": request["connection_id"], "reason": "afk"})
            await bob.expect_status("Kicked: afk$")
            bob.assert_clean()
        async with guest_page(browser, link) as eve:
            await eve.join("Eve")
            request = await host.expect("request_to_join", name="Eve")
            await host.send({"reject": request["connection_id"], "reason": "host_left"})
            await eve.expect_status("Rejected: host_left$")
            await expect(eve.page.get_by_role("button", name="Join again")).to_be_enabled()
            eve.assert_clean()


async def test_unknown_code_says_lobby_not_found_and_codes_are_normalised() -> None:
    """A code typed sloppily is normalised like Crockford says; a code nobody hosts is 'Lobby not found'."""
    async with (
        serve(ServerConfig(port=0)) as server,
        page_in_chromium(f"http://127.0.0.1:{server.port}/join") as guest,
    ):
        await expect(guest.page.get_by_label("Lobby code")).to_be_focused()
        await guest.join("Bob", code="abc-1ol")
        await guest.expect_status("Lobby not found")
        await expect(guest.page.get_by_label("Lobby code")).to_have_value("ABC101")
        await expect(guest.page.get_by_role("button", name="Join again")).to_be_enabled()
        await guest.join("Bob", code="not a code")
        await guest.expect_status("That code does not look right")
        guest.assert_clean()


# The net-layer host (what --headless runs), for what a process can't be told to do --------------


@dataclass
class InProcessHost:
    server: SignallingServer
    session: HostSession
    events: Recorder[HostEvent]
    signals: Recorder[SignallingEvent]
    code: str

    @property
    def join_link(self) -> str:
        return f"http://127.0.0.1:{self.server.port}/join/{self.code}"


@contextlib.asynccontextmanager
async def in_process_host(*, host_grace: float = 30.0) -> AsyncIterator[InProcessHost]:
    """A server on 127.0.0.1 and an auto-accepting HostSession on loopback ICE."""
    timeouts = Timeouts(host_grace=host_grace, close_timeout=1)
    async with serve(ServerConfig(port=0, timeouts=timeouts)) as server:
        signalling = SignallingClient(server.url, reconnect=False)
        signals: Recorder[SignallingEvent] = Recorder()
        signalling.add_listener(signals)
        await signalling.connect()
        session = HostSession(signalling, LOOPBACK, auto_accept=True)
        events: Recorder[HostEvent] = Recorder()
        session.add_listener(events)
        opened = await session.start(display_name="Ann")
        try:
            yield InProcessHost(server, session, events, signals, opened.lobby_id)
        finally:
            await session.close(close_lobby=False)


async def test_host_that_does_not_come_back_is_host_left() -> None:
    """The host's signalling drops for longer than its grace: the page goes from 'Host disconnected' to 'Host left'."""
    async with (
        in_process_host(host_grace=1.0) as host,
        page_in_chromium(host.join_link) as guest,
    ):
        await guest.join("Bob")
        await guest.expect_status("Connected$")
        await host.session.signalling.close()  # gone without closing the lobby
        await guest.expect_status("Host disconnected")
        await guest.expect_status("Host left$")
        await expect(guest.page.get_by_label("Message")).to_be_disabled()
        guest.assert_clean()


async def test_websocket_drop_resumes_with_the_guest_token() -> None:
    """When the page's websocket drops it reconnects, resumes its place, and the link keeps working."""
    routes: list[WebSocketRoute] = []

    def relay(route: WebSocketRoute) -> None:
        routes.append(route)
        route.connect_to_server()

    async with in_process_host() as host, page_in_chromium(host.join_link) as guest:
        await guest.page.route_web_socket(f"ws://127.0.0.1:{host.server.port}/", relay)
        await guest.join("Bob")
        await guest.expect_status("Connected$")
        joined = await host.events.wait_for(lambda e: isinstance(e, JoinRequested))
        assert isinstance(joined, JoinRequested)
        await routes[0].close(code=1011, reason="network change")
        resumed = await host.signals.wait_for(lambda e: isinstance(e, GuestResumed), WAIT_S)
        assert isinstance(resumed, GuestResumed)
        assert resumed.old_connection_id == joined.connection_id
        assert len(routes) == 2
        await guest.expect_status("Connected$")
        await guest.say("still here")
        await host.events.wait_for(lambda e: getattr(e, "text", None) == "still here")
        guest.assert_clean()
