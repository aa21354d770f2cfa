"""Domain tests: migratable lobbies, hand-over, promotion, snapshots and everyone-dropped retention.

Every test runs on each backend of the ``backend`` fixture (one that keeps
objects, one that hands out copies as a networked store does), so nothing
here relies on a change that was not committed.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from signalling_server.backend import MemoryBackend, StateBackend
from signalling_server.backend.redis import RedisBackend
from signalling_server.config import Limits, Timeouts
from signalling_server.lobby import SNAPSHOT_RECORD

from .harness import Client, Harness, accept, join, open_lobby

TIMEOUTS = Timeouts(guest_grace=30, host_grace=30, migration_retention=600)


@pytest.fixture(params=["objects", "copies", "redis"])
def backend(request: pytest.FixtureRequest) -> StateBackend:
    """A state backend: memory keeping objects, memory handing out copies, a real Redis."""
    if request.param == "redis":
        return RedisBackend(request.getfixturevalue("redis_url"))
    return MemoryBackend(copies=request.param == "copies")


def migratable(
    backend: StateBackend, limits: Limits | None = None, **content: Any
) -> tuple[Harness, Client, str, str]:
    h = Harness(
        timeouts=TIMEOUTS,
        backend=backend,
        limits=limits or Limits(password_hash_iterations=1, snapshots_kept=3),
    )
    host, code, token = open_lobby(h, migratable=True, **content)
    return h, host, code, token


def test_hand_over_to_a_named_guest_gives_it_the_lobby(backend: StateBackend) -> None:
    """The named guest gets a host token, the roster and the pending requests; everyone hears who hosts."""
    h, host, code, _ = migratable(backend, password="pw", max_guests=3, name="Game")
    ann, _ = accept(h, host, code, "Ann", password="pw")
    bob, _ = accept(h, host, code, "Bob", password="pw", address="127.0.0.3")
    carl = join(h, host, code, "Carl", password="pw", address="127.0.0.4")
    host.act("set_lobby_open", open=False)
    host.expect("lobby_info")

    host.act("hand_over", ref="h1", connection_id=bob.id)

    promoted = bob.expect("promoted")
    assert promoted.pop("host_token")
    assert promoted.pop("ice_servers") == []
    assert promoted == {
        "lobby_id": code,
        "name": "Game",
        "connection_id": bob.id,
        "peer_id": 3,
        "open": False,
        "max_guests": 3,
        "guests": [{"connection_id": ann.id, "name": "Ann", "peer_id": 2}],
        "away": [],
        "pending": [{"connection_id": carl.id, "name": "Carl"}],
        "reason": "handed_over",
    }
    notice = {
        "lobby_id": code,
        "host_connection_id": bob.id,
        "peer_id": 3,
        "name": "Bob",
        "reason": "handed_over",
    }
    assert bob.expect("host_migrated") == notice
    assert ann.expect("host_migrated") == notice
    assert host.next() == {"event": "host_migrated", "content": notice, "ref": "h1"}
    # The old host is idle; the code, the password, the lock and max_guests stay.
    host.act("get_lobby_info")
    host.expect_error("not_in_lobby", "get_lobby_info")
    bob.act("get_lobby_info")
    info = bob.expect("lobby_info")
    assert (info["lobby_id"], info["open"], info["max_guests"], info["has_password"]) == (
        code,
        False,
        3,
        True,
    )
    assert info["host"] == {"connection_id": bob.id, "name": "Bob", "peer_id": 3}
    assert info["migratable"] is True
    h.assert_all_silent()


def test_the_new_host_hosts_accepts_relays_and_kicks(backend: StateBackend) -> None:
    """After a hand-over the new host accepts the waiting joiner and signals guests; they reach it."""
    h, host, code, _ = migratable(backend)
    ann, _ = accept(h, host, code, "Ann")
    bob, _ = accept(h, host, code, "Bob", address="127.0.0.3")
    carl = join(h, host, code, "Carl", address="127.0.0.4")
    host.act("hand_over")  # no name: the earliest-accepted guest, Ann
    host.expect("host_migrated")
    ann.expect("promoted")
    ann.expect("host_migrated")
    bob.expect("host_migrated")

    ann.act("accept_request", connection_id=carl.id)
    accepted = carl.expect("request_accepted")
    assert (accepted["host_connection_id"], accepted["peer_id"]) == (ann.id, 4)
    assert ann.expect("guest_accepted") == {"connection_id": carl.id, "peer_id": 4, "name": "Carl"}
    bob.act("send_message", connection_id=ann.id, data="hi")
    assert bob.harness.inbox[ann.id].popleft()["content"] == {"connection_id": bob.id, "data": "hi"}
    ann.act("send_ice_candidate", connection_id=bob.id, candidate=None)
    assert bob.expect("received_ice_candidate")["connection_id"] == ann.id
    bob.act("send_message", connection_id=host.id, data="old host?")
    bob.expect_error("unknown_connection", "send_message")
    ann.act("kick_guest", connection_id=bob.id)
    bob.expect("kicked")
    ann.expect("guest_left")
    h.assert_all_silent()


def test_tokens_follow_the_promotion(backend: StateBackend) -> None:
    """The promoted guest resumes as host with its new token; its guest token and the old host's die."""
    h, host, code, host_token = migratable(backend)
    ann, ann_guest_token = accept(h, host, code, "Ann")
    host.act("hand_over")
    host.expect("host_migrated")
    host_token_new = ann.expect("promoted")["host_token"]
    ann.expect("host_migrated")
    for stale in (host_token, ann_guest_token):
        probe = h.client("127.0.0.7")
        probe.act("resume", token=stale)
        probe.expect_error("invalid_token", "resume")
    ann.disconnect()
    back = h.client("127.0.0.8")
    back.act("resume", token=host_token_new)
    assert back.expect("resumed")["role"] == "host"
    h.assert_all_silent()


@pytest.mark.parametrize(
    ("target", "code"),
    [("pending", "not_accepted"), ("unknown", "unknown_connection"), ("none", "no_successor")],
)
def test_a_refused_hand_over_changes_nothing(backend: StateBackend, target: str, code: str) -> None:
    """Handing over to a joiner, a stranger or nobody is a typed error and the host keeps the lobby."""
    h, host, lobby_code, _ = migratable(backend)
    carl = join(h, host, lobby_code, "Carl")
    content: dict[str, dict[str, str]] = {
        "pending": {"connection_id": carl.id},
        "unknown": {"connection_id": "x"},
    }
    host.act("hand_over", **content.get(target, {}))
    host.expect_error(code, "hand_over")
    host.act("get_lobby_info")
    assert host.expect("lobby_info")["host"]["connection_id"] == host.id
    h.assert_all_silent()


def test_only_a_migratable_lobby_s_host_can_hand_over(backend: StateBackend) -> None:
    """A lobby started without migratable refuses hand_over; a guest can never hand over."""
    h = Harness(timeouts=TIMEOUTS, backend=backend)
    host, code, _ = open_lobby(h)
    ann, _ = accept(h, host, code, "Ann")
    host.act("hand_over", connection_id=ann.id)
    host.expect_error("not_migratable", "hand_over")
    ann.act("hand_over")
    ann.expect_error("not_host", "hand_over")
    h.assert_all_silent()


def test_host_grace_end_promotes_the_earliest_accepted_connected_guest(
    backend: StateBackend,
) -> None:
    """When the host stays away, the lowest-peer-id connected guest hosts, with snapshot and joiners."""
    h, host, code, _ = migratable(backend)
    ann, _ = accept(h, host, code, "Ann")
    bob, _ = accept(h, host, code, "Bob", address="127.0.0.3")
    cid, _ = accept(h, host, code, "Cid", address="127.0.0.4")
    host.act("save_snapshot", seq=7, data={"turn": 12})
    saved = host.expect("snapshot_saved")
    assert (saved["seq"], saved["size"]) == (7, len(b'{"turn": 12}'))  # as sent
    dan = join(h, host, code, "Dan", address="127.0.0.5")
    ann.disconnect()  # the first-accepted guest is away: Bob is next
    host.expect("guest_left")
    host.disconnect()
    for guest in (bob, cid):
        assert guest.expect("host_disconnected")["grace_s"] == 30
    dan.assert_silent()  # a migratable lobby's joiners wait for the next host

    h.advance(30)
    promoted = bob.expect("promoted")
    assert promoted["reason"] == "host_left"
    assert promoted["guests"] == [{"connection_id": cid.id, "name": "Cid", "peer_id": 4}]
    assert promoted["away"] == [{"connection_id": ann.id, "name": "Ann", "peer_id": 2}]
    assert promoted["pending"] == [{"connection_id": dan.id, "name": "Dan"}]
    assert promoted["snapshot"]["seq"] == 7
    assert promoted["snapshot"]["data"] == {"turn": 12}
    assert bob.expect("host_migrated")["host_connection_id"] == bob.id
    assert cid.expect("host_migrated") == {
        "lobby_id": code,
        "host_connection_id": bob.id,
        "peer_id": 3,
        "name": "Bob",
        "reason": "host_left",
    }
    bob.act("accept_request", connection_id=dan.id)
    dan.expect("request_accepted")
    bob.expect("guest_accepted")
    h.assert_all_silent()


def test_an_away_guest_resumes_to_the_new_host(backend: StateBackend) -> None:
    """A guest away during a promotion gets a fresh grace and resumes into the new host's lobby."""
    h, host, code, _ = migratable(backend)
    ann, ann_token = accept(h, host, code, "Ann")
    bob, _ = accept(h, host, code, "Bob", address="127.0.0.3")
    ann.disconnect()
    host.expect("guest_left")
    host.disconnect()
    bob.expect("host_disconnected")
    h.advance(30)  # Ann's own grace ran out while the host was away: she is kept
    bob.expect("promoted")
    bob.expect("host_migrated")
    h.advance(29)
    back = h.client("127.0.0.9")
    back.act("resume", token=ann_token)
    resumed = back.expect("resumed")
    assert (resumed["role"], resumed["host_connection_id"]) == ("guest", bob.id)
    assert bob.expect("guest_resumed") == {"old_connection_id": ann.id, "connection_id": back.id}
    back.act("send_message", connection_id=bob.id, data="back")
    assert bob.expect("received_message")["connection_id"] == back.id
    h.assert_all_silent()


def test_host_resuming_within_grace_keeps_its_lobby_and_joiners(backend: StateBackend) -> None:
    """A migratable lobby's host that comes back in time is still the host; nobody is promoted."""
    h, host, code, token = migratable(backend)
    ann, _ = accept(h, host, code, "Ann")
    dan = join(h, host, code, "Dan", address="127.0.0.5")
    host.disconnect()
    ann.expect("host_disconnected")
    h.advance(10)
    back = h.client()
    back.act("resume", token=token)
    assert back.expect("resumed")["role"] == "host"
    ann.expect("host_resumed")
    back.act("accept_request", connection_id=dan.id)
    dan.expect("request_accepted")
    back.expect("guest_accepted")
    h.advance(60)
    h.assert_all_silent()


def test_snapshots_are_the_host_s_alone(backend: StateBackend) -> None:
    """Guests and joiners can neither save nor load a snapshot, and none ever reaches a guest."""
    h, host, code, _ = migratable(backend)
    ann, _ = accept(h, host, code, "Ann")
    dan = join(h, host, code, "Dan", address="127.0.0.5")
    host.act("save_snapshot", seq=1, data="secret state")
    host.expect("snapshot_saved")
    ann.act("save_snapshot", seq=2, data="forged")
    ann.expect_error("not_host", "save_snapshot")
    ann.act("load_snapshot")
    ann.expect_error("not_host", "load_snapshot")
    dan.act("load_snapshot")
    dan.expect_error("not_accepted", "load_snapshot")
    stranger = h.client("127.0.0.6")
    stranger.act("load_snapshot")
    stranger.expect_error("not_in_lobby", "load_snapshot")
    host.act("load_snapshot", ref="l")
    message = host.next()
    assert message["ref"] == "l"
    assert message["content"]["snapshot"]["data"] == "secret state"
    h.assert_all_silent()


def test_snapshot_limits_and_order(backend: StateBackend) -> None:
    """Too large and stale snapshots are typed errors; the last N are kept, the older forgotten."""
    limits = Limits(password_hash_iterations=1, max_snapshot_bytes=100, snapshots_kept=2)
    h, host, _, _ = migratable(backend, limits)
    host.act("save_snapshot", seq=1, data="x" * 99)
    host.expect_error("snapshot_too_large", "save_snapshot")  # 101 bytes with its quotes
    host.act("load_snapshot")
    assert host.expect("snapshot") == {}
    for seq in (1, 2, 5):
        host.act("save_snapshot", seq=seq, data=[seq])
        host.expect("snapshot_saved")
    for stale in (5, 4):
        host.act("save_snapshot", seq=stale, data=[stale])
        host.expect_error("stale_snapshot", "save_snapshot")
    host.act("load_snapshot", seq=1)
    assert "kept: 2, 5" in host.expect_error("snapshot_not_found", "load_snapshot")["message"]
    host.act("load_snapshot", seq=2)
    assert host.expect("snapshot")["snapshot"]["data"] == [2]
    host.act("load_snapshot")
    assert host.expect("snapshot")["snapshot"]["seq"] == 5
    assert len(backend.record_keys(SNAPSHOT_RECORD)) == 2
    host.act("save_snapshot", seq=0, data=1)
    host.expect_error("invalid_message", "save_snapshot")
    h.assert_all_silent()


def test_everyone_dropped_the_first_to_resume_hosts_with_the_snapshot(
    backend: StateBackend,
) -> None:
    """A migratable lobby whose members all dropped waits; the first guest back hosts, snapshot in hand."""
    h, host, code, host_token = migratable(backend)
    ann, ann_token = accept(h, host, code, "Ann")
    bob, bob_token = accept(h, host, code, "Bob", address="127.0.0.3")
    host.act("save_snapshot", seq=3, data={"map": "de_dust"})
    host.expect("snapshot_saved")
    for client in (ann, bob, host):
        client.disconnect()
    host.expect("guest_left")
    host.expect("guest_left")
    h.advance(300)  # well past every grace: kept for the retention time
    stranger = h.client("127.0.0.6")
    stranger.act("join_lobby", lobby_id=code)
    stranger.expect_error("host_unavailable", "join_lobby")

    bob_back = h.client("127.0.0.3")
    bob_back.act("resume", token=bob_token, ref="r")
    assert bob_back.next() == {
        "event": "resumed",
        "content": {
            "role": "guest",
            "lobby_id": code,
            "connection_id": bob_back.id,
            "peer_id": 3,
            "host_connection_id": host.id,
        },
        "ref": "r",
    }
    promoted = bob_back.expect("promoted")
    assert promoted["reason"] == "resumed"
    assert promoted["snapshot"]["data"] == {"map": "de_dust"}
    assert promoted["away"] == [{"connection_id": ann.id, "name": "Ann", "peer_id": 2}]
    assert bob_back.expect("host_migrated")["host_connection_id"] == bob_back.id
    old_host = h.client()
    old_host.act("resume", token=host_token)
    old_host.expect_error("invalid_token", "resume")
    ann_back = h.client("127.0.0.2")
    ann_back.act("resume", token=ann_token)
    assert ann_back.expect("resumed")["role"] == "guest"
    assert bob_back.expect("guest_resumed")["connection_id"] == ann_back.id
    ann_back.act("send_message", connection_id=bob_back.id, data="hi")
    bob_back.expect("received_message")
    h.assert_all_silent()


def test_everyone_dropped_the_old_host_back_first_hosts_again(backend: StateBackend) -> None:
    """When the old host is the first back, it hosts again and gets the snapshot with a new token."""
    h, host, code, host_token = migratable(backend)
    ann, _ = accept(h, host, code, "Ann")
    host.act("save_snapshot", seq=1, data=1)
    host.expect("snapshot_saved")
    ann.disconnect()
    host.expect("guest_left")
    host.disconnect()
    h.advance(599)
    back = h.client()
    back.act("resume", token=host_token)
    assert back.expect("resumed")["role"] == "host"
    promoted = back.expect("promoted")
    assert (promoted["peer_id"], promoted["snapshot"]["seq"]) == (1, 1)
    back.expect("host_migrated")
    probe = h.client("127.0.0.7")
    probe.act("resume", token=host_token)
    probe.expect_error("invalid_token", "resume")
    h.assert_all_silent()


def test_retention_ends_and_the_lobby_and_its_snapshots_are_gone(backend: StateBackend) -> None:
    """Past the retention time an orphaned lobby closes: tokens die, its code and snapshots are freed."""
    h, host, code, host_token = migratable(backend)
    ann, ann_token = accept(h, host, code, "Ann")
    dan = join(h, host, code, "Dan", address="127.0.0.5")
    host.act("save_snapshot", seq=1, data=1)
    host.expect("snapshot_saved")
    ann.disconnect()
    host.expect("guest_left")
    host.disconnect()
    h.advance(30)
    assert dan.expect("request_rejected")["reason"] == "host_left"
    h.advance(599)
    assert backend.lobby_count() == 1
    h.advance(1)
    assert backend.lobby_count() == 0
    assert backend.record_keys(SNAPSHOT_RECORD) == []
    for token in (host_token, ann_token):
        probe = h.client("127.0.0.7")
        probe.act("resume", token=token)
        probe.expect_error("invalid_token", "resume")
    h.assert_all_silent()


def test_a_lobby_that_is_not_migratable_still_closes_when_its_host_is_gone(
    backend: StateBackend,
) -> None:
    """Without migratable, the host's grace running out closes the lobby as before; no promotion."""
    h = Harness(timeouts=TIMEOUTS, backend=backend)
    host, code, _ = open_lobby(h)
    ann, _ = accept(h, host, code, "Ann")
    host.disconnect()
    ann.expect("host_disconnected")
    h.advance(30)
    assert ann.expect("lobby_closed")["reason"] == "host_left"
    h.assert_all_silent()


def test_a_snapshot_frame_may_be_larger_than_other_frames(backend: StateBackend) -> None:
    """save_snapshot frames up to the hard frame limit are read; other frames that big are refused."""
    limits = Limits(
        password_hash_iterations=1,
        max_frame_bytes=1024,
        hard_frame_bytes=8192,
        max_snapshot_bytes=6000,
    )
    h, host, _, _ = migratable(backend, limits)
    data = "y" * 5000
    host.raw(json.dumps({"action": "save_snapshot", "content": {"seq": 1, "data": data}}))
    assert host.expect("snapshot_saved")["size"] == 5002
    host.act("send_message", connection_id="x", data=data)
    assert host.expect_error("message_too_large")["action"] is None
    host.raw(json.dumps({"action": "save_snapshot", "content": {"seq": 2, "data": "z" * 9000}}))
    host.expect_error("message_too_large")
    h.assert_all_silent()


def test_a_moving_lobby_keeps_seats_for_its_guests(backend: StateBackend) -> None:
    """start_lobby{peer_id, seats} keeps places claimed with their tokens: same peer ids, new host told."""
    h = Harness(timeouts=TIMEOUTS, backend=backend)
    host = h.client()
    seats = [{"name": "Cid", "peer_id": 3}, {"name": "Dee", "peer_id": 5}]
    host.act("start_lobby", lobby_id="MVED21", migratable=True, peer_id=2, seats=seats)
    started = host.expect("lobby_started")
    assert started["peer_id"] == 2
    assert [seat["peer_id"] for seat in started["seats"]] == [3, 5]
    cid = h.client("127.0.0.3")
    cid.act("resume", token=started["seats"][0]["token"])
    resumed = cid.expect("resumed")
    assert resumed == {
        "role": "guest",
        "lobby_id": "MVED21",
        "connection_id": cid.id,
        "peer_id": 3,
        "host_connection_id": host.id,
    }
    assert host.expect("guest_resumed") == {"old_connection_id": "seat.3", "connection_id": cid.id}
    eve, _ = accept(h, host, "MVED21", "Eve", address="127.0.0.5")
    host.act("get_lobby_info")
    guests = host.expect("lobby_info")["guests"]
    assert [(g["name"], g["peer_id"]) for g in guests] == [("Cid", 3), ("Eve", 6)]
    h.advance(30)  # Dee never came: her place goes
    assert host.expect("guest_left") == {"connection_id": "seat.5", "reason": "lost"}
    eve.assert_silent()
    h.assert_all_silent()


@pytest.mark.parametrize(
    "content",
    [
        {"peer_id": 2, "seats": [{"name": "A", "peer_id": 2}]},
        {"seats": [{"name": "A", "peer_id": 3}, {"name": "B", "peer_id": 3}]},
        {"max_guests": 1, "seats": [{"name": "A", "peer_id": 3}, {"name": "B", "peer_id": 4}]},
        {"seats": [{"name": "A", "peer_id": 1}]},
    ],
)
def test_seats_that_cannot_be_kept_refuse_the_lobby(
    backend: StateBackend, content: dict[str, Any]
) -> None:
    """Seats sharing a peer id (or the host's), or more than max_guests, are invalid; no code is taken."""
    h = Harness(timeouts=TIMEOUTS, backend=backend)
    host = h.client()
    host.act("start_lobby", lobby_id="MVED22", **content)
    host.expect_error("invalid_message", "start_lobby")
    host.act("start_lobby", lobby_id="MVED22")
    host.expect("lobby_started")
    h.assert_all_silent()


def test_move_lobby_sends_each_guest_the_new_address_and_closes_here(backend: StateBackend) -> None:
    """move_lobby gives each named guest the URL and its token; the rest hear lobby_closed{moved}."""
    h, host, code, host_token = migratable(backend)
    ann, _ = accept(h, host, code, "Ann")
    bob, _ = accept(h, host, code, "Bob", address="127.0.0.3")
    dan = join(h, host, code, "Dan", address="127.0.0.5")
    ann.act("move_lobby", url="ws://127.0.0.1:9/", seats={})
    ann.expect_error("not_host", "move_lobby")
    host.act("move_lobby", url="http://x/", seats={})
    host.expect_error("invalid_message", "move_lobby")
    host.act("move_lobby", url="ws://127.0.0.1:9/", seats={dan.id: "t"})
    host.expect_error("not_accepted", "move_lobby")

    host.act("move_lobby", ref="m", url="ws://127.0.0.1:9/", seats={ann.id: "seat-token"})

    assert ann.expect("lobby_moved") == {
        "lobby_id": code,
        "url": "ws://127.0.0.1:9/",
        "token": "seat-token",
    }
    assert bob.expect("lobby_closed") == {"lobby_id": code, "reason": "moved"}
    assert dan.expect("lobby_closed")["reason"] == "moved"
    assert host.next() == {
        "event": "lobby_closed",
        "content": {"lobby_id": code, "reason": "moved"},
        "ref": "m",
    }
    assert backend.lobby_count() == 0
    probe = h.client("127.0.0.7")
    probe.act("resume", token=host_token)
    probe.expect_error("invalid_token", "resume")
    h.assert_all_silent()


def test_a_handed_over_lobby_counts_against_its_new_host_s_address(backend: StateBackend) -> None:
    """After a hand-over the old host's address may open a lobby again; the new host's may not."""
    limits = Limits(password_hash_iterations=1, lobbies_per_address=1)
    h, host, code, _ = migratable(backend, limits)
    ann, _ = accept(h, host, code, "Ann")  # from 127.0.0.2
    host.act("hand_over")
    host.expect("host_migrated")
    ann.expect("promoted")
    ann.expect("host_migrated")
    host.act("start_lobby")
    host.expect("lobby_started")
    neighbour = h.client("127.0.0.2")
    neighbour.act("start_lobby")
    neighbour.expect_error("rate_limited", "start_lobby")
    h.assert_all_silent()
