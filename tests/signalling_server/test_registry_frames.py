"""Property tests of single frames: any text or binary frame gets exactly one answer."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from signalling_server.clock import ManualClock
from signalling_server.config import Limits
from signalling_server.ids import ConnectionId
from signalling_server.registry import LobbyRegistry

from .harness import frames
from .properties_model import ACTIONS, ERROR_CODES, EVENTS, JSON_VALUES


def _lone_connection() -> tuple[LobbyRegistry, ConnectionId]:
    registry = LobbyRegistry(limits=Limits(password_hash_iterations=1), clock=ManualClock())
    return registry, registry.connect("127.0.0.11")


ENVELOPE_KEYS = st.sampled_from(["action", "content", "ref", "x"])
ENVELOPES = st.dictionaries(ENVELOPE_KEYS, JSON_VALUES | st.sampled_from(ACTIONS), max_size=4)


def _strict_json(text: str) -> Any:
    """Python's own reading of a frame, refusing NaN and Infinity as JSON does."""

    def refuse(constant: str) -> Any:
        raise ValueError(constant)

    return json.loads(text, parse_constant=refuse)


@example('{"action":5')  # a wrong type, then the frame ends: found by the state machine
@example('{"action":5,]')
@example("[1,")
@example('{"action":"ping","ref":5,')
@given(
    frame=st.text(max_size=200)
    | JSON_VALUES.map(json.dumps)
    | ENVELOPES.map(json.dumps)
    | ENVELOPES.map(json.dumps).flatmap(lambda t: st.integers(0, len(t)).map(lambda n: t[:n]))
)
@settings(max_examples=300, deadline=None)
def test_any_text_frame_gets_exactly_one_answer(frame: str) -> None:
    """Any text frame from a lone connection gets one well-formed answer, to it alone, never a crash."""
    registry, cid = _lone_connection()
    effects = registry.handle(cid, frame)
    assert len(effects) == 1, effects
    ((target, reply),) = frames(effects)
    message = json.loads(reply)
    assert target == cid and message["event"] in EVENTS and isinstance(message["content"], dict)
    if message["event"] == "error":
        assert message["content"]["code"] in ERROR_CODES and message["content"]["message"]
    try:
        is_object = isinstance(_strict_json(frame), dict)
    except ValueError:
        is_object = False
    if not is_object:
        assert message["content"]["code"] == "invalid_json", message


DEEP_FRAMES = {
    "ping": '{{"action":"ping","content":{{"t":{}}}}}',
    "bare": "{}",
    "bad_envelope": '{{"action":5,"x":{}}}',
    "unknown_action": '{{"action":"nope","content":{}}}',
}


@example(depth=1000, shape="bare")
@example(depth=1000, shape="ping")
@given(depth=st.integers(1, 5000), shape=st.sampled_from(sorted(DEEP_FRAMES)))
@settings(max_examples=50, deadline=None)
def test_deeply_nested_json_gets_one_answer(depth: int, shape: str) -> None:
    """JSON nested thousands deep (a few KB, under the frame limit) is answered once, never raised."""
    registry, cid = _lone_connection()
    frame = DEEP_FRAMES[shape].format("[" * depth + "]" * depth)
    effects = registry.handle(cid, frame)
    assert len(effects) == 1, effects
    ((target, reply),) = frames(effects)
    assert target == cid
    if not reply.startswith(b'{"event":"pong"'):  # a pong echoes the nesting back as sent
        content = json.loads(reply)["content"]
        assert content["code"] in ERROR_CODES and content["message"], content


@given(frame=st.binary(max_size=200))
@settings(max_examples=100, deadline=None)
def test_any_binary_frame_is_refused(frame: bytes) -> None:
    """A binary frame (valid JSON or not, valid UTF-8 or not) gets one invalid_message error."""
    registry, cid = _lone_connection()
    effects = registry.handle(cid, frame)
    assert len(effects) == 1
    ((target, reply),) = frames(effects)
    message = json.loads(reply)
    assert target == cid and message["event"] == "error"
    assert message["content"]["code"] == "invalid_message" and message["content"]["message"]
