"""The Lambda dialect's channels in process: methods, exact refusals, strict expiry and caps.

A :class:`SignallingNode` that is never started runs the rules on a manual
clock; requests go through the ``/lambda`` route handler as the transport
would hand them over, so no socket is opened.
"""

from __future__ import annotations

import json
import uuid
from http import HTTPStatus
from typing import Any

import pytest

from signalling_server.backend import MemoryBackend
from signalling_server.clock import ManualClock
from signalling_server.config import Limits, ServerConfig
from signalling_server.dialects.lambda_http import (
    ChannelLimits,
    LambdaApi,
    LambdaEndpoint,
    LambdaRules,
)
from signalling_server.http_routes import HttpReply, HttpRequest
from signalling_server.node import SignallingNode

TTL = 300.0


class LambdaLab:
    """A node on a manual clock with the Lambda rules, and a way to post to its handler."""

    def __init__(
        self,
        limits: ChannelLimits | None = None,
        *,
        scale: float = 1.0,
        backend: MemoryBackend | None = None,
        clock: ManualClock | None = None,
    ) -> None:
        self.clock = clock or ManualClock()
        config = ServerConfig(
            dialect_time_scale=scale,
            limits=Limits(password_hash_iterations=1, http_requests_per_address_per_minute=10_000),
            web_root=None,
        )
        self.node = SignallingNode(
            config, clock=self.clock, backend=backend or MemoryBackend(copies=True)
        )
        self.rules = LambdaRules(self.node.registry, limits)
        self.node.registry.add_dialect(self.rules)
        self.endpoint = LambdaEndpoint(self.node, LambdaApi(self.rules))

    def post(self, body: bytes, method: str = "POST") -> HttpReply:
        request = HttpRequest(method, "/lambda", "", (), body, "127.0.0.1")
        return self.endpoint(request)

    def call(self, method: str, **fields: Any) -> HttpReply:
        return self.post(json.dumps({"method": method, **fields}).encode())

    def ok(self, method: str, **fields: Any) -> Any:
        """The JSON of a successful call (``None`` for an empty success)."""
        reply = self.call(method, **fields)
        assert reply.status == HTTPStatus.OK, reply.body
        if not reply.body:
            assert reply.content_type == "text/plain"
            return None
        assert reply.content_type == "application/json"
        return json.loads(reply.body)

    def refused(self, method: str, **fields: Any) -> str:
        """The 400 text of a refused call."""
        reply = self.call(method, **fields)
        assert (reply.status, reply.content_type) == (HTTPStatus.BAD_REQUEST, "text/plain")
        return reply.body.decode()

    def new_channel(self) -> str:
        channel_id: str = self.ok("create_data_channel")["channel_id"]
        return channel_id

    def advance(self, seconds: float, *, fire_timers: bool = True) -> None:
        self.clock.advance(seconds)
        if fire_timers:
            self.node.registry.expire()

    @property
    def channels(self) -> int:
        return self.node.registry.dialect_room_count()


@pytest.fixture
def lab() -> LambdaLab:
    return LambdaLab()


GETTERS = ("get_offer", "get_candidates", "get_answer")
WRITERS = (
    ("create_offer", "offer"),
    ("create_candidate", "candidate"),
    ("create_answer", "answer"),
)


def test_two_peers_exchange_offer_candidates_and_answer(lab: LambdaLab) -> None:
    """The original client's flow: A creates and offers, B answers, both trickle and poll candidates."""
    channel = lab.new_channel()
    lab.ok("create_offer", channel_id=channel, offer="v=0 offer-sdp")
    lab.ok("create_candidate", channel_id=channel, candidate={"candidate": "a1", "sdpMid": "0"})
    assert lab.refused("get_answer", channel_id=channel) == "answer not found"
    assert lab.ok("get_offer", channel_id=channel) == {"offer": "v=0 offer-sdp"}
    assert lab.ok("get_candidates", channel_id=channel) == {
        "items": [{"candidate": "a1", "sdpMid": "0"}]
    }
    lab.ok("create_candidate", channel_id=channel, candidate={"candidate": "b1", "sdpMid": "0"})
    lab.ok("create_answer", channel_id=channel, answer="v=0 answer-sdp")
    assert lab.ok("get_answer", channel_id=channel) == {"answer": "v=0 answer-sdp"}
    both = [{"candidate": "a1", "sdpMid": "0"}, {"candidate": "b1", "sdpMid": "0"}]
    assert lab.ok("get_candidates", channel_id=channel) == {"items": both}
    assert lab.channels == 1


def test_create_data_channel_answers_a_fresh_uuid4_each_time(lab: LambdaLab) -> None:
    """create_data_channel answers {"channel_id": <uuid4>}, a new one each call, each an empty channel."""
    first, second = lab.new_channel(), lab.new_channel()
    assert first != second
    assert uuid.UUID(first).version == 4 and str(uuid.UUID(first)) == first
    assert lab.ok("get_candidates", channel_id=first) == {"items": []}
    assert lab.refused("get_offer", channel_id=first) == "offer not found"
    assert lab.channels == 2


@pytest.mark.parametrize(
    ("method", "fields", "text"),
    [
        ("create_offer", {"offer": "x"}, "channel_id is required"),
        ("create_offer", {"channel_id": "c"}, "offer is required"),
        ("create_offer", {}, "channel_id is required"),
        ("get_offer", {}, "channel_id is required"),
        ("create_candidate", {"candidate": "x"}, "channel_id is required"),
        ("create_candidate", {"channel_id": "c"}, "candidate is required"),
        ("create_answer", {"answer": "x"}, "channel_id is required"),
        ("create_answer", {"channel_id": "c"}, "answer is required"),
        ("get_candidates", {}, "channel_id is required"),
        ("get_answer", {}, "channel_id is required"),
        ("get_offer", {"channel_id": "nope"}, "channel_id not found"),
        ("get_candidates", {"channel_id": "nope"}, "channel_id not found"),
        ("get_answer", {"channel_id": "nope"}, "channel_id not found"),
        ("make_coffee", {}, "unknown method make_coffee"),
        ("", {}, "unknown method "),
    ],
)
def test_each_refusal_has_the_original_text(
    lab: LambdaLab, method: str, fields: dict[str, Any], text: str
) -> None:
    """Missing keys, unknown ids and unknown methods get the original's exact 400 texts and change nothing."""
    assert lab.refused(method, **fields) == text
    assert lab.channels == 0


@pytest.mark.parametrize(("method", "key"), WRITERS)
def test_writes_to_an_unknown_id_create_the_channel(lab: LambdaLab, method: str, key: str) -> None:
    """create_offer / create_candidate / create_answer on an id never created make that channel."""
    lab.ok(method, channel_id="chosen-by-client", **{key: "value"})
    assert lab.channels == 1
    assert lab.ok("get_candidates", channel_id="chosen-by-client") == {
        "items": ["value"] if key == "candidate" else []
    }


def test_first_answer_wins_and_offers_are_overwritten(lab: LambdaLab) -> None:
    """A second answer is refused with 'answer already exist'; a second offer replaces the first."""
    channel = lab.new_channel()
    lab.ok("create_answer", channel_id=channel, answer="first")
    assert lab.refused("create_answer", channel_id=channel, answer="second") == (
        "answer already exist"
    )
    assert lab.ok("get_answer", channel_id=channel) == {"answer": "first"}
    lab.ok("create_offer", channel_id=channel, offer="one")
    lab.ok("create_offer", channel_id=channel, offer="two")
    assert lab.ok("get_offer", channel_id=channel) == {"offer": "two"}


def test_candidates_are_one_shared_list_with_duplicates_kept(lab: LambdaLab) -> None:
    """Both peers' candidates land in one list, in arrival order, duplicates and any JSON kept."""
    channel = lab.new_channel()
    values: list[Any] = ["same", "same", {"candidate": "x", "sdpMLineIndex": 0}, 7, None, [1, 2]]
    for value in values:
        lab.ok("create_candidate", channel_id=channel, candidate=value)
    assert lab.ok("get_candidates", channel_id=channel) == {"items": values}


def test_values_come_back_as_the_exact_json_text_sent(lab: LambdaLab) -> None:
    """Offers, answers and candidates are stored as the client's JSON text and spliced back unchanged."""
    channel = lab.new_channel()
    offer = b'"v=0\\r\\no=- 1 2 IN IP4 127.0.0.1\\u00e9\\r\\n"'
    answer = b'{"type": "answer", "sdp": "v=0"}'
    body = b'{"method":"create_offer","channel_id":"%s","offer":%s}' % (channel.encode(), offer)
    assert lab.post(body).status == HTTPStatus.OK
    body = b'{"method":"create_answer","channel_id":"%s","answer":%s}' % (channel.encode(), answer)
    assert lab.post(body).status == HTTPStatus.OK
    body = b'{"method":"create_candidate","channel_id":"%s","candidate":null}' % channel.encode()
    assert lab.post(body).status == HTTPStatus.OK
    assert lab.call("get_offer", channel_id=channel).body == b'{"offer":' + offer + b"}"
    assert lab.call("get_answer", channel_id=channel).body == b'{"answer":' + answer + b"}"
    assert lab.call("get_candidates", channel_id=channel).body == b'{"items":[null]}'


def test_echo_answers_the_request_as_json(lab: LambdaLab) -> None:
    """echo sends the request object back as JSON, unknown keys and odd values included."""
    body = b'{"method": "echo", "x": [1, {"y": "\\u00e9"}], "n": null}'
    reply = lab.post(body)
    assert (reply.status, reply.content_type) == (HTTPStatus.OK, "application/json")
    assert json.loads(reply.body) == json.loads(body)
    assert lab.channels == 0


@pytest.mark.parametrize("channel_id", [None, 5, ["c"], {"c": 1}, "", "x" * 257])
def test_channel_ids_that_cannot_be_keys_are_refused(lab: LambdaLab, channel_id: Any) -> None:
    """A channel_id that is no string, empty or too long fails writes and is never found by reads."""
    assert lab.refused("create_offer", channel_id=channel_id, offer="o") == "fail to create offer"
    assert lab.refused("create_candidate", channel_id=channel_id, candidate="c") == (
        "fail to create candidate"
    )
    assert lab.refused("create_answer", channel_id=channel_id, answer="a") == (
        "fail to create answer"
    )
    for getter in GETTERS:
        assert lab.refused(getter, channel_id=channel_id) == "channel_id not found"
    assert lab.channels == 0


# Expiry ------------------------------------------------------------------------------


def test_a_channel_expires_strictly_ttl_after_creation_even_before_its_timer(
    lab: LambdaLab,
) -> None:
    """At 300 s every method says 'channel_id not found', though no timer has run; writes never extended it."""
    channel = lab.new_channel()
    lab.advance(TTL - 1, fire_timers=False)
    lab.ok("create_offer", channel_id=channel, offer="late")
    lab.ok("create_candidate", channel_id=channel, candidate="late")
    assert lab.ok("get_offer", channel_id=channel) == {"offer": "late"}
    lab.advance(1, fire_timers=False)
    for getter in GETTERS:
        assert lab.refused(getter, channel_id=channel) == "channel_id not found"
    assert lab.channels == 1  # the record is still there; only its timer deletes it


def test_the_timer_deletes_the_channel_at_ttl_times_the_scale() -> None:
    """With dialect_time_scale 0.5 the channel lives 150 s; its timer then deletes the record."""
    lab = LambdaLab(scale=0.5)
    channel = lab.new_channel()
    lab.advance(TTL * 0.5 - 0.1)
    assert lab.channels == 1
    assert lab.ok("get_candidates", channel_id=channel) == {"items": []}
    lab.advance(0.1)
    assert lab.channels == 0
    assert lab.refused("get_candidates", channel_id=channel) == "channel_id not found"


@pytest.mark.parametrize(("method", "key"), WRITERS)
def test_a_channel_created_by_a_write_has_the_same_ttl(
    lab: LambdaLab, method: str, key: str
) -> None:
    """A channel made by writing to an unknown id expires 300 s after that write."""
    lab.ok(method, channel_id="c", **{key: "v"})
    lab.advance(TTL - 1)
    assert lab.ok("get_candidates", channel_id="c") is not None
    lab.advance(1)
    assert lab.channels == 0
    assert lab.refused("get_candidates", channel_id="c") == "channel_id not found"


def test_a_write_after_expiry_makes_a_fresh_channel_that_a_stale_timer_keeps(
    lab: LambdaLab,
) -> None:
    """Writing to an expired id starts an empty channel with its own TTL; the old timer leaves it alone."""
    channel = lab.new_channel()
    lab.ok("create_answer", channel_id=channel, answer="old")
    lab.ok("create_candidate", channel_id=channel, candidate="old")
    lab.advance(TTL + 1, fire_timers=False)
    lab.ok("create_offer", channel_id=channel, offer="new")
    lab.advance(0)  # the first channel's timer, overdue, runs now
    assert lab.ok("get_offer", channel_id=channel) == {"offer": "new"}
    assert lab.refused("get_answer", channel_id=channel) == "answer not found"
    assert lab.ok("get_candidates", channel_id=channel) == {"items": []}
    lab.advance(TTL)
    assert lab.channels == 0


# Caps --------------------------------------------------------------------------------


def test_channel_cap_refuses_creation_until_a_channel_expires() -> None:
    """Over max_channels: create_data_channel says 'try again!', writes to new ids 'fail to create ...'."""
    lab = LambdaLab(ChannelLimits(max_channels=2))
    first = lab.new_channel()
    lab.advance(10)
    lab.new_channel()
    assert lab.refused("create_data_channel") == "try again!"
    assert lab.refused("create_offer", channel_id="new", offer="o") == "fail to create offer"
    assert lab.refused("create_candidate", channel_id="new", candidate="c") == (
        "fail to create candidate"
    )
    assert lab.refused("create_answer", channel_id="new", answer="a") == "fail to create answer"
    lab.ok("create_offer", channel_id=first, offer="existing channels still take writes")
    assert lab.channels == 2
    lab.advance(TTL - 10)
    assert lab.channels == 1
    lab.new_channel()


def test_an_expired_channel_awaiting_its_timer_can_be_remade_at_the_cap() -> None:
    """At the cap, writing to an expired id whose record is not deleted yet replaces it."""
    lab = LambdaLab(ChannelLimits(max_channels=1))
    channel = lab.new_channel()
    lab.advance(TTL, fire_timers=False)
    lab.ok("create_offer", channel_id=channel, offer="again")
    assert lab.channels == 1


def test_candidate_cap_refuses_more_and_keeps_the_list() -> None:
    """Past max_candidates a channel answers 'fail to create candidate' and keeps what it had."""
    lab = LambdaLab(ChannelLimits(max_candidates=3))
    channel = lab.new_channel()
    for index in range(3):
        lab.ok("create_candidate", channel_id=channel, candidate=index)
    assert lab.refused("create_candidate", channel_id=channel, candidate=3) == (
        "fail to create candidate"
    )
    assert lab.ok("get_candidates", channel_id=channel) == {"items": [0, 1, 2]}


def test_channel_byte_cap_refuses_writes_that_would_pass_it() -> None:
    """A write that would take a channel past max_channel_bytes fails and changes nothing."""
    lab = LambdaLab(ChannelLimits(max_channel_bytes=100))
    channel = lab.new_channel()
    lab.ok("create_offer", channel_id=channel, offer="o" * 60)
    assert lab.refused("create_answer", channel_id=channel, answer="a" * 60) == (
        "fail to create answer"
    )
    assert lab.refused("create_candidate", channel_id=channel, candidate="c" * 60) == (
        "fail to create candidate"
    )
    assert lab.refused("create_offer", channel_id=channel, offer="o" * 101) == (
        "fail to create offer"
    )
    assert lab.refused("create_offer", channel_id="fresh", offer="o" * 101) == (
        "fail to create offer"
    )
    assert lab.ok("get_offer", channel_id=channel) == {"offer": "o" * 60}
    assert lab.refused("get_answer", channel_id=channel) == "answer not found"
    assert lab.channels == 1


# Shared state --------------------------------------------------------------------------


def test_two_nodes_on_one_backend_share_channels() -> None:
    """A channel made through one node is read and answered through another sharing its backend."""
    backend, clock = MemoryBackend(copies=True), ManualClock()
    peer_a, peer_b = (
        LambdaLab(backend=backend, clock=clock),
        LambdaLab(backend=backend, clock=clock),
    )
    channel = peer_a.new_channel()
    peer_a.ok("create_offer", channel_id=channel, offer="o")
    assert peer_b.ok("get_offer", channel_id=channel) == {"offer": "o"}
    peer_b.ok("create_answer", channel_id=channel, answer="a")
    assert peer_a.refused("create_answer", channel_id=channel, answer="b") == (
        "answer already exist"
    )
    assert peer_a.ok("get_answer", channel_id=channel) == {"answer": "a"}
    assert peer_b.channels == 1
