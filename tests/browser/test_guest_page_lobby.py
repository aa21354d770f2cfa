"""The guest page in a lobby: members and everyone's chat, passwords, Cancel, and others' words kept as words.

A server on 127.0.0.1 port 0, the net layer's HostSession as the host and
GuestSession as a second guest (ICE on 127.0.0.1, no ICE servers), Debian's
chromium as the page.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from playwright.async_api import Locator, WebSocketRoute, expect

from lobbyhost_app.net.host import HostEvent, HostSession, JoinRequested, RequestGone
from lobbyhost_app.net.ice import IceSettings
from lobbyhost_app.net.signalling import SignallingClient
from lobbyhost_app.session_values import GuestPhase, MemberChat
from signalling_server import Limits, ServerConfig, SignallingServer, serve
from tests.lobbyhost_app.gui.helpers import RealGuest
from tests.lobbyhost_app.net.recorder import Recorder

from .harness import GuestPage, chromium, guest_page, ms, page_in_chromium

LOOPBACK = IceSettings(allowed_addresses=("127.0.0.1",))
#: Words that name properties every plain JavaScript object has.
OBJECT_WORDS = ("constructor", "__proto__")


@dataclass
class LobbyHost:
    server: SignallingServer
    session: HostSession
    events: Recorder[HostEvent]
    code: str

    @property
    def join_link(self) -> str:
        return f"http://127.0.0.1:{self.server.port}/join/{self.code}"

    async def next_request(self, name: str) -> JoinRequested:
        """A request from ``name`` still waiting for an answer (waiting for one if there is none)."""

        def pending(event: HostEvent) -> bool:
            waiting = {request.connection_id for request in self.session.requests}
            return (
                isinstance(event, JoinRequested)
                and event.name == name
                and event.connection_id in waiting
            )

        request = await self.events.wait_for(pending)
        assert isinstance(request, JoinRequested)
        return request


@contextlib.asynccontextmanager
async def lobby_host(*, auto_accept: bool, password: str | None = None) -> AsyncIterator[LobbyHost]:
    """A server on 127.0.0.1 and a lobby hosted by Ann through the net layer's HostSession."""
    config = ServerConfig(port=0, limits=Limits(password_hash_iterations=1))
    async with serve(config) as server:
        signalling = SignallingClient(server.url, reconnect=False)
        await signalling.connect()
        session = HostSession(signalling, LOOPBACK, auto_accept=auto_accept)
        events: Recorder[HostEvent] = Recorder()
        session.add_listener(events)
        try:
            opened = await session.start(display_name="Ann", password=password)
            yield LobbyHost(server, session, events, opened.lobby_id)
        finally:
            await session.close()


def members_of(guest: GuestPage) -> Locator:
    return guest.page.get_by_role("list", name="Members").get_by_role("listitem")


async def test_the_page_lists_members_and_shows_other_guests_chat_by_name() -> None:
    """The page lists the host, you and another guest as they come and go; that guest's chat shows under its name, and yours reaches it."""
    async with (
        lobby_host(auto_accept=True) as host,
        page_in_chromium(host.join_link) as bob,
    ):
        await bob.join("Bob")
        await bob.expect_status("Connected$")
        members = members_of(bob)
        await expect(members).to_have_text(["Ann (host)", "Bob (you)"], timeout=ms(15))

        cy = RealGuest(host.server.url)
        try:
            session = await cy.join(host.code, "Cy")
            await cy.wait_phase(GuestPhase.CONNECTED)
            await expect(members).to_have_text(["Ann (host)", "Bob (you)", "Cy"], timeout=ms(15))
            session.send_chat("hi Bob")
            await bob.expect_chat("Cy", "hi Bob")
            await bob.say("hi Cy")
            heard = await cy.events.wait_for(lambda e: isinstance(e, MemberChat))
            assert heard == MemberChat("Bob", 2, "hi Cy")
            host.session.send_chat("welcome, both")
            await bob.expect_chat("Ann", "welcome, both")
        finally:
            await cy.close()
        await expect(members).to_have_text(["Ann (host)", "Bob (you)"], timeout=ms(15))
        bob.assert_clean()


async def test_password_field_gets_into_a_password_lobby_and_says_when_it_is_missing_or_wrong() -> (
    None
):
    """No password reads 'Password needed', a wrong one 'Wrong password' (field marked and focused); the right one connects."""
    async with (
        lobby_host(auto_accept=True, password="sesame") as host,
        page_in_chromium(host.join_link) as eve,
    ):
        password = eve.page.get_by_label("Password")
        await eve.join("Eve")
        await eve.expect_status("Password needed")
        await expect(password).to_be_focused()
        await expect(password).to_have_attribute("aria-invalid", "true")

        await password.fill("open sesame")
        await eve.page.get_by_role("button", name="Join again").click()
        await eve.expect_status("Wrong password")
        await expect(password).to_be_focused()

        await password.fill("sesame")
        await password.press("Enter")
        await eve.expect_status("Connected$")
        await expect(members_of(eve)).to_have_text(["Ann (host)", "Eve (you)"], timeout=ms(15))
        eve.assert_clean()


async def test_cancel_while_waiting_withdraws_the_request_and_returns_to_the_form() -> None:
    """Cancel, shown only while waiting, tells the host the request is withdrawn and gives the join form back."""
    async with (
        lobby_host(auto_accept=False) as host,
        page_in_chromium(host.join_link) as bob,
    ):
        cancel = bob.page.get_by_role("button", name="Cancel")
        await expect(cancel).to_be_hidden()
        await bob.join("Bob")
        await bob.expect_status("Waiting for the host")
        request = await host.next_request("Bob")
        await cancel.click()
        gone = await host.events.wait_for(lambda e: isinstance(e, RequestGone))
        assert gone == RequestGone(request.connection_id, "cancelled")
        await bob.expect_status("You withdrew your request")
        await expect(cancel).to_be_hidden()
        await expect(bob.page.get_by_label("Your name")).to_be_enabled()
        assert host.session.requests == []

        await bob.page.get_by_role("button", name="Join again").click()
        again = await host.next_request("Bob")
        assert again.connection_id != request.connection_id
        await host.session.accept(again.connection_id)
        await bob.expect_status("Connected$")
        bob.assert_clean()


async def test_a_host_typing_constructor_or_proto_is_quoted_as_its_words() -> None:
    """Rejections and a kick worded "constructor" / "__proto__", and a guest so named, show as those words."""
    async with lobby_host(auto_accept=False) as host, chromium() as browser:
        for word in OBJECT_WORDS:
            async with guest_page(browser, host.join_link) as eve:
                await eve.join("Eve")
                request = await host.next_request("Eve")
                await host.session.reject(request.connection_id, word)
                await eve.expect_status(f"Rejected: {word}$")
                eve.assert_clean()

        async with guest_page(browser, host.join_link) as bob:
            await bob.join("Bob")
            await host.session.accept((await host.next_request("Bob")).connection_id)
            await bob.expect_status("Connected$")
            odd = RealGuest(host.server.url)
            try:
                await odd.join(host.code, "constructor")
                await host.session.accept((await host.next_request("constructor")).connection_id)
                await odd.wait_phase(GuestPhase.CONNECTED)
                await expect(members_of(bob)).to_have_text(
                    ["Ann (host)", "Bob (you)", "constructor"], timeout=ms(15)
                )
                assert odd.session is not None
                odd.session.send_chat("__proto__")
                await bob.expect_chat("constructor", "__proto__")
            finally:
                await odd.close()
            bob.assert_clean()


def older_server(reason: str) -> Callable[[WebSocketRoute], None]:
    """A websocket route acting as a server that put the host's words in ``reason``."""

    def route(page_socket: WebSocketRoute) -> None:
        server = page_socket.connect_to_server()

        def from_server(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame.get("event") == "request_rejected":
                # Event names that are Object's own properties, then the rejection.
                for event in OBJECT_WORDS:
                    page_socket.send(json.dumps({"event": event, "content": {}}))
                frame["content"]["reason"] = reason
                frame["content"].pop("message", None)
            page_socket.send(json.dumps(frame))

        server.on_message(from_server)

    return route


async def test_reason_codes_and_event_names_that_name_object_properties_are_not_looked_up() -> None:
    """A rejection whose reason is "constructor" or "__proto__" reads 'Rejected: the host said no'; such event names are ignored."""
    async with lobby_host(auto_accept=False) as host, chromium() as browser:
        for word in OBJECT_WORDS:
            async with guest_page(browser, host.join_link) as eve:
                await eve.page.route_web_socket(
                    f"ws://127.0.0.1:{host.server.port}/",
                    older_server(word),
                )
                await eve.join("Eve")
                request = await host.next_request("Eve")
                await host.session.reject(request.connection_id)
                await eve.expect_status("Rejected: the host said no$")
                eve.assert_clean()
