"""Protocol v1 flows end to end: a real server on 127.0.0.1 port 0 and real websocket clients."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest

from signalling_server import Limits, Timeouts, serve
from tests.signalling_server.wsclient import EVENT_TIMEOUT, Lab, loopback_config, open_lab
from tests.timeouts import scaled

CODE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{6}$")
OFFER = {"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n"}
ANSWER = {"type": "answer", "sdp": "v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\ns=-\r\n"}
CANDIDATE = {
    "candidate": "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host",
    "sdpMid": "0",
    "sdpMLineIndex": 0,
}
#: Long enough never to run out during a test; short ones are set where a timer must fire.
LONG = scaled(30.0)
SHORT = scaled(0.3)


def short_timeouts(**timers: float) -> Timeouts:
    return Timeouts(close_timeout=scaled(2.0), **timers)


@pytest.fixture
async def lab() -> AsyncIterator[Lab]:
    async with open_lab() as lab:
        yield lab


# Joining and relaying ----------------------------------------------------------------


async def test_join_accept_and_relay_sdp_ice_and_messages(lab: Lab) -> None:
    """A typed code finds the lobby; after accept, SDP, ICE (null too) and messages flow both ways."""
    host = await lab.client()
    await host.act("start_lobby", ref="s1", name="Friday game", display_name="Ann")
    started = await host.expect("lobby_started", ref="s1")
    code = started["lobby_id"]
    assert CODE.match(code), code
    assert started["peer_id"] == 1
    assert started["ice_servers"] == []
    assert isinstance(started["host_token"], str) and len(started["host_token"]) >= 22
    host.id = started["connection_id"]

    bob = await lab.client()
    typed = f"{code[:3]}-{code[3:]}".lower()  # as a user types it
    await bob.act("join_lobby", lobby_id=typed, name="  Bob\x07 ")
    assert await bob.expect("join_requested") == {"lobby_id": code, "name": "Friday game"}
    request = await host.expect("request_to_join")
    assert request["name"] == "Bob"
    bob.id = request["connection_id"]
    assert bob.id != host.id

    await host.act("accept_request", ref="a1", connection_id=bob.id)
    accepted = await bob.expect("request_accepted")
    assert accepted["lobby_id"] == code
    assert accepted["host_connection_id"] == host.id
    assert accepted["connection_id"] == bob.id
    assert accepted["peer_id"] == 2
    assert isinstance(accepted["guest_token"], str) and accepted["guest_token"]
    assert accepted["ice_servers"] == []
    guest_accepted = await host.expect("guest_accepted", ref="a1")
    assert guest_accepted == {"connection_id": bob.id, "peer_id": 2, "name": "Bob"}
    cy, cy_accepted = await lab.guest(host, code, "Cy")
    assert cy_accepted["peer_id"] == 3

    await host.act("set_session_description", connection_id=bob.id, description=OFFER)
    assert await bob.expect("received_session_description") == {
        "connection_id": host.id,
        "description": OFFER,
    }
    await bob.act("set_session_description", connection_id=host.id, description=ANSWER)
    assert await host.expect("received_session_description") == {
        "connection_id": bob.id,
        "description": ANSWER,
    }
    await host.act("send_ice_candidate", connection_id=bob.id, candidate=CANDIDATE)
    assert await bob.expect("received_ice_candidate") == {
        "connection_id": host.id,
        "candidate": CANDIDATE,
    }
    await bob.act("send_ice_candidate", connection_id=host.id, candidate=CANDIDATE)
    assert await host.expect("received_ice_candidate") == {
        "connection_id": bob.id,
        "candidate": CANDIDATE,
    }
    await bob.act("send_ice_candidate", connection_id=host.id, candidate=None)
    assert await host.expect("received_ice_candidate") == {
        "connection_id": bob.id,
        "candidate": None,
    }
    await host.act("send_ice_candidate", connection_id=bob.id, candidate=None)
    assert await bob.expect("received_ice_candidate") == {
        "connection_id": host.id,
        "candidate": None,
    }

    await host.act("send_message", connection_id=bob.id, data={"chat": ["hi", 1]})
    assert await bob.expect("received_message") == {
        "connection_id": host.id,
        "data": {"chat": ["hi", 1]},
    }
    await bob.act("send_message", connection_id=host.id, data="hello host")
    assert await host.expect("received_message") == {"connection_id": bob.id, "data": "hello host"}
    await host.act("send_message", connection_id="*", data="game starts")
    for guest in (bob, cy):
        assert await guest.expect("received_message") == {
            "connection_id": host.id,
            "data": "game starts",
        }
    for client in (host, bob, cy):
        await client.assert_silent()


async def test_relay_only_between_host_and_its_accepted_guests(lab: Lab) -> None:
    """Pending joiners, other guests and idle connections can't be signalled; each try errors."""
    host, started = await lab.host()
    code = started["lobby_id"]
    bob, _ = await lab.guest(host, code, "Bob")
    cy, _ = await lab.guest(host, code, "Cy")
    dee = await lab.joiner(host, code, "Dee")
    idle = await lab.client()

    await bob.act("send_message", connection_id=cy.id, data="psst")
    await bob.expect_error("unknown_connection", "send_message")
    await host.act("set_session_description", connection_id=dee.id, description=OFFER)
    await host.expect_error("not_accepted", "set_session_description")
    await dee.act("send_ice_candidate", connection_id=host.id, candidate=CANDIDATE)
    await dee.expect_error("not_accepted", "send_ice_candidate")
    await idle.act("send_message", connection_id=host.id, data="hi")
    await idle.expect_error("not_in_lobby", "send_message")
    for client in (host, bob, cy, dee, idle):
        await client.assert_silent()


async def test_reject_with_and_without_reason(lab: Lab) -> None:
    """A rejected joiner learns the host's reason (or rejected_by_host) and may ask again."""
    host, started = await lab.host()
    code = started["lobby_id"]
    bob = await lab.joiner(host, code, "Bob")
    cy = await lab.joiner(host, code, "Cy")

    await host.act("reject_join_request", connection_id=bob.id, reason="full for tonight")
    assert await bob.expect("request_rejected") == {"lobby_id": code, "reason": "full for tonight"}
    assert await host.expect("request_removed") == {"connection_id": bob.id}
    await host.act("reject_join_request", connection_id=cy.id)
    assert await cy.expect("request_rejected") == {"lobby_id": code, "reason": "rejected_by_host"}
    assert await host.expect("request_removed") == {"connection_id": cy.id}

    await host.act("accept_request", connection_id=bob.id)
    await host.expect_error("unknown_connection", "accept_request")
    await bob.act("join_lobby", lobby_id=code, name="Bob")
    await bob.expect("join_requested")
    assert (await host.expect("request_to_join"))["name"] == "Bob"
    for client in (host, bob, cy):
        await client.assert_silent()


async def test_cancel_join(lab: Lab) -> None:
    """A joiner who cancels is told so, the host drops the request, and can't accept it any more."""
    host, started = await lab.host()
    code = started["lobby_id"]
    bob = await lab.joiner(host, code, "Bob")

    await bob.act("cancel_join")
    assert await bob.expect("join_cancelled") == {"lobby_id": code}
    assert await host.expect("request_cancelled") == {"connection_id": bob.id}
    await host.act("accept_request", connection_id=bob.id)
    await host.expect_error("unknown_connection", "accept_request")
    await bob.act("cancel_join")
    await bob.expect_error("not_in_lobby", "cancel_join")
    await host.assert_silent()


async def test_leave_lobby(lab: Lab) -> None:
    """A guest who leaves is told so, the host gets guest_left(left), and it is no longer a target."""
    host, started = await lab.host()
    code = started["lobby_id"]
    bob, _ = await lab.guest(host, code, "Bob")

    await bob.act("leave_lobby")
    assert await bob.expect("left_lobby") == {"lobby_id": code}
    assert await host.expect("guest_left") == {"connection_id": bob.id, "reason": "left"}
    await host.act("send_message", connection_id=bob.id, data="still there?")
    await host.expect_error("unknown_connection", "send_message")
    await host.act("get_lobby_info")
    assert (await host.expect("lobby_info"))["guests"] == []
    await bob.act("send_message", connection_id=host.id, data="hi")
    await bob.expect_error("not_in_lobby", "send_message")
    await bob.assert_silent()


async def test_kick_guest(lab: Lab) -> None:
    """A kicked guest hears why, is out of the lobby, and its token no longer resumes."""
    host, started = await lab.host()
    code = started["lobby_id"]
    bob, accepted = await lab.guest(host, code, "Bob")
    cy, _ = await lab.guest(host, code, "Cy")

    await host.act("kick_guest", connection_id=bob.id, reason="spamming")
    assert await bob.expect("kicked") == {"lobby_id": code, "reason": "spamming"}
    assert await host.expect("guest_left") == {"connection_id": bob.id, "reason": "kicked"}
    await bob.act("send_message", connection_id=host.id, data="let me back")
    await bob.expect_error("not_in_lobby", "send_message")
    await cy.act("kick_guest", connection_id=host.id)
    await cy.expect_error("not_host", "kick_guest")

    sneaky = await lab.client()
    await sneaky.act("resume", token=accepted["guest_token"])
    await sneaky.expect_error("invalid_token", "resume")
    for client in (host, bob, cy, sneaky):
        await client.assert_silent()


async def test_close_lobby(lab: Lab) -> None:
    """Closing tells host, guests and joiners lobby_closed(closed_by_host) and frees the code."""
    host, started = await lab.host()
    code = started["lobby_id"]
    bob, _ = await lab.guest(host, code, "Bob")
    cy = await lab.joiner(host, code, "Cy")

    await bob.act("close_lobby")
    await bob.expect_error("not_host", "close_lobby")
    await host.act("close_lobby", ref="bye")
    closed = {"lobby_id": code, "reason": "closed_by_host"}
    assert await host.expect("lobby_closed", ref="bye") == closed
    assert await bob.expect("lobby_closed") == closed
    assert await cy.expect("lobby_closed") == closed

    latecomer = await lab.client()
    await latecomer.act("join_lobby", lobby_id=code, name="Dee")
    await latecomer.expect_error("lobby_not_found", "join_lobby")
    await host.act("start_lobby")
    await host.expect("lobby_started")
    for client in (host, bob, cy, latecomer):
        await client.assert_silent()


# Disconnects and reconnection ----------------------------------------------------------


async def test_host_drop_and_resume_within_grace() -> None:
    """Guests see host_disconnected then host_resumed; the resumed host gets the backlog."""
    async with open_lab(timeouts=short_timeouts(host_grace=LONG)) as lab:
        host, started = await lab.host()
        code = started["lobby_id"]
        bob, _ = await lab.guest(host, code, "Bob")
        cy, _ = await lab.guest(host, code, "Cy")
        dee = await lab.joiner(host, code, "Dee")

        await host.close()
        for guest in (bob, cy):
            notice = await guest.expect("host_disconnected")
            assert notice["lobby_id"] == code
            assert 0 < notice["grace_s"] <= LONG
        assert await dee.expect("request_rejected") == {"lobby_id": code, "reason": "host_left"}
        eve = await lab.client()
        await eve.act("join_lobby", lobby_id=code, name="Eve")
        await eve.expect_error("host_unavailable", "join_lobby")
        await cy.act("leave_lobby")
        await cy.expect("left_lobby")

        host2 = await lab.client()
        await host2.act("resume", token=started["host_token"])
        resumed = await host2.expect("resumed")
        host2.id = resumed["connection_id"]
        assert resumed == {
            "role": "host",
            "lobby_id": code,
            "connection_id": host2.id,
            "peer_id": 1,
        }
        assert host2.id != host.id
        # Replayed in order: the request it lost while away, then the guest who left.
        assert await host2.expect("request_removed") == {"connection_id": dee.id}
        assert await host2.expect("guest_left") == {"connection_id": cy.id, "reason": "left"}
        assert await bob.expect("host_resumed") == {
            "old_connection_id": host.id,
            "connection_id": host2.id,
        }

        await bob.act("send_message", connection_id=host2.id, data="welcome back")
        assert await host2.expect("received_message") == {
            "connection_id": bob.id,
            "data": "welcome back",
        }
        await host2.act("send_message", connection_id=bob.id, data="thanks")
        assert (await bob.expect("received_message"))["connection_id"] == host2.id
        for client in (host2, bob, cy, dee, eve):
            await client.assert_silent()


async def test_host_drop_past_grace_closes_lobby() -> None:
    """When the host stays away past its grace, guests get lobby_closed(host_left); code is freed."""
    async with open_lab(timeouts=short_timeouts(host_grace=SHORT)) as lab:
        host, started = await lab.host()
        code = started["lobby_id"]
        bob, _ = await lab.guest(host, code, "Bob")

        await host.close()
        await bob.expect("host_disconnected")
        assert await bob.expect("lobby_closed") == {"lobby_id": code, "reason": "host_left"}
        await bob.act("join_lobby", lobby_id=code, name="Bob")
        await bob.expect_error("lobby_not_found", "join_lobby")
        late_host = await lab.client()
        await late_host.act("resume", token=started["host_token"])
        await late_host.expect_error("invalid_token", "resume")
        assert lab.server.counters.lobbies == 0
        for client in (bob, late_host):
            await client.assert_silent()


async def test_guest_drop_and_resume() -> None:
    """The host sees guest_left(disconnected) then guest_resumed with the old and new ids."""
    async with open_lab(timeouts=short_timeouts(guest_grace=LONG)) as lab:
        host, started = await lab.host()
        code = started["lobby_id"]
        bob, accepted = await lab.guest(host, code, "Bob")

        await bob.close()
        assert await host.expect("guest_left") == {
            "connection_id": bob.id,
            "reason": "disconnected",
        }
        bob2 = await lab.client()
        await bob2.act("resume", token=accepted["guest_token"])
        resumed = await bob2.expect("resumed")
        bob2.id = resumed["connection_id"]
        assert resumed == {
            "role": "guest",
            "lobby_id": code,
            "connection_id": bob2.id,
            "peer_id": 2,
        }
        assert await host.expect("guest_resumed") == {
            "old_connection_id": bob.id,
            "connection_id": bob2.id,
        }

        await host.act("set_session_description", connection_id=bob2.id, description=OFFER)
        assert await bob2.expect("received_session_description") == {
            "connection_id": host.id,
            "description": OFFER,
        }
        await bob2.act("send_ice_candidate", connection_id=host.id, candidate=None)
        assert await host.expect("received_ice_candidate") == {
            "connection_id": bob2.id,
            "candidate": None,
        }
        await host.act("send_message", connection_id=bob.id, data="old id")
        await host.expect_error("unknown_connection", "send_message")
        await host.act("get_lobby_info")
        guests = (await host.expect("lobby_info"))["guests"]
        assert guests == [{"connection_id": bob2.id, "name": "Bob", "peer_id": 2}]
        for client in (host, bob2):
            await client.assert_silent()


async def test_guest_resume_takes_over_a_live_socket(lab: Lab) -> None:
    """A guest token used while the old socket is open moves the place and closes the old with 4000."""
    host, started = await lab.host()
    bob, accepted = await lab.guest(host, started["lobby_id"], "Bob")

    bob2 = await lab.client()
    await bob2.act("resume", token=accepted["guest_token"])
    resumed = await bob2.expect("resumed")
    bob2.id = resumed["connection_id"]
    assert resumed["role"] == "guest"
    await bob.expect_closed(4000)
    assert await host.expect("guest_resumed") == {
        "old_connection_id": bob.id,
        "connection_id": bob2.id,
    }
    await host.act("send_message", connection_id=bob2.id, data="hi again")
    assert (await bob2.expect("received_message"))["data"] == "hi again"
    for client in (host, bob2):
        await client.assert_silent()


async def test_host_resume_takes_over_a_live_socket(lab: Lab) -> None:
    """A host token used while the old socket is open moves the lobby and closes the old with 4000."""
    host, started = await lab.host()
    bob, _ = await lab.guest(host, started["lobby_id"], "Bob")

    host2 = await lab.client()
    await host2.act("resume", token=started["host_token"])
    resumed = await host2.expect("resumed")
    host2.id = resumed["connection_id"]
    assert resumed["role"] == "host"
    await host.expect_closed(4000)
    assert await bob.expect("host_resumed") == {
        "old_connection_id": host.id,
        "connection_id": host2.id,
    }
    await bob.act("send_message", connection_id=host2.id, data="same game?")
    assert (await host2.expect("received_message"))["data"] == "same game?"
    for client in (host2, bob):
        await client.assert_silent()


async def test_resume_with_invalid_token(lab: Lab) -> None:
    """Unknown, malformed and wrong-secret tokens get invalid_token; the connection stays idle."""
    host, started = await lab.host()
    token_id = started["host_token"].partition(".")[0]
    thief = await lab.client()
    for token in ("nonsense", "abc.def", f"{token_id}.{'A' * 24}"):
        await thief.act("resume", ref=token[:8], token=token)
        error = await thief.expect_error("invalid_token", "resume")
        assert error["ref"] == token[:8]
    await thief.act("start_lobby")
    await thief.expect("lobby_started")
    await host.assert_silent()


# Admission rules ----------------------------------------------------------------------


async def test_locked_lobby_refuses_joins(lab: Lab) -> None:
    """While the host has the lobby locked, joins get lobby_locked; unlocking lets them in."""
    host, started = await lab.host()
    code = started["lobby_id"]
    await host.act("set_lobby_open", open=False)
    assert (await host.expect("lobby_info"))["open"] is False

    bob = await lab.client()
    await bob.act("join_lobby", lobby_id=code, name="Bob")
    await bob.expect_error("lobby_locked", "join_lobby")
    await host.assert_silent()
    await host.act("set_lobby_open", open=True)
    assert (await host.expect("lobby_info"))["open"] is True
    await bob.act("join_lobby", lobby_id=code, name="Bob")
    await bob.expect("join_requested")
    await host.expect("request_to_join")


async def test_password_protected_lobby(lab: Lab) -> None:
    """A missing or wrong password gets wrong_password; the right one reaches the host."""
    host, started = await lab.host(password="hunter2")
    code = started["lobby_id"]
    bob = await lab.client()
    await bob.act("join_lobby", lobby_id=code, name="Bob")
    await bob.expect_error("wrong_password", "join_lobby")
    await bob.act("join_lobby", lobby_id=code, name="Bob", password="hunter3")
    await bob.expect_error("wrong_password", "join_lobby")
    await host.assert_silent()
    await bob.act("join_lobby", lobby_id=code, name="Bob", password="hunter2")
    await bob.expect("join_requested")
    assert (await host.expect("request_to_join"))["name"] == "Bob"
    await host.act("get_lobby_info")
    assert (await host.expect("lobby_info"))["has_password"] is True


async def test_full_lobby(lab: Lab) -> None:
    """Once max_guests are accepted, joins and further accepts get lobby_full."""
    host, started = await lab.host(max_guests=1)
    code = started["lobby_id"]
    bob = await lab.joiner(host, code, "Bob")
    cy = await lab.joiner(host, code, "Cy")
    await host.act("accept_request", connection_id=bob.id)
    await bob.expect("request_accepted")
    await host.expect("guest_accepted")
    await host.act("accept_request", connection_id=cy.id)
    await host.expect_error("lobby_full", "accept_request")

    dee = await lab.client()
    await dee.act("join_lobby", lobby_id=code, name="Dee")
    await dee.expect_error("lobby_full", "join_lobby")
    for client in (host, bob, cy):
        await client.assert_silent()


async def test_unanswered_request_times_out() -> None:
    """A request left unanswered is rejected with reason timeout and removed at the host."""
    async with open_lab(timeouts=short_timeouts(pending_request_timeout=SHORT)) as lab:
        host, started = await lab.host()
        code = started["lobby_id"]
        bob = await lab.joiner(host, code, "Bob")
        assert await bob.expect("request_rejected") == {"lobby_id": code, "reason": "timeout"}
        assert await host.expect("request_removed") == {"connection_id": bob.id}
        await host.act("accept_request", connection_id=bob.id)
        await host.expect_error("unknown_connection", "accept_request")
        await bob.assert_silent()


# Limits ---------------------------------------------------------------------------------


async def test_action_rate_limit() -> None:
    """Past the burst, actions get rate_limited errors; the connection stays open and recovers."""
    limits = Limits(actions_per_second=5, action_burst=5, password_hash_iterations=1)
    async with open_lab(limits=limits) as lab:
        client = await lab.client()
        for t in range(8):
            await client.act("ping", t=t)
        for t in range(5):
            assert await client.expect("pong") == {"t": t}
        for _ in range(3):
            await client.expect_error("rate_limited")
        # Refilled at 5 tokens/s: keep asking until the budget lets a ping through.
        async with asyncio.timeout(EVENT_TIMEOUT):
            while True:
                await client.act("ping", t="again")
                message = await client.next()
                if message["event"] == "pong":
                    assert message["content"] == {"t": "again"}
                    break
                assert message["content"]["code"] == "rate_limited", message
        assert lab.server.counters.errors["rate_limited"] >= 3


async def test_join_attempts_per_address_per_minute() -> None:
    """Join attempts past the per-address budget get rate_limited, even on a new connection."""
    limits = Limits(joins_per_address_per_minute=3, password_hash_iterations=1)
    async with open_lab(limits=limits) as lab:
        host, started = await lab.host()
        guesser = await lab.client("127.0.0.77")
        for guess in ("AAAAAA", "BBBBBB", "CCCCCC"):
            await guesser.act("join_lobby", lobby_id=guess, name="Guesser")
            await guesser.expect_error("lobby_not_found", "join_lobby")
        await guesser.act("join_lobby", lobby_id=started["lobby_id"], name="Guesser")
        await guesser.expect_error("rate_limited", "join_lobby")
        again = await lab.client("127.0.0.77")
        await again.act("join_lobby", lobby_id=started["lobby_id"], name="Guesser")
        await again.expect_error("rate_limited", "join_lobby")
        await host.assert_silent()

        honest = await lab.client("127.0.0.78")
        await honest.act("join_lobby", lobby_id=started["lobby_id"], name="Honest")
        await honest.expect("join_requested")
        await host.expect("request_to_join")


async def test_lobbies_per_address() -> None:
    """An address may hold only so many open lobbies; closing one makes room again."""
    limits = Limits(lobbies_per_address=2, password_hash_iterations=1)
    async with open_lab(limits=limits) as lab:
        first, second, third = [await lab.client("127.0.0.90") for _ in range(3)]
        for host in (first, second):
            await host.act("start_lobby")
            await host.expect("lobby_started")
        await third.act("start_lobby")
        await third.expect_error("rate_limited", "start_lobby")
        elsewhere = await lab.client("127.0.0.91")
        await elsewhere.act("start_lobby")
        await elsewhere.expect("lobby_started")

        await first.act("close_lobby")
        await first.expect("lobby_closed")
        await third.act("start_lobby")
        await third.expect("lobby_started")


async def test_frame_above_max_frame_bytes_is_refused() -> None:
    """A frame over max_frame_bytes gets message_too_large and the connection stays usable."""
    limits = Limits(max_frame_bytes=1024, hard_frame_bytes=4096, password_hash_iterations=1)
    async with open_lab(limits=limits) as lab:
        client = await lab.client()
        await client.act("ping", t="x" * 2000)
        await client.expect_error("message_too_large")
        await client.act("ping", t="x" * 900)
        assert await client.expect("pong") == {"t": "x" * 900}
        await client.assert_silent()


async def test_frame_above_hard_frame_bytes_closes_with_1009() -> None:
    """A frame over hard_frame_bytes closes the connection with 1009 (message too big)."""
    limits = Limits(max_frame_bytes=1024, hard_frame_bytes=4096, password_hash_iterations=1)
    async with open_lab(limits=limits) as lab:
        client = await lab.client()
        await client.act("ping", t="x" * 5000)
        await client.expect_closed(1009)


# Malformed input ------------------------------------------------------------------------


async def test_binary_frame_is_invalid_message(lab: Lab) -> None:
    """A binary frame gets invalid_message and the connection stays usable."""
    client = await lab.client()
    await client.raw(b'{"action": "ping", "content": {}}')
    await client.expect_error("invalid_message")
    await client.assert_silent()


@pytest.mark.parametrize("frame", ["{not json", "[1, 2]", '"ping"', ""])
async def test_malformed_json_is_invalid_json(lab: Lab, frame: str) -> None:
    """A text frame that is not a JSON object gets invalid_json and the connection stays usable."""
    client = await lab.client()
    await client.raw(frame)
    await client.expect_error("invalid_json")
    await client.assert_silent()


async def test_guest_vanishing_mid_handshake(lab: Lab) -> None:
    """A guest gone after the offer: host gets guest_left, and relaying to it errors."""
    host, started = await lab.host()
    bob, _ = await lab.guest(host, started["lobby_id"], "Bob")
    await host.act("set_session_description", connection_id=bob.id, description=OFFER)
    await bob.expect("received_session_description")
    await bob.close()

    assert await host.expect("guest_left") == {"connection_id": bob.id, "reason": "disconnected"}
    await host.act("send_ice_candidate", ref="c1", connection_id=bob.id, candidate=CANDIDATE)
    error = await host.expect_error("unknown_connection", "send_ice_candidate")
    assert error["ref"] == "c1"
    await host.assert_silent()


# Server-wide --------------------------------------------------------------------------------


async def test_server_shutdown_closes_lobbies_then_sockets() -> None:
    """On shutdown every lobby member gets lobby_closed(server_shutdown), then close code 1001."""
    labs: list[Lab] = []
    try:
        async with serve(loopback_config()) as server:
            lab = Lab(server)
            labs.append(lab)
            host, started = await lab.host()
            code = started["lobby_id"]
            bob, _ = await lab.guest(host, code, "Bob")
            cy = await lab.joiner(host, code, "Cy")
            idle = await lab.client()
            await idle.assert_silent()
        # The block has ended: the server has shut down while everyone was connected.
        for member in (host, bob, cy):
            assert await member.expect("lobby_closed") == {
                "lobby_id": code,
                "reason": "server_shutdown",
            }
            await member.expect_closed(1001)
        await idle.expect_closed(1001)
    finally:
        for opened in labs:
            await opened.close_clients()


async def test_no_delivery_across_lobbies(lab: Lab) -> None:
    """A host or guest can't reach, accept or kick a connection of another lobby."""
    ann, ann_started = await lab.host()
    zed, zed_started = await lab.host()
    bob, _ = await lab.guest(ann, ann_started["lobby_id"], "Bob")
    yan, _ = await lab.guest(zed, zed_started["lobby_id"], "Yan")
    xia = await lab.joiner(zed, zed_started["lobby_id"], "Xia")

    await ann.act("set_session_description", connection_id=yan.id, description=OFFER)
    await ann.expect_error("unknown_connection", "set_session_description")
    await ann.act("send_message", connection_id=yan.id, data="hi stranger")
    await ann.expect_error("unknown_connection", "send_message")
    await ann.act("accept_request", connection_id=xia.id)
    await ann.expect_error("unknown_connection", "accept_request")
    await ann.act("kick_guest", connection_id=yan.id)
    await ann.expect_error("unknown_connection", "kick_guest")
    await bob.act("send_ice_candidate", connection_id=zed.id, candidate=CANDIDATE)
    await bob.expect_error("unknown_connection", "send_ice_candidate")
    await ann.act("send_message", connection_id="*", data="only mine")
    assert (await bob.expect("received_message"))["data"] == "only mine"
    for client in (ann, zed, bob, yan, xia):
        await client.assert_silent()


async def test_relay_to_a_socket_already_closing_errors_to_the_sender(lab: Lab) -> None:
    """A relay that finds its recipient's socket closing is never dropped silently: the sender gets an error."""
    host, started = await lab.host()
    bob, _ = await lab.guest(host, started["lobby_id"], "Bob")
    # The server starts closing Bob's socket; Bob's side does not read, so the
    # closing handshake hangs and the server has not yet handled the disconnect.
    bob.ws.transport.pause_reading()
    server_side = lab.server._sockets[bob.id]  # type: ignore[index]
    server_side.protocol.send_close(1001, "test")
    server_side.send_data()
    await host.act("send_message", connection_id=bob.id, data="are you there?")
    error = await host.expect_error("unknown_connection")
    assert "disconnected" in error["message"]
    bob.ws.transport.resume_reading()
    assert await host.expect("guest_left") == {"connection_id": bob.id, "reason": "disconnected"}
