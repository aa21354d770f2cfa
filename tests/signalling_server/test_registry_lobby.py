"""Domain tests: starting, joining, deciding on, leaving and closing lobbies."""

from __future__ import annotations

import pytest

from signalling_server.config import Limits, Timeouts
from signalling_server.ice import IceConfig
from signalling_server.ids import CODE_ALPHABET
from signalling_server.lobby import Role

from .harness import Harness, accept, join, open_lobby


def test_start_lobby_answers_with_code_ids_token_and_ice_servers() -> None:
    """start_lobby gives a 6-character code, the caller's id, a host token and peer id 1."""
    h = Harness(ice=IceConfig(stun_urls=("stun:127.0.0.1:3478",)))
    host = h.client()
    host.act("start_lobby", name="Friday game", display_name="Ann", ref="r1")
    message = host.next()
    assert message["event"] == "lobby_started"
    assert message["ref"] == "r1"
    content = message["content"]
    assert len(content["lobby_id"]) == 6 and set(content["lobby_id"]) <= set(CODE_ALPHABET)
    assert content["connection_id"] == host.id
    assert content["peer_id"] == 1
    assert len(content["host_token"]) >= 32
    assert content["ice_servers"] == [{"urls": ["stun:127.0.0.1:3478"]}]
    assert h.registry.connection(host.id).role is Role.HOST  # type: ignore[union-attr]


def test_start_lobby_with_requested_code_normalises_it() -> None:
    """A host may ask for a code; lower case, dashes and look-alike letters are normalised."""
    h = Harness()
    host = h.client()
    host.act("start_lobby", lobby_id="ab-c1ol")
    assert host.expect("lobby_started")["lobby_id"] == "ABC101"


def test_requested_code_taken_is_lobby_exists() -> None:
    """Asking for a code that is in use gives lobby_exists."""
    h = Harness()
    open_lobby(h, lobby_id="GAME42")
    other = h.client("127.0.0.9")
    other.act("start_lobby", lobby_id="game42")
    other.expect_error("lobby_exists", "start_lobby")


def test_requested_code_invalid_is_invalid_message() -> None:
    """A requested code with characters outside the alphabet is refused as invalid_message."""
    h = Harness()
    host = h.client()
    host.act("start_lobby", lobby_id="UUUUUU")
    host.expect_error("invalid_message", "start_lobby")


def test_join_request_reaches_host_and_joiner_is_told_the_lobby_name() -> None:
    """join_lobby: the host gets request_to_join with the cleaned name; the joiner the lobby name."""
    h = Harness()
    host, code, _ = open_lobby(h, name="Friday game")
    guest = h.client("127.0.0.2")
    guest.act("join_lobby", lobby_id=code.lower(), name="  Bob\x07\u200b ", ref="j")
    message = guest.next()
    assert message == {
        "event": "join_requested",
        "content": {"lobby_id": code, "name": "Friday game"},
        "ref": "j",
    }
    assert host.expect("request_to_join") == {"connection_id": guest.id, "name": "Bob"}
    assert h.registry.connection(guest.id).role is Role.PENDING  # type: ignore[union-attr]


def test_join_unknown_code_is_lobby_not_found() -> None:
    """A code nobody uses, or one that is not a code at all, gives lobby_not_found."""
    h = Harness()
    guest = h.client()
    guest.act("join_lobby", lobby_id="ZZZZZZ")
    guest.expect_error("lobby_not_found", "join_lobby")
    guest.act("join_lobby", lobby_id="not a code")
    guest.expect_error("lobby_not_found", "join_lobby")


def test_accept_makes_joiner_a_guest_with_token_and_next_peer_id() -> None:
    """accept_request: the guest gets ids, a token and ICE servers; the host gets guest_accepted."""
    h = Harness()
    host, code, _ = open_lobby(h)
    first = join(h, host, code, "Bob")
    second = join(h, host, code, "Cy")
    host.act("accept_request", connection_id=second.id, ref="a")
    accepted = second.expect("request_accepted")
    assert accepted["lobby_id"] == code
    assert accepted["host_connection_id"] == host.id
    assert accepted["connection_id"] == second.id
    assert accepted["peer_id"] == 2
    assert len(accepted["guest_token"]) >= 32
    assert accepted["ice_servers"] == []
    message = host.next()
    assert message["ref"] == "a"
    assert message["content"] == {"connection_id": second.id, "peer_id": 2, "name": "Cy"}
    host.act("accept_request", connection_id=first.id)
    assert first.expect("request_accepted")["peer_id"] == 3
    assert h.registry.stats.joins_accepted == 2


def test_reject_tells_joiner_the_reason_and_frees_it() -> None:
    """reject_join_request: the joiner gets rejected_by_host and the host's words as message."""
    h = Harness()
    host, code, _ = open_lobby(h)
    bob = join(h, host, code, "Bob")
    host.act("reject_join_request", connection_id=bob.id, message="  game already started ")
    assert bob.expect("request_rejected") == {
        "lobby_id": code,
        "reason": "rejected_by_host",
        "message": "game already started",
    }
    assert host.expect("request_removed") == {"connection_id": bob.id, "reason": "rejected_by_host"}
    cy = join(h, host, code, "Cy")
    host.act("reject_join_request", connection_id=cy.id)
    assert cy.expect("request_rejected") == {"lobby_id": code, "reason": "rejected_by_host"}
    host.expect("request_removed")
    assert h.registry.connection(bob.id).role is Role.IDLE  # type: ignore[union-attr]
    bob.act("join_lobby", lobby_id=code)  # idle again: may ask again
    bob.expect("join_requested")


def test_cancel_join_tells_host() -> None:
    """cancel_join: the host gets request_cancelled, the caller join_cancelled."""
    h = Harness()
    host, code, _ = open_lobby(h)
    bob = join(h, host, code)
    bob.act("cancel_join", ref="c")
    assert bob.next() == {"event": "join_cancelled", "content": {"lobby_id": code}, "ref": "c"}
    assert host.expect("request_cancelled") == {"connection_id": bob.id}
    host.act("accept_request", connection_id=bob.id)
    host.expect_error("unknown_connection", "accept_request")


def test_leave_lobby_tells_host() -> None:
    """leave_lobby: the host gets guest_left reason left, the caller left_lobby; token dies."""
    h = Harness()
    host, code, _ = open_lobby(h)
    bob, token = accept(h, host, code)
    bob.act("leave_lobby")
    assert bob.expect("left_lobby") == {"lobby_id": code}
    assert host.expect("guest_left") == {"connection_id": bob.id, "reason": "left"}
    again = h.client("127.0.0.3")
    again.act("resume", token=token)
    again.expect_error("invalid_token")


def test_kick_guest_tells_both_and_guest_becomes_idle() -> None:
    """kick_guest: the guest gets kicked_by_host with the host's words and is idle; the host guest_left kicked."""
    h = Harness()
    host, code, _ = open_lobby(h)
    bob, token = accept(h, host, code)
    host.act("kick_guest", connection_id=bob.id, message="cheating")
    assert bob.expect("kicked") == {
        "lobby_id": code,
        "reason": "kicked_by_host",
        "message": "cheating",
    }
    assert host.expect("guest_left") == {"connection_id": bob.id, "reason": "kicked"}
    assert h.registry.connection(bob.id).role is Role.IDLE  # type: ignore[union-attr]
    bob.act("send_message", connection_id=host.id, data="hi")
    bob.expect_error("not_in_lobby")
    other = h.client("127.0.0.4")
    other.act("resume", token=token)
    other.expect_error("invalid_token")


def test_kick_as_unreachable_frees_the_seat_and_tells_the_guest_why() -> None:
    """kick_guest with code unreachable: the guest learns the host could not reach it, and its seat is free."""
    h = Harness()
    host, code, _ = open_lobby(h, max_guests=1)
    bob, _ = accept(h, host, code)
    host.act("kick_guest", connection_id=bob.id, code="unreachable")
    assert bob.expect("kicked") == {"lobby_id": code, "reason": "unreachable"}
    assert host.expect("guest_left") == {"connection_id": bob.id, "reason": "kicked"}
    accept(h, host, code, address="127.0.0.9")


def test_kick_with_an_unknown_code_is_refused_and_changes_nothing() -> None:
    """A kick_guest code outside the closed set is invalid_message; the guest stays."""
    h = Harness()
    host, code, _ = open_lobby(h)
    bob, _ = accept(h, host, code)
    host.act("kick_guest", connection_id=bob.id, code="bored")
    host.expect_error("invalid_message")
    assert h.registry.connection(bob.id).role is Role.GUEST  # type: ignore[union-attr]


def test_kick_of_pending_joiner_is_not_accepted() -> None:
    """A host kicks guests; a pending joiner must be rejected instead (not_accepted)."""
    h = Harness()
    host, code, _ = open_lobby(h)
    bob = join(h, host, code)
    host.act("kick_guest", connection_id=bob.id)
    host.expect_error("not_accepted", "kick_guest")


def test_close_lobby_tells_everyone_and_frees_the_code() -> None:
    """close_lobby: host, guests and pending joiners all get lobby_closed closed_by_host."""
    h = Harness()
    host, code, _ = open_lobby(h)
    bob, _ = accept(h, host, code, "Bob")
    cy = join(h, host, code, "Cy")
    host.act("close_lobby", ref="bye")
    closed = {"lobby_id": code, "reason": "closed_by_host"}
    assert host.next() == {"event": "lobby_closed", "content": closed, "ref": "bye"}
    assert bob.expect("lobby_closed") == closed
    assert cy.expect("lobby_closed") == closed
    assert h.registry.backend.lobby_count() == 0
    for client in (host, bob, cy):
        assert h.registry.connection(client.id).role is Role.IDLE  # type: ignore[union-attr]
    cy.act("join_lobby", lobby_id=code)
    cy.expect_error("lobby_not_found")


def test_set_lobby_open_locks_new_joins() -> None:
    """set_lobby_open false: new joins get lobby_locked; the host gets lobby_info; true reopens."""
    h = Harness()
    host, code, _ = open_lobby(h)
    host.act("set_lobby_open", open=False)
    assert host.expect("lobby_info")["open"] is False
    bob = h.client("127.0.0.2")
    bob.act("join_lobby", lobby_id=code)
    bob.expect_error("lobby_locked", "join_lobby")
    host.act("set_lobby_open", open=True)
    assert host.expect("lobby_info")["open"] is True
    bob.act("join_lobby", lobby_id=code)
    bob.expect("join_requested")


def test_password_is_required_and_checked() -> None:
    """A lobby with a password refuses a missing or wrong one (wrong_password) and admits the right one."""
    h = Harness()
    _, code, _ = open_lobby(h, password="s3cret")
    bob = h.client("127.0.0.2")
    bob.act("join_lobby", lobby_id=code)
    bob.expect_error("wrong_password")
    bob.act("join_lobby", lobby_id=code, password="S3CRET")
    bob.expect_error("wrong_password")
    bob.act("join_lobby", lobby_id=code, password="s3cret")
    bob.expect("join_requested")
    lobby = next(h.registry.backend.lobbies())
    assert lobby.password is not None
    assert b"s3cret" not in lobby.password.digest  # stored hashed, never as given


def test_lobby_full_counts_accepted_guests() -> None:
    """With max_guests accepted, a new join and a further accept give lobby_full."""
    h = Harness()
    host, code, _ = open_lobby(h, max_guests=1)
    waiting = join(h, host, code, "Early")
    accept(h, host, code, "Bob")
    late = h.client("127.0.0.5")
    late.act("join_lobby", lobby_id=code)
    late.expect_error("lobby_full", "join_lobby")
    host.act("accept_request", connection_id=waiting.id)
    host.expect_error("lobby_full", "accept_request")


def test_pending_requests_have_their_own_cap() -> None:
    """Pending joiners count against pending_per_lobby, answered with lobby_full."""
    h = Harness(limits=Limits(pending_per_lobby=2, password_hash_iterations=1))
    host, code, _ = open_lobby(h)
    join(h, host, code, "A")
    join(h, host, code, "B")
    third = h.client("127.0.0.7")
    third.act("join_lobby", lobby_id=code)
    third.expect_error("lobby_full")


def test_pending_request_times_out() -> None:
    """An unanswered request ends after pending_request_timeout: request_rejected timeout."""
    h = Harness(timeouts=Timeouts(pending_request_timeout=120))
    host, code, _ = open_lobby(h)
    bob = join(h, host, code)
    h.advance(119)
    bob.assert_silent()
    h.advance(1)
    assert bob.expect("request_rejected") == {"lobby_id": code, "reason": "timeout"}
    assert host.expect("request_removed") == {"connection_id": bob.id, "reason": "timeout"}
    host.act("accept_request", connection_id=bob.id)
    host.expect_error("unknown_connection")


def test_get_lobby_info_lists_host_and_guests() -> None:
    """get_lobby_info: settings, the host and the accepted guests, for host and guests alike."""
    h = Harness()
    host, code, _ = open_lobby(h, name="Game", display_name="Ann", max_guests=4, password="pw")
    bob, _ = accept(h, host, code, "Bob", password="pw")
    join(h, host, code, "Pending", password="pw")
    bob.act("get_lobby_info", ref="i")
    message = bob.next()
    assert message["ref"] == "i"
    assert message["content"] == {
        "lobby_id": code,
        "name": "Game",
        "open": True,
        "max_guests": 4,
        "has_password": True,
        "host": {"connection_id": host.id, "name": "Ann", "peer_id": 1},
        "guests": [{"connection_id": bob.id, "name": "Bob", "peer_id": 2}],
    }
    host.act("get_lobby_info")
    assert host.expect("lobby_info")["guests"] == message["content"]["guests"]


@pytest.mark.parametrize("name", ["", "   ", "\x00\x01", "x" * 33])
def test_bad_names_are_invalid_message(name: str) -> None:
    """Names must keep 1..32 printable characters after trimming."""
    h = Harness()
    host, code, _ = open_lobby(h)
    bob = h.client("127.0.0.2")
    bob.act("join_lobby", lobby_id=code, name=name)
    bob.expect_error("invalid_message", "join_lobby")
    host.assert_silent()


def test_ice_servers_for_members_and_ping_for_anyone() -> None:
    """get_ice_servers (TURN credentials) is for lobby members only; ping works for anyone, t echoed."""
    h = Harness(ice=IceConfig(stun_urls=("stun:127.0.0.1:3478",)))
    client = h.client()
    client.act("get_ice_servers", ref="x")
    client.expect_error("not_in_lobby", "get_ice_servers")
    host, code, _ = open_lobby(h)
    joiner = join(h, host, code)
    joiner.act("get_ice_servers")
    joiner.expect_error("not_accepted", "get_ice_servers")
    host.act("get_ice_servers", ref="x")
    assert host.next() == {
        "event": "ice_servers",
        "content": {"ice_servers": [{"urls": ["stun:127.0.0.1:3478"]}]},
        "ref": "x",
    }
    client.act("ping", t={"n": 1.5, "s": [1, "two"]})
    assert client.expect("pong") == {"t": {"n": 1.5, "s": [1, "two"]}}
    client.raw('{"action":"ping"}')
    assert client.expect("pong") == {"t": None}


def test_kick_and_block_keeps_that_address_out_of_this_lobby_only() -> None:
    """kick_guest{block}: the kicked guest's address can't join this lobby again; others and other lobbies can."""
    h = Harness()
    host, code, _ = open_lobby(h)
    bob, _ = accept(h, host, code, "Bob", address="127.0.0.2")
    host.act("kick_guest", connection_id=bob.id, message="cheating", block=True)
    assert bob.expect("kicked")["message"] == "cheating"
    host.expect("guest_left")
    again = h.client("127.0.0.2")
    again.act("join_lobby", lobby_id=code, name="Bob")
    again.expect_error("blocked", "join_lobby")
    host.assert_silent()
    join(h, host, code, "Cy", address="127.0.0.3")
    other_host = h.client("127.0.0.8")
    other_host.act("start_lobby")
    other = other_host.expect("lobby_started")["lobby_id"]
    again.act("join_lobby", lobby_id=other)
    again.expect("join_requested")


def test_kick_without_block_lets_the_guest_ask_again() -> None:
    """A plain kick does not block: the same address may ask to join again."""
    h = Harness()
    host, code, _ = open_lobby(h)
    bob, _ = accept(h, host, code, "Bob", address="127.0.0.2")
    host.act("kick_guest", connection_id=bob.id)
    assert bob.expect("kicked") == {"lobby_id": code, "reason": "kicked_by_host"}
    host.expect("guest_left")
    bob.act("join_lobby", lobby_id=code)
    bob.expect("join_requested")


def test_older_clients_reason_field_is_the_hosts_words() -> None:
    """kick_guest and reject_join_request take an older client's "reason" as the host's message."""
    h = Harness()
    host, code, _ = open_lobby(h)
    bob, _ = accept(h, host, code, "Bob")
    cy = join(h, host, code, "Cy")
    host.act("kick_guest", connection_id=bob.id, reason="spamming")
    assert bob.expect("kicked") == {
        "lobby_id": code,
        "reason": "kicked_by_host",
        "message": "spamming",
    }
    host.expect("guest_left")
    host.act("reject_join_request", connection_id=cy.id, reason="full for tonight")
    assert cy.expect("request_rejected") == {
        "lobby_id": code,
        "reason": "rejected_by_host",
        "message": "full for tonight",
    }
