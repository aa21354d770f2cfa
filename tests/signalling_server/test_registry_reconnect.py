"""Domain tests: disconnects, grace periods, resume with tokens, shutdown."""

from __future__ import annotations

from signalling_server.config import Timeouts
from signalling_server.lobby import Role
from signalling_server.registry import CLOSE_GOING_AWAY, CLOSE_RESUMED_ELSEWHERE, CloseConnection

from .harness import Harness, accept, join, open_lobby

GRACE = Timeouts(guest_grace=30, host_grace=30)


def test_pending_joiner_drop_cancels_its_request() -> None:
    """A pending joiner that disconnects shows up at the host as request_cancelled."""
    h = Harness()
    host, code, _ = open_lobby(h)
    bob = join(h, host, code)
    bob.disconnect()
    assert host.expect("request_cancelled") == {"connection_id": bob.id}


def test_guest_drop_then_resume_within_grace_keeps_its_place() -> None:
    """A dropped guest is guest_left for the host; resuming gives its peer id back and guest_resumed."""
    h = Harness(timeouts=GRACE)
    host, code, _ = open_lobby(h)
    bob, token = accept(h, host, code)
    bob.disconnect()
    assert host.expect("guest_left") == {"connection_id": bob.id, "reason": "disconnected"}
    h.advance(29)
    back = h.client("127.0.0.9")
    back.act("resume", token=token, ref="r")
    message = back.next()
    assert message == {
        "event": "resumed",
        "content": {"role": "guest", "lobby_id": code, "connection_id": back.id, "peer_id": 2},
        "ref": "r",
    }
    assert host.expect("guest_resumed") == {"old_connection_id": bob.id, "connection_id": back.id}
    back.act("send_message", connection_id=host.id, data="back")
    assert host.expect("received_message")["connection_id"] == back.id
    h.advance(10)  # the old grace timer must not evict the resumed guest
    host.act("get_lobby_info")
    assert [g["connection_id"] for g in host.expect("lobby_info")["guests"]] == [back.id]


def test_relaying_to_a_guest_that_dropped_is_unknown_connection() -> None:
    """While a dropped guest is in its grace period, signalling its old id errors to the sender."""
    h = Harness(timeouts=GRACE)
    host, code, _ = open_lobby(h)
    bob, _ = accept(h, host, code)
    bob.disconnect()
    host.expect("guest_left")
    host.act("send_ice_candidate", ref="c1", connection_id=bob.id, candidate=None)
    assert host.expect_error("unknown_connection", "send_ice_candidate")["ref"] == "c1"
    h.assert_all_silent()


def test_guest_grace_expiry_frees_the_seat_and_kills_the_token() -> None:
    """After guest_grace the host hears the guest is lost, the token is invalid and the seat is free."""
    h = Harness(timeouts=GRACE)
    host, code, _ = open_lobby(h, max_guests=1)
    bob, token = accept(h, host, code)
    bob.disconnect()
    assert host.expect("guest_left") == {"connection_id": bob.id, "reason": "disconnected"}
    late = h.client("127.0.0.5")
    late.act("join_lobby", lobby_id=code)
    late.expect_error("lobby_full")  # the away guest still holds its seat
    h.advance(29.9)
    host.assert_silent()
    h.advance(0.1)
    assert host.expect("guest_left") == {"connection_id": bob.id, "reason": "lost"}
    back = h.client("127.0.0.9")
    back.act("resume", token=token)
    back.expect_error("invalid_token", "resume")
    late.act("join_lobby", lobby_id=code)
    late.expect("join_requested")


def test_host_drop_then_resume_keeps_the_lobby() -> None:
    """Host drop: guests get host_disconnected, joiners host_left; resume brings host_resumed."""
    h = Harness(timeouts=GRACE)
    host, code, token = open_lobby(h)
    bob, _ = accept(h, host, code, "Bob")
    cy, _ = accept(h, host, code, "Cy")
    dee = join(h, host, code, "Dee")
    host.disconnect()
    assert bob.expect("host_disconnected") == {"lobby_id": code, "grace_s": 30}
    cy.expect("host_disconnected")
    assert dee.expect("request_rejected") == {"lobby_id": code, "reason": "host_left"}
    # While the host is away: joins wait, relays to it say why, guests still come and go.
    dee.act("join_lobby", lobby_id=code)
    dee.expect_error("host_unavailable", "join_lobby")
    bob.act("send_message", connection_id=host.id, data=1)
    bob.expect_error("host_unavailable", "send_message")
    cy.act("leave_lobby")
    cy.expect("left_lobby")
    h.advance(20)
    back = h.client("127.0.0.8")
    back.act("resume", token=token)
    assert back.expect("resumed") == {
        "role": "host",
        "lobby_id": code,
        "connection_id": back.id,
        "peer_id": 1,
    }
    # What happened while it was away is replayed to it, in order.
    assert back.expect("request_removed") == {"connection_id": dee.id, "reason": "host_left"}
    assert back.expect("guest_left") == {"connection_id": cy.id, "reason": "left"}
    assert bob.expect("host_resumed") == {"old_connection_id": host.id, "connection_id": back.id}
    bob.act("send_message", connection_id=back.id, data=2)
    assert back.expect("received_message") == {"connection_id": bob.id, "data": 2}
    h.advance(20)  # the old host-grace timer must not close the lobby
    h.assert_all_silent()
    assert h.registry.backend.lobby_count() == 1


def test_host_grace_expiry_closes_the_lobby() -> None:
    """No resume within host_grace: everyone gets lobby_closed host_left and the code is freed."""
    h = Harness(timeouts=GRACE)
    host, code, token = open_lobby(h)
    bob, _ = accept(h, host, code)
    host.disconnect()
    bob.expect("host_disconnected")
    h.advance(29.9)
    bob.assert_silent()
    h.advance(0.1)
    assert bob.expect("lobby_closed") == {"lobby_id": code, "reason": "host_left"}
    assert h.registry.connection(bob.id).role is Role.IDLE  # type: ignore[union-attr]
    assert h.registry.backend.lobby_count() == 0
    back = h.client()
    back.act("resume", token=token)
    back.expect_error("invalid_token")
    back.act("start_lobby", lobby_id=code)  # the code is free again
    back.expect("lobby_started")


def test_resume_takes_over_a_socket_that_still_looks_alive() -> None:
    """A valid token presented while the old socket is open takes the place and closes that socket."""
    h = Harness()
    host, code, _ = open_lobby(h)
    bob, token = accept(h, host, code)
    new = h.client("127.0.0.9")
    new.act("resume", token=token)
    new.expect("resumed")
    assert h.closes == [CloseConnection(bob.id, CLOSE_RESUMED_ELSEWHERE, "resumed elsewhere")]
    assert host.expect("guest_resumed") == {"old_connection_id": bob.id, "connection_id": new.id}
    bob.disconnect()  # the old socket closing later must not look like the guest leaving
    h.assert_all_silent()
    new.act("send_message", connection_id=host.id, data=1)
    host.expect("received_message")


def test_host_resume_takeover_tells_guests() -> None:
    """A host resuming over its still-open socket: guests get host_resumed, the old socket closes."""
    h = Harness()
    host, code, token = open_lobby(h)
    bob, _ = accept(h, host, code)
    new = h.client()
    new.act("resume", token=token)
    new.expect("resumed")
    assert bob.expect("host_resumed") == {"old_connection_id": host.id, "connection_id": new.id}
    assert h.closes[0].connection_id == host.id
    host.disconnect()
    h.assert_all_silent()


def test_guest_resuming_while_host_away_is_told_so() -> None:
    """A guest that resumes while the host is away learns it from host_disconnected."""
    h = Harness(timeouts=GRACE)
    host, code, _ = open_lobby(h)
    bob, token = accept(h, host, code)
    host.disconnect()
    bob.expect("host_disconnected")
    bob.disconnect()
    h.advance(10)
    back = h.client("127.0.0.9")
    back.act("resume", token=token)
    back.expect("resumed")
    assert back.expect("host_disconnected") == {"lobby_id": code, "grace_s": 20}


def test_invalid_tokens() -> None:
    """Unknown, malformed and wrong-secret tokens all get invalid_token."""
    h = Harness()
    _, _, token = open_lobby(h)
    token_id, _, secret = token.partition(".")
    caller = h.client("127.0.0.9")
    wrong_last = "y" if secret.endswith("x") else "x"  # a secret may end in x (1 in 64)
    wrong_secret = f"{token_id}.{secret[:-1]}{wrong_last}"
    for bad in ("nonsense", "a.b", wrong_secret, f"{token_id}.", "." + secret):
        caller.act("resume", token=bad)
        caller.expect_error("invalid_token", "resume")
    assert h.closes == []


def test_shutdown_tells_every_member_then_closes_every_socket() -> None:
    """shutdown: lobby members and joiners get lobby_closed server_shutdown; all sockets close 1001."""
    h = Harness()
    host, code, _ = open_lobby(h)
    bob, _ = accept(h, host, code)
    dee = join(h, host, code)
    idle = h.client()
    h.apply(h.registry.shutdown())
    for member in (host, bob, dee):
        assert member.expect("lobby_closed") == {"lobby_id": code, "reason": "server_shutdown"}
    idle.assert_silent()
    assert {c.connection_id for c in h.closes} == {host.id, bob.id, dee.id, idle.id}
    assert {c.code for c in h.closes} == {CLOSE_GOING_AWAY}


def test_host_can_kick_a_guest_in_its_grace_period() -> None:
    """Kicking an away guest by its last id frees the seat and stops its return."""
    h = Harness(timeouts=GRACE)
    host, code, _ = open_lobby(h, max_guests=1)
    bob, token = accept(h, host, code)
    bob.disconnect()
    host.expect("guest_left")
    host.act("kick_guest", connection_id=bob.id)
    assert host.expect("guest_left") == {"connection_id": bob.id, "reason": "kicked"}
    back = h.client("127.0.0.9")
    back.act("resume", token=token)
    back.expect_error("invalid_token")
    join(h, host, code, "Next")  # the seat is free again


def test_away_host_backlog_keeps_every_guest_however_often_it_flaps() -> None:
    """A guest that drops and resumes 100 times while the host is away is replayed as one drop and one resume."""
    h = Harness()
    host, code, host_token = open_lobby(h)
    first, token = accept(h, host, code, "Flappy")
    steady, _ = accept(h, host, code, "Steady", address="127.0.0.3")
    host.disconnect()
    first.expect("host_disconnected")
    steady.expect("host_disconnected")
    current = first
    for n in range(100):
        current.disconnect()
        current = h.client(f"127.0.1.{n % 200 + 1}")
        current.act("resume", token=token)
        current.expect("resumed")
        current.expect("host_disconnected")
    steady.act("leave_lobby")
    steady.expect("left_lobby")
    back = h.client("127.0.0.9")
    back.act("resume", token=host_token)
    back.expect("resumed")
    assert back.expect("guest_left") == {"connection_id": first.id, "reason": "disconnected"}
    assert back.expect("guest_resumed") == {
        "old_connection_id": first.id,
        "connection_id": current.id,
    }
    assert back.expect("guest_left") == {"connection_id": steady.id, "reason": "left"}
    back.assert_silent()
    current.act("send_message", connection_id=back.id, data="still here")
    assert back.expect("received_message")["connection_id"] == current.id
