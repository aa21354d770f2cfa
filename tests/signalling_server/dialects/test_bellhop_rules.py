"""Bellhop's rules in the registry, driven frame by frame with a manual clock.

Every client here speaks through its own codec, as over the wire: what a test
reads is the JSON a Bellhop client would get (nothing at all for what the
codec drops). Message order follows the Godot demo client
(bellhop-multiplayer-demo): the host starts a lobby, a guest joins, the host
accepts at once with the peer id it chose, the guest offers, the host answers,
both trickle candidates.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict, deque
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signalling_server.backend import MemoryBackend
from signalling_server.clock import ManualClock
from signalling_server.codecs import Codec
from signalling_server.config import Limits, Timeouts
from signalling_server.dialects.bellhop import BellhopCodec, BellhopRules
from signalling_server.effects import CloseConnection, Effect
from signalling_server.ids import ConnectionId, LobbyId
from signalling_server.lobby import Role
from signalling_server.protocol import NativeCodec
from signalling_server.registry import LobbyRegistry

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
OFFER_SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
ANSWER_SDP = "v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
LINE = "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host"
_ABSENT: Any = object()


class Lab:
    """A registry with Bellhop added, its clock, and what each client's codec wrote."""

    def __init__(
        self,
        *,
        limits: Limits | None = None,
        timeouts: Timeouts | None = None,
        scale: float = 1.0,
        copies: bool = False,
    ) -> None:
        self.clock = ManualClock()
        self.registry = LobbyRegistry(
            limits=limits or Limits(password_hash_iterations=1),
            timeouts=timeouts,
            clock=self.clock,
            dialect_time_scale=scale,
            # copies=True: records come back as copies, as from a networked store.
            backend=MemoryBackend(copies=copies),
        )
        self.registry.add_dialect(BellhopRules(self.registry))
        self.codecs: dict[ConnectionId, Codec] = {}
        self.inbox: dict[ConnectionId, deque[dict[str, Any]]] = defaultdict(deque)
        self.closes: list[CloseConnection] = []

    def client(self, address: str = "127.0.0.1") -> Player:
        codec = BellhopCodec(max_frame_bytes=self.registry.limits.max_frame_bytes)
        cid = self.registry.connect(address, codec)
        self.codecs[cid] = codec
        self.apply(self.registry.opened(cid))
        return Player(self, cid)

    def native(self, address: str = "127.0.0.1") -> Player:
        cid = self.registry.connect(address)
        self.codecs[cid] = NativeCodec()
        return Player(self, cid)

    def apply(self, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, CloseConnection):
                self.closes.append(effect)
                continue
            frame = self.codecs[effect.target].encode(effect.event, effect.ref)
            if frame is not None:
                self.inbox[effect.target].append(json.loads(frame))

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.apply(self.registry.expire())

    def assert_all_silent(self) -> None:
        left = {cid: list(box) for cid, box in self.inbox.items() if box}
        assert not left, f"undelivered frames: {left}"


class Player:
    """One connection, speaking Bellhop (or, from :meth:`Lab.native`, protocol v1)."""

    def __init__(self, lab: Lab, cid: ConnectionId) -> None:
        self.lab = lab
        self.id = cid

    def send(self, action: str, content: Any = _ABSENT, **fields: Any) -> None:
        frame: dict[str, Any] = {"action": action}
        if content is not _ABSENT:
            frame["content"] = content
        elif fields:
            frame["content"] = fields
        self.raw(json.dumps(frame))

    def raw(self, frame: str | bytes) -> None:
        self.lab.apply(self.lab.registry.handle(self.id, frame))

    def disconnect(self) -> None:
        self.lab.apply(self.lab.registry.disconnect(self.id))

    def take(self) -> dict[str, Any]:
        box = self.lab.inbox[self.id]
        assert box, "nothing was sent to this client"
        return box.popleft()

    def expect(self, event: str) -> dict[str, Any]:
        message = self.take()
        assert set(message) == {"event", "content"}, message
        assert message["event"] == event, message
        content: dict[str, Any] = message["content"]
        return content

    def expect_internal_error(self) -> None:
        message = self.take()
        assert set(message) == {"message", "connectionId", "requestId"}, message
        assert message["message"] == "Internal server error"
        assert message["connectionId"] == self.id
        assert isinstance(message["requestId"], str) and len(message["requestId"]) == 16
        self.assert_silent()

    def assert_silent(self) -> None:
        left = list(self.lab.inbox[self.id])
        assert not left, f"unexpected frames: {left}"


def host_lobby(lab: Lab, lobby_id: str = "my-lobby", address: str = "127.0.0.1") -> Player:
    host = lab.client(address)
    host.send("start_lobby", lobby_id=lobby_id)
    assert host.expect("lobby_started") == {"lobby_id": lobby_id}
    return host


def pending(
    lab: Lab, host: Player, lobby_id: str = "my-lobby", address: str = "127.0.0.2"
) -> Player:
    joiner = lab.client(address)
    joiner.send("join_lobby", lobby_id=lobby_id)
    assert host.expect("received_join_request") == {"connection_id": joiner.id}
    joiner.assert_silent()
    return joiner


def guest(
    lab: Lab, host: Player, lobby_id: str = "my-lobby", peer_id: int = 2, address: str = "127.0.0.2"
) -> Player:
    joiner = pending(lab, host, lobby_id, address)
    host.send("accept_join_request", player_connection_id=joiner.id, player_peer_id=peer_id)
    assert joiner.expect("join_request_accepted") == {
        "host_connection_id": host.id,
        "peer_id": peer_id,
    }
    host.assert_silent()
    return joiner


# The Godot demo's flow ----------------------------------------------------------------------


@pytest.mark.parametrize("copies", [False, True], ids=["shared", "copies"])
def test_godot_flow_start_join_accept_offer_answer_and_candidates_both_ways(copies: bool) -> None:
    """The demo's whole exchange: exact frames, the host's peer id verbatim, senders stamped (any backend)."""
    lab = Lab(copies=copies)
    host = host_lobby(lab)
    player = guest(lab, host, peer_id=7)
    player.send(
        "send_session_description", connection_id=host.id, session_type="offer", sdp=OFFER_SDP
    )
    assert host.expect("received_session_description") == {
        "connection_id": player.id,
        "session_type": "offer",
        "sdp": OFFER_SDP,
    }
    player.send("send_ice_candidate", connection_id=host.id, media="0", index=0, name=LINE)
    assert host.expect("received_ice_candidate") == {
        "connection_id": player.id,
        "media": "0",
        "index": 0,
        "name": LINE,
    }
    host.send(
        "send_session_description", connection_id=player.id, session_type="answer", sdp=ANSWER_SDP
    )
    assert player.expect("received_session_description") == {
        "connection_id": host.id,
        "session_type": "answer",
        "sdp": ANSWER_SDP,
    }
    host.send("send_ice_candidate", connection_id=player.id, media="0", index=1, name=LINE)
    assert player.expect("received_ice_candidate") == {
        "connection_id": host.id,
        "media": "0",
        "index": 1,
        "name": LINE,
    }
    assert lab.registry.stats.relayed == 4
    assert lab.registry.stats.joins_accepted == 1
    lab.assert_all_silent()


def test_a_host_accepts_several_guests_and_each_gets_the_peer_id_it_was_given() -> None:
    """Peer ids are the host's choice (2, 3, ... in the demo) and reach each guest as sent."""
    lab = Lab()
    host = host_lobby(lab)
    first = guest(lab, host, peer_id=2, address="127.0.0.2")
    second = guest(lab, host, peer_id=3, address="127.0.0.3")
    host.send("send_ice_candidate", connection_id=second.id, media="0", index=0, name=LINE)
    assert second.expect("received_ice_candidate")["connection_id"] == host.id
    first.assert_silent()


@pytest.mark.parametrize(
    "frame",
    [
        '{"action": "start_lobby", "content": {"lobby_id": ""}}',
        '{"action": "start_lobby", "content": {}}',
        '{"action": "start_lobby", "content": {"lobby_id": null}}',
        '{"action": "start_lobby", "content": null}',
        '{"action": "start_lobby"}',
    ],
)
def test_start_lobby_without_an_id_hosts_a_fresh_lower_case_uuid4(frame: str) -> None:
    """An empty, null or absent lobby_id (or no content) gets a new lower-case uuid4 id."""
    lab = Lab()
    host = lab.client()
    host.raw(frame)
    lobby_id = host.expect("lobby_started")["lobby_id"]
    assert UUID4.match(lobby_id), lobby_id
    pending(lab, host, lobby_id)


def test_unknown_content_keys_are_ignored() -> None:
    """Extra keys in content (and beside it) change nothing."""
    lab = Lab()
    host = lab.client()
    host.send("start_lobby", lobby_id="extra", max_players=4)
    assert host.expect("lobby_started") == {"lobby_id": "extra"}
    joiner = lab.client("127.0.0.2")
    joiner.raw('{"action":"join_lobby","content":{"lobby_id":"extra","name":"x"},"ref":"1"}')
    assert host.expect("received_join_request") == {"connection_id": joiner.id}


# start_lobby ----------------------------------------------------------------------------------


def test_an_id_that_is_taken_fails_with_the_original_sentence_and_changes_nothing() -> None:
    """Another host's id, or the caller's own, is lobby_creation_failed; the caller stays host."""
    lab = Lab()
    host = host_lobby(lab, "taken")
    other = lab.client("127.0.0.3")
    other.send("start_lobby", lobby_id="taken")
    assert other.expect("lobby_creation_failed") == {"reason": "Lobby taken already exists."}
    host.send("start_lobby", lobby_id="taken")
    assert host.expect("lobby_creation_failed") == {"reason": "Lobby taken already exists."}
    pending(lab, host, "taken")
    assert lab.registry.stats.errors["lobby_exists"] == 2


def test_lobby_ids_are_free_form_matched_exactly_and_capped_at_64_characters() -> None:
    """Case, spaces and any characters are kept; 64 characters are fine, 65 are refused."""
    lab = Lab()
    upper = host_lobby(lab, "My Lobby ✓", "127.0.0.1")
    lower = host_lobby(lab, "my lobby ✓", "127.0.0.2")
    longest = host_lobby(lab, "x" * 64, "127.0.0.3")
    pending(lab, upper, "My Lobby ✓", "127.0.0.4")
    lower.assert_silent()
    too_long = lab.client("127.0.0.5")
    too_long.send("start_lobby", lobby_id="y" * 65)
    assert too_long.expect("lobby_creation_failed") == {
        "reason": "Lobby ids are at most 64 characters."
    }
    joiner = lab.client("127.0.0.6")
    joiner.send("join_lobby", lobby_id="MY LOBBY ✓")
    assert joiner.expect("join_request_rejected") == {"reason": "Lobby 'MY LOBBY ✓' not found."}
    longest.assert_silent()


def test_starting_again_closes_the_earlier_lobby_and_tells_nobody() -> None:
    """A host that starts a new lobby leaves its old one closed: guests are not told, joins fail."""
    lab = Lab()
    host = host_lobby(lab, "first")
    player = guest(lab, host, "first")
    waiting = pending(lab, host, "first", "127.0.0.3")
    host.send("start_lobby", lobby_id="second")
    assert host.expect("lobby_started") == {"lobby_id": "second"}
    lab.assert_all_silent()
    late = lab.client("127.0.0.4")
    late.send("join_lobby", lobby_id="first")
    assert late.expect("join_request_rejected") == {"reason": "Lobby 'first' not found."}
    player.send("send_ice_candidate", connection_id=host.id, media="0", index=0, name=LINE)
    player.expect_internal_error()
    host.send("accept_join_request", player_connection_id=waiting.id, player_peer_id=3)
    host.expect_internal_error()
    assert lab.registry.backend.lobby_count() == 1


def test_a_guest_or_joiner_that_starts_a_lobby_leaves_its_place_silently() -> None:
    """start_lobby from a guest or a pending joiner takes it out of the other lobby unannounced."""
    lab = Lab()
    host = host_lobby(lab, "big")
    player = guest(lab, host, "big")
    waiting = pending(lab, host, "big", "127.0.0.3")
    player.send("start_lobby", lobby_id="small")
    assert player.expect("lobby_started") == {"lobby_id": "small"}
    waiting.send("start_lobby", lobby_id="tiny")
    assert waiting.expect("lobby_started") == {"lobby_id": "tiny"}
    lab.assert_all_silent()
    host.send("send_ice_candidate", connection_id=player.id, media="0", index=0, name=LINE)
    host.expect_internal_error()
    host.send("accept_join_request", player_connection_id=waiting.id, player_peer_id=3)
    host.expect_internal_error()


# join, accept, reject ------------------------------------------------------------------------------


def test_joining_an_unknown_lobby_is_rejected_with_the_original_sentence() -> None:
    """join_lobby for an id nobody hosts: join_request_rejected "Lobby '<id>' not found."."""
    lab = Lab()
    joiner = lab.client()
    joiner.send("join_lobby", lobby_id="nowhere")
    assert joiner.expect("join_request_rejected") == {"reason": "Lobby 'nowhere' not found."}
    joiner.send("join_lobby", lobby_id="")
    assert joiner.expect("join_request_rejected") == {"reason": "Lobby '' not found."}
    assert lab.registry.stats.errors["lobby_not_found"] == 2


def test_a_lobby_record_without_its_host_rejects_joins_with_no_host_found() -> None:
    """A record whose host connection is gone answers "No host found for lobby '<id>'."."""
    lab = Lab()
    host = host_lobby(lab, "orphan")
    record = lab.registry.backend.get_lobby(LobbyId("bellhop:orphan"))
    assert record is not None
    record.host.connection_id = None
    lab.registry.backend.save_lobby(record)
    joiner = lab.client("127.0.0.2")
    joiner.send("join_lobby", lobby_id="orphan")
    assert joiner.expect("join_request_rejected") == {"reason": "No host found for lobby 'orphan'."}
    host.assert_silent()


def test_reject_join_request_passes_the_hosts_reason_verbatim_and_the_joiner_may_retry() -> None:
    """The joiner gets the host's words exactly (spaces, empty, unicode); it can then ask again."""
    lab = Lab()
    host = host_lobby(lab)
    for reason in ("  Because I can  ", "", "ノー 🙅"):
        joiner = pending(lab, host)
        host.send("reject_join_request", player_connection_id=joiner.id, reason=reason)
        assert joiner.expect("join_request_rejected") == {"reason": reason}
        host.assert_silent()
        joiner.disconnect()
    joiner = pending(lab, host)
    host.send("reject_join_request", player_connection_id=joiner.id, reason="no")
    joiner.expect("join_request_rejected")
    joiner.send("join_lobby", lobby_id="my-lobby")
    assert host.expect("received_join_request") == {"connection_id": joiner.id}


def test_joining_another_lobby_leaves_the_earlier_one_silently() -> None:
    """A guest that joins elsewhere is gone from its first lobby; neither host hears of it."""
    lab = Lab()
    first = host_lobby(lab, "first", "127.0.0.1")
    second = host_lobby(lab, "second", "127.0.0.3")
    player = guest(lab, first, "first")
    player.send("join_lobby", lobby_id="second")
    assert second.expect("received_join_request") == {"connection_id": player.id}
    first.assert_silent()
    first.send("send_ice_candidate", connection_id=player.id, media="0", index=0, name=LINE)
    first.expect_internal_error()


def test_a_failed_join_leaves_the_caller_where_it_was() -> None:
    """A guest whose join elsewhere is rejected stays its host's guest."""
    lab = Lab()
    host = host_lobby(lab)
    player = guest(lab, host)
    player.send("join_lobby", lobby_id="nowhere")
    player.expect("join_request_rejected")
    host.send("send_ice_candidate", connection_id=player.id, media="0", index=0, name=LINE)
    assert player.expect("received_ice_candidate")["connection_id"] == host.id


def test_joining_the_lobby_one_is_already_in_is_an_internal_server_error() -> None:
    """The host, a guest or a joiner asking for its own lobby again gets the error frame."""
    lab = Lab()
    host = host_lobby(lab)
    player = guest(lab, host)
    waiting = pending(lab, host, address="127.0.0.3")
    for who in (host, player, waiting):
        who.send("join_lobby", lobby_id="my-lobby")
        who.expect_internal_error()
    lab.assert_all_silent()


# close_lobby and disconnects ---------------------------------------------------------------------


def test_close_lobby_by_the_host_closes_it_and_tells_nobody() -> None:
    """The demo's close_lobby (no content key): the lobby is gone, its guest and joiner hear nothing."""
    lab = Lab()
    host = host_lobby(lab)
    player = guest(lab, host)
    waiting = pending(lab, host, address="127.0.0.3")
    host.raw('{"action": "close_lobby"}')
    lab.assert_all_silent()
    assert lab.registry.backend.lobby_count() == 0
    waiting.send("join_lobby", lobby_id="my-lobby")
    assert waiting.expect("join_request_rejected") == {"reason": "Lobby 'my-lobby' not found."}
    player.send("send_session_description", connection_id=host.id, session_type="offer", sdp="x")
    player.expect_internal_error()
    host.send("start_lobby", lobby_id="my-lobby")
    assert host.expect("lobby_started") == {"lobby_id": "my-lobby"}


def test_close_lobby_by_a_guest_a_joiner_or_an_idle_connection_is_silent() -> None:
    """A guest leaves, a joiner cancels, an idle connection changes nothing; nobody is told."""
    lab = Lab()
    host = host_lobby(lab)
    player = guest(lab, host)
    waiting = pending(lab, host, address="127.0.0.3")
    idle = lab.client("127.0.0.4")
    for who in (player, waiting, idle):
        who.raw('{"action": "close_lobby"}')
    lab.assert_all_silent()
    host.send("send_ice_candidate", connection_id=player.id, media="0", index=0, name=LINE)
    host.expect_internal_error()
    host.send("accept_join_request", player_connection_id=waiting.id, player_peer_id=3)
    host.expect_internal_error()
    pending(lab, host, address="127.0.0.5")


def test_a_host_that_disconnects_closes_its_lobby_at_once_and_nobody_is_told() -> None:
    """No grace for a Bellhop host: the lobby is gone, guests and joiners hear nothing."""
    lab = Lab()
    host = host_lobby(lab)
    player = guest(lab, host)
    waiting = pending(lab, host, address="127.0.0.3")
    host.disconnect()
    lab.assert_all_silent()
    assert lab.registry.backend.lobby_count() == 0
    waiting.send("join_lobby", lobby_id="my-lobby")
    assert waiting.expect("join_request_rejected") == {"reason": "Lobby 'my-lobby' not found."}
    player.send("send_ice_candidate", connection_id=host.id, media="0", index=0, name=LINE)
    player.expect_internal_error()
    lab.advance(3600)
    lab.assert_all_silent()


def test_a_guest_or_joiner_that_disconnects_is_removed_silently() -> None:
    """The host hears nothing; it can no longer signal or accept them; the seat is free again."""
    lab = Lab(limits=Limits(password_hash_iterations=1, default_max_guests=1))
    host = host_lobby(lab)
    waiting = pending(lab, host, address="127.0.0.3")
    player = guest(lab, host)
    player.disconnect()
    waiting.disconnect()
    lab.assert_all_silent()
    host.send("send_ice_candidate", connection_id=player.id, media="0", index=0, name=LINE)
    host.expect_internal_error()
    host.send("accept_join_request", player_connection_id=waiting.id, player_peer_id=3)
    host.expect_internal_error()
    guest(lab, host, address="127.0.0.4")


def test_a_server_shutdown_removes_bellhop_lobbies_and_sends_no_frame() -> None:
    """Shutdown closes every Bellhop socket with 1001 and frees the lobbies; no client gets a frame first."""
    lab = Lab()
    host = host_lobby(lab)
    player = guest(lab, host)
    waiting = pending(lab, host, address="127.0.0.3")
    lab.apply(lab.registry.shutdown())
    lab.assert_all_silent()
    assert lab.registry.backend.lobby_count() == 0
    assert {(c.connection_id, c.code) for c in lab.closes} == {
        (host.id, 1001),
        (player.id, 1001),
        (waiting.id, 1001),
    }


# timers --------------------------------------------------------------------------------------------


def test_an_unanswered_join_request_times_out_after_the_scaled_pending_timeout() -> None:
    """pending_request_timeout x dialect_time_scale later the joiner is rejected; the host hears nothing."""
    lab = Lab(timeouts=Timeouts(pending_request_timeout=100.0), scale=0.5)
    host = host_lobby(lab)
    joiner = pending(lab, host)
    lab.advance(49.9)
    lab.assert_all_silent()
    lab.advance(0.2)
    assert joiner.expect("join_request_rejected") == {
        "reason": "The host of lobby 'my-lobby' did not answer in time."
    }
    lab.assert_all_silent()
    host.send("accept_join_request", player_connection_id=joiner.id, player_peer_id=2)
    host.expect_internal_error()


def test_a_stale_join_timer_does_nothing_to_a_newer_request() -> None:
    """A joiner that cancelled and asked again keeps its new request past the first deadline."""
    lab = Lab(timeouts=Timeouts(pending_request_timeout=100.0))
    host = host_lobby(lab)
    joiner = pending(lab, host)
    lab.advance(60)
    joiner.raw('{"action": "close_lobby"}')
    joiner.send("join_lobby", lobby_id="my-lobby")
    host.expect("received_join_request")
    lab.advance(50)
    lab.assert_all_silent()
    host.send("accept_join_request", player_connection_id=joiner.id, player_peer_id=2)
    joiner.expect("join_request_accepted")
    lab.advance(100)
    lab.assert_all_silent()


def test_an_accepted_guest_is_not_hit_by_its_join_timer() -> None:
    """The pending timer of a request that was accepted fires into nothing."""
    lab = Lab(timeouts=Timeouts(pending_request_timeout=10.0))
    host = host_lobby(lab)
    player = guest(lab, host)
    lab.advance(20)
    lab.assert_all_silent()
    host.send("send_ice_candidate", connection_id=player.id, media="0", index=0, name=LINE)
    player.expect("received_ice_candidate")


# authorisation and isolation -----------------------------------------------------------------------


def test_relays_flow_only_between_a_host_and_its_accepted_guests() -> None:
    """Guest to guest, joiner to host, host to joiner, idle to anyone, across lobbies: all refused."""
    lab = Lab()
    host = host_lobby(lab, "one", "127.0.0.1")
    other_host = host_lobby(lab, "two", "127.0.0.9")
    first = guest(lab, host, "one", 2, "127.0.0.2")
    second = guest(lab, host, "one", 3, "127.0.0.3")
    stranger = guest(lab, other_host, "two", 2, "127.0.0.4")
    waiting = pending(lab, host, "one", "127.0.0.5")
    idle = lab.client("127.0.0.6")
    refused = [
        (first, second.id),
        (first, stranger.id),
        (first, other_host.id),
        (waiting, host.id),
        (host, waiting.id),
        (host, stranger.id),
        (host, host.id),
        (idle, host.id),
        (other_host, first.id),
        (first, "not-a-connection"),
    ]
    for sender, target in refused:
        sender.send("send_ice_candidate", connection_id=target, media="0", index=0, name=LINE)
        sender.expect_internal_error()
        sender.send("send_session_description", connection_id=target, session_type="offer", sdp="x")
        sender.expect_internal_error()
    lab.assert_all_silent()
    assert lab.registry.stats.relayed == 0


def test_only_the_host_decides_on_its_own_join_requests() -> None:
    """Accept and reject from a guest, a joiner, another host, or for someone not waiting: the error frame."""
    lab = Lab()
    host = host_lobby(lab, "one", "127.0.0.1")
    other_host = host_lobby(lab, "two", "127.0.0.9")
    player = guest(lab, host, "one")
    waiting = pending(lab, host, "one", "127.0.0.3")
    elsewhere = pending(lab, other_host, "two", "127.0.0.4")
    attempts = [
        (player, waiting.id),
        (waiting, waiting.id),
        (other_host, waiting.id),
        (host, elsewhere.id),
        (host, player.id),
        (host, host.id),
    ]
    for sender, target in attempts:
        sender.send("accept_join_request", player_connection_id=target, player_peer_id=5)
        sender.expect_internal_error()
        sender.send("reject_join_request", player_connection_id=target, reason="no")
        sender.expect_internal_error()
    lab.assert_all_silent()


def test_bellhop_and_native_connections_never_reach_each_other() -> None:
    """Native joins cannot find Bellhop lobbies (nor the reverse), and relays across dialects are refused."""
    lab = Lab()
    host = host_lobby(lab, "ABCDEF")
    native = lab.native("127.0.0.7")
    for code in ("ABCDEF", "bellhop:ABCDEF"):
        native.send("join_lobby", lobby_id=code)
        assert native.expect("error")["code"] == "lobby_not_found"
    native.send("start_lobby", lobby_id="GHJKMN")
    native_code = native.expect("lobby_started")["lobby_id"]
    joiner = lab.client("127.0.0.8")
    joiner.send("join_lobby", lobby_id=native_code)
    assert joiner.expect("join_request_rejected") == {"reason": f"Lobby '{native_code}' not found."}
    native.send("send_message", connection_id=host.id, data="hi")
    assert native.expect("error")["code"] == "unknown_connection"
    host.send("send_ice_candidate", connection_id=native.id, media="0", index=0, name=LINE)
    host.expect_internal_error()
    native.send("accept_request", connection_id=joiner.id)
    assert native.expect("error")["code"] == "unknown_connection"
    lab.assert_all_silent()


# bad input -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "",
        "[]",
        '"start_lobby"',
        "{}",
        '{"content": {}}',
        '{"action": 5}',
        '{"action": "fly"}',
        '{"action": "ping"}',
        '{"action": "join_lobby"}',
        '{"action": "join_lobby", "content": {}}',
        '{"action": "join_lobby", "content": {"lobby_id": 5}}',
        '{"action": "join_lobby", "content": "my-lobby"}',
        '{"action": "start_lobby", "content": []}',
        '{"action": "start_lobby", "content": {"lobby_id": 1}}',
        '{"action": "accept_join_request", "content": {"player_connection_id": "x"}}',
        '{"action": "accept_join_request", "content": {"player_connection_id": "x", "player_peer_id": "2"}}',
        '{"action": "accept_join_request", "content": {"player_connection_id": "x", "player_peer_id": 2.5}}',
        '{"action": "accept_join_request", "content": {"player_connection_id": "x", "player_peer_id": 18446744073709551616}}',
        '{"action": "reject_join_request", "content": {"player_connection_id": "x"}}',
        '{"action": "send_ice_candidate", "content": {"connection_id": "x", "media": "0", "name": "c"}}',
        '{"action": "send_ice_candidate", "content": {"connection_id": "x", "media": "0", "index": "0", "name": "c"}}',
        '{"action": "send_session_description", "content": {"connection_id": "x", "sdp": "v=0"}}',
        '{"action": "start_lobby", "content": ' + "[" * 10_000 + "]" * 10_000 + "}",
        b'{"action": "start_lobby"}',
    ],
)
def test_anything_invalid_gets_the_internal_server_error_frame_and_the_connection_goes_on(
    frame: str | bytes,
) -> None:
    """Not JSON, binary, wrong shape, unknown action, missing or mistyped keys: the error frame, no crash."""
    lab = Lab()
    host = lab.client()
    host.raw(frame)
    host.expect_internal_error()
    host.send("start_lobby", lobby_id="after")
    assert host.expect("lobby_started") == {"lobby_id": "after"}


def test_error_frames_name_the_caller_and_carry_a_fresh_request_id() -> None:
    """connectionId is the caller's own id; requestId differs from one error to the next."""
    lab = Lab()
    client = lab.client()
    ids = set()
    for _ in range(5):
        client.raw("nope")
        message = client.take()
        assert message["connectionId"] == client.id
        ids.add(message["requestId"])
    assert len(ids) == 5
    assert lab.registry.stats.errors["invalid_json"] == 5


# limits ----------------------------------------------------------------------------------------------


def test_open_lobbies_per_address_are_capped_with_a_sentence_and_moving_a_lobby_is_free() -> None:
    """Over lobbies_per_address, start_lobby fails readably; a host restarting its own lobby is not counted twice."""
    lab = Lab(limits=Limits(password_hash_iterations=1, lobbies_per_address=2))
    first = host_lobby(lab, "a")
    host_lobby(lab, "b")
    third = lab.client()
    third.send("start_lobby", lobby_id="c")
    assert third.expect("lobby_creation_failed") == {
        "reason": "Too many open lobbies from this address (at most 2)."
    }
    first.send("start_lobby", lobby_id="a2")
    assert first.expect("lobby_started") == {"lobby_id": "a2"}
    first.raw('{"action": "close_lobby"}')
    third.send("start_lobby", lobby_id="c")
    assert third.expect("lobby_started") == {"lobby_id": "c"}
    host_lobby(lab, "elsewhere", "127.0.0.2")
    assert lab.registry.stats.errors["rate_limited"] == 1


def test_join_attempts_per_address_are_capped_with_a_sentence() -> None:
    """Past joins_per_address_per_minute, join_lobby is rejected readably until the minute is over."""
    lab = Lab(limits=Limits(password_hash_iterations=1, joins_per_address_per_minute=2))
    host = host_lobby(lab)
    guesser = lab.client("127.0.0.2")
    for lobby_id in ("a", "b"):
        guesser.send("join_lobby", lobby_id=lobby_id)
        guesser.expect("join_request_rejected")
    guesser.send("join_lobby", lobby_id="my-lobby")
    assert guesser.expect("join_request_rejected") == {
        "reason": "Too many join attempts from this address (at most 2 a minute); try again soon."
    }
    host.assert_silent()
    lab.advance(61)
    guesser.send("join_lobby", lobby_id="my-lobby")
    host.expect("received_join_request")


def test_a_full_lobby_rejects_joins_and_late_accepts_with_a_sentence() -> None:
    """At max guests, joins are rejected; an accept past the cap rejects that joiner instead."""
    lab = Lab(limits=Limits(password_hash_iterations=1, default_max_guests=1))
    host = host_lobby(lab)
    waiting = pending(lab, host, address="127.0.0.3")
    guest(lab, host, address="127.0.0.2")
    late = lab.client("127.0.0.4")
    late.send("join_lobby", lobby_id="my-lobby")
    assert late.expect("join_request_rejected") == {
        "reason": "Lobby 'my-lobby' is full (1 players)."
    }
    host.send("accept_join_request", player_connection_id=waiting.id, player_peer_id=3)
    assert waiting.expect("join_request_rejected") == {
        "reason": "Lobby 'my-lobby' is full (1 players)."
    }
    lab.assert_all_silent()


def test_waiting_join_requests_per_lobby_are_capped_with_a_sentence() -> None:
    """Past pending_per_lobby waiting requests, a new joiner is rejected readably."""
    lab = Lab(limits=Limits(password_hash_iterations=1, pending_per_lobby=2))
    host = host_lobby(lab)
    pending(lab, host, address="127.0.0.2")
    pending(lab, host, address="127.0.0.3")
    late = lab.client("127.0.0.4")
    late.send("join_lobby", lobby_id="my-lobby")
    assert late.expect("join_request_rejected") == {
        "reason": "Too many join requests are waiting for lobby 'my-lobby'; try again later."
    }
    host.assert_silent()


def test_the_per_connection_action_budget_applies_and_overflow_is_the_error_frame() -> None:
    """Past the action burst, frames get the internal-server-error frame instead of being applied."""
    lab = Lab(limits=Limits(password_hash_iterations=1, action_burst=3, actions_per_second=1))
    host = host_lobby(lab)
    player = guest(lab, host)
    host.send("send_ice_candidate", connection_id=player.id, media="0", index=0, name=LINE)
    player.expect("received_ice_candidate")
    host.send("send_ice_candidate", connection_id=player.id, media="0", index=0, name=LINE)
    host.expect_internal_error()
    player.assert_silent()
    assert lab.registry.stats.errors["rate_limited"] == 1


def test_frames_over_the_frame_limit_get_the_error_frame() -> None:
    """A frame above max_frame_bytes is refused (the transport closes above the hard limit)."""
    lab = Lab(limits=Limits(password_hash_iterations=1, max_frame_bytes=1024))
    host = host_lobby(lab)
    player = guest(lab, host)
    big = "a" * 1100
    player.send("send_session_description", connection_id=host.id, session_type="offer", sdp=big)
    player.expect_internal_error()
    host.assert_silent()
    assert lab.registry.stats.errors["message_too_large"] == 1


# any sequence ------------------------------------------------------------------------------------

EVENT_KEYS = {
    "lobby_started": {"lobby_id"},
    "lobby_creation_failed": {"reason"},
    "received_join_request": {"connection_id"},
    "join_request_accepted": {"host_connection_id", "peer_id"},
    "join_request_rejected": {"reason"},
    "received_session_description": {"connection_id", "session_type", "sdp"},
    "received_ice_candidate": {"connection_id", "media", "index", "name"},
}
LOBBY_IDS = st.sampled_from(["a", "b", "a", "b", "", "A"])
# Joins, accepts and relays weigh more, so that sessions often get as far as relaying.
ACTION_CHOICES = [
    "start_lobby",
    "close_lobby",
    "join_lobby",
    "join_lobby",
    "join_lobby",
    "accept_join_request",
    "accept_join_request",
    "accept_join_request",
    "reject_join_request",
    "send_session_description",
    "send_ice_candidate",
    "send_ice_candidate",
    "send_ice_candidate",
    "disconnect",
    "tick",
    "garbage",
]
STEP = st.tuples(st.integers(0, 3), st.sampled_from(ACTION_CHOICES), LOBBY_IDS, st.integers(0, 4))


@settings(max_examples=300, deadline=None)
@given(st.lists(STEP, min_size=15, max_size=40), st.booleans())
def test_any_sequence_of_actions_keeps_frames_well_formed_and_relays_between_peers(
    steps: list[tuple[int, str, str, int]], copies: bool
) -> None:
    """Random sessions (either backend) never crash; every frame is Bellhop's; relays reach only the sender's peer."""
    lab = Lab(
        limits=Limits(password_hash_iterations=1, default_max_guests=2, pending_per_lobby=2),
        timeouts=Timeouts(pending_request_timeout=5.0),
        copies=copies,
    )
    players = [lab.client(f"127.0.0.{n}") for n in range(1, 5)]
    players[0].send("start_lobby", lobby_id="a")
    players[1].send("start_lobby", lobby_id="b")
    live = set(range(4))
    # Like real clients, players mostly answer ids they were told about.
    heard: dict[ConnectionId, list[str]] = {p.id: [] for p in players}
    for who, action, lobby_id, target_index in steps:
        if who not in live:
            continue
        player = players[who]
        known = heard[player.id]
        if target_index < len(known):
            target = known[-1 - target_index]
        else:
            target = players[target_index].id if target_index < 4 else "nobody"
        before = {p.id: lab.registry.connection(p.id) for p in players}
        if action == "disconnect":
            player.disconnect()
            live.discard(who)
        elif action == "tick":
            lab.advance(3.0)
        elif action == "garbage":
            player.raw('{"action": "join_lobby", "content": {"lobby_id": 1}}')
        else:
            fields = {
                "lobby_id": lobby_id,
                "player_connection_id": target,
                "player_peer_id": target_index + 2,
                "reason": "no",
                "connection_id": target,
                "session_type": "offer",
                "sdp": "v=0",
                "media": "0",
                "index": 0,
                "name": LINE,
            }
            player.send(action, fields)
        for recipient in players:
            box = lab.inbox[recipient.id]
            while box:
                message = box.popleft()
                if "event" not in message:
                    assert message["connectionId"] == recipient.id
                    continue
                content = message["content"]
                assert set(content) == EVENT_KEYS[message["event"]], message
                heard[recipient.id].extend(
                    content[key]
                    for key in ("connection_id", "host_connection_id")
                    if key in content
                )
                if message["event"].startswith("received_") and message["event"] != (
                    "received_join_request"
                ):
                    sender = before[content["connection_id"]]
                    receiver = before[recipient.id]
                    assert sender is not None and receiver is not None
                    assert sender.lobby_id == receiver.lobby_id
                    assert {sender.role, receiver.role} == {Role.HOST, Role.GUEST}
