"""Domain tests: malformed frames and every limit of protocol v1."""

from __future__ import annotations

import json

import pytest

from signalling_server.backend import MemoryBackend
from signalling_server.config import Limits

from .harness import Harness, frames, open_lobby

LIMITS = Limits(password_hash_iterations=1)


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "invalid_json"),
        ('{"action": "ping"', "invalid_json"),
        ("[1, 2]", "invalid_json"),
        ('"ping"', "invalid_json"),
        ("null", "invalid_json"),
        (b'{"action":"ping"}', "invalid_message"),  # a binary frame
        ("{}", "invalid_message"),
        ('{"action": 5}', "invalid_message"),
        ('{"action": "ping", "ref": 7}', "invalid_message"),
        ('{"action": "ping", "content": [1]}', "invalid_message"),
        ('{"action": "dance"}', "unknown_action"),
        ('{"action": "join_lobby", "content": {}}', "invalid_message"),
        ('{"action": "join_lobby", "content": {"lobby_id": 123456}}', "invalid_message"),
        ('{"action": "start_lobby", "content": {"max_guests": 0}}', "invalid_message"),
        ('{"action": "start_lobby", "content": {"max_guests": 65}}', "invalid_message"),
        (
            '{"action": "start_lobby", "content": {"password": "' + "p" * 129 + '"}}',
            "invalid_message",
        ),
        ('{"action": "set_lobby_open", "content": {"open": "yes"}}', "invalid_message"),
        ('{"action": "send_ice_candidate", "content": {"connection_id": "x"}}', "invalid_message"),
        (
            '{"action": "send_ice_candidate", "content": {"connection_id": "x", "candidate": 5}}',
            "invalid_message",
        ),
        (
            '{"action":"set_session_description","content":'
            '{"connection_id":"x","description":{"type":"bogus","sdp":""}}}',
            "invalid_message",
        ),
        ('{"action": "send_message", "content": {"connection_id": "x"}}', "invalid_message"),
        ('{"action": "resume", "content": {"token": ""}}', "invalid_message"),
    ],
)
def test_bad_frames_get_a_typed_error_and_the_connection_stays_usable(
    frame: str | bytes, code: str
) -> None:
    """Every malformed frame answers one error with its code; the next good frame works."""
    h = Harness(limits=LIMITS)
    client = h.client()
    client.raw(frame)
    client.expect_error(code)
    client.assert_silent()
    client.act("ping", t=1)
    assert client.expect("pong") == {"t": 1}


def test_error_names_the_action_and_echoes_ref() -> None:
    """An error caused by an action names it and carries its ref, in content and envelope."""
    h = Harness(limits=LIMITS)
    client = h.client()
    client.raw('{"action": "join_lobby", "content": {"lobby_id": 5}, "ref": "q1"}')
    message = client.next()
    assert message["ref"] == "q1"
    assert message["content"]["action"] == "join_lobby"
    assert message["content"]["ref"] == "q1"


def test_unknown_keys_are_ignored() -> None:
    """Extra keys at the top level and in content do not stop an action."""
    h = Harness(limits=LIMITS)
    client = h.client()
    client.raw('{"action": "start_lobby", "content": {"colour": "red"}, "v": 2}')
    client.expect("lobby_started")


def test_oversize_frame_is_message_too_large() -> None:
    """A frame above max_frame_bytes (counted in UTF-8 bytes) gets message_too_large."""
    h = Harness(limits=Limits(max_frame_bytes=1000, password_hash_iterations=1))
    client = h.client()
    client.act("ping", t="x" * 900)
    client.expect("pong")
    client.act("ping", t="é" * 600)  # 600 characters, 1200 bytes
    client.expect_error("message_too_large")
    client.act("ping", t="ok")
    client.expect("pong")


def test_action_rate_limit_allows_a_burst_then_the_sustained_rate() -> None:
    """A connection gets action_burst actions at once, then actions_per_second."""
    h = Harness(limits=Limits(actions_per_second=50, action_burst=200, password_hash_iterations=1))
    client = h.client()
    for n in range(200):
        client.act("ping", t=n)
        assert client.expect("pong") == {"t": n}
    client.act("ping", t="over")
    client.expect_error("rate_limited")
    h.clock.advance(1.0)
    for n in range(50):
        client.act("ping", t=n)
        client.expect("pong")
    client.act("ping", t="over")
    client.expect_error("rate_limited")


def test_rate_limit_is_per_connection() -> None:
    """One flooding connection does not eat another's budget."""
    h = Harness(limits=Limits(action_burst=5, password_hash_iterations=1))
    flooder, other = h.client(), h.client()
    for _ in range(6):
        flooder.act("ping")
    assert [flooder.next()["event"] for _ in range(6)] == ["pong"] * 5 + ["error"]
    other.act("ping")
    other.expect("pong")


def test_open_lobbies_per_address_are_capped() -> None:
    """An address may hold lobbies_per_address open lobbies; closing one frees a slot."""
    h = Harness(limits=Limits(lobbies_per_address=2, password_hash_iterations=1))
    first, _, _ = open_lobby(h)
    open_lobby(h)
    third = h.client()
    third.act("start_lobby")
    third.expect_error("rate_limited", "start_lobby")
    elsewhere = h.client("127.0.0.2")
    elsewhere.act("start_lobby")
    elsewhere.expect("lobby_started")
    first.act("close_lobby")
    first.expect("lobby_closed")
    third.act("start_lobby")
    third.expect("lobby_started")


def test_join_attempts_per_address_are_capped_and_survive_reconnects() -> None:
    """joins_per_address_per_minute defeats code guessing, even across new connections."""
    h = Harness(limits=Limits(joins_per_address_per_minute=3, password_hash_iterations=1))
    guesser = h.client("127.0.0.66")
    for code in ("AAAAAA", "BBBBBB", "CCCCCC"):
        guesser.act("join_lobby", lobby_id=code)
        guesser.expect_error("lobby_not_found")
    guesser.act("join_lobby", lobby_id="DDDDDD")
    guesser.expect_error("rate_limited", "join_lobby")
    guesser.disconnect()
    again = h.client("127.0.0.66")
    again.act("join_lobby", lobby_id="DDDDDD")
    again.expect_error("rate_limited")
    h.advance(60)
    again.act("join_lobby", lobby_id="DDDDDD")
    again.expect_error("lobby_not_found")


def test_forgotten_addresses_leave_no_state() -> None:
    """Once an address has no connections and its join window is over, nothing of it is kept."""
    h = Harness(limits=LIMITS)
    client = h.client("127.0.0.77")
    client.act("join_lobby", lobby_id="AAAAAA")
    client.expect_error("lobby_not_found")
    client.disconnect()
    h.advance(61)
    assert "127.0.0.77" not in h.registry._addresses


def test_every_event_is_a_json_object_with_event_and_content() -> None:
    """Frames the registry sends decode to {event, content} objects."""
    h = Harness(limits=LIMITS)
    host, _, _ = open_lobby(h)
    effects = h.registry.handle(host.id, json.dumps({"action": "get_lobby_info"}))
    for _, frame in frames(effects):
        message = json.loads(frame)
        assert set(message) >= {"event", "content"}


def test_every_error_names_its_action_and_echoes_its_ref() -> None:
    """unknown_action, rate_limited and refused actions all carry the action's name and ref."""
    h = Harness(limits=Limits(actions_per_second=1, action_burst=2, password_hash_iterations=1))
    client = h.client()
    client.raw('{"action": "dance", "ref": "d1"}')
    message = client.next()
    assert message["ref"] == "d1"
    assert message["content"]["code"] == "unknown_action"
    assert message["content"]["action"] == "dance" and message["content"]["ref"] == "d1"
    client.act("leave_lobby", ref="l1")
    refused = client.next()
    assert refused["ref"] == "l1"
    assert refused["content"]["action"] == "leave_lobby" and refused["content"]["ref"] == "l1"
    client.act("ping", ref="p1", t=1)
    limited = client.next()
    assert limited["content"]["code"] == "rate_limited"
    assert limited["content"]["action"] == "ping" and limited["content"]["ref"] == "p1"
    assert limited["ref"] == "p1"


def test_a_refused_action_changes_nothing() -> None:
    """An action refused with an error sends nothing else and leaves the lobby as it was."""
    h = Harness(limits=LIMITS, backend=MemoryBackend(copies=True))
    host, _, _ = open_lobby(h, max_guests=1)
    before = next(h.registry.backend.lobbies())
    host.act("kick_guest", connection_id="nobody", message="x" * 201)
    host.expect_error("invalid_message", "kick_guest")
    host.assert_silent()
    after = next(h.registry.backend.lobbies())
    assert after.guests == before.guests and after.host_backlog == before.host_backlog
