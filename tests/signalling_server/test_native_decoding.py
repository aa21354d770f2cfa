"""Relay frames are read in one pass; whatever a frame is, the answer is the two-step decoding's.

The native codec reads a well-formed relay (``send_ice_candidate``,
``set_session_description``, ``send_message``) with one msgspec decoder and
leaves everything else to the general decoding (the envelope, then its
content). Frames built from relays and broken in the ways clients break them
(keys repeated, reordered or missing, wrong types, ``null`` content, other
actions, oversize ids and refs, deep nesting, invalid payloads) must decode to
the same action, or fail with the same typed error, either way.
"""

from __future__ import annotations

import json

from hypothesis import example, given, settings
from hypothesis import strategies as st

from signalling_server.protocol.errors import FrameError
from signalling_server.protocol.native import Decoded, NativeCodec, decode_in_two_steps

CANDIDATE = '{"candidate":"candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host","sdpMid":"0"}'
OFFER = '{"type":"offer","sdp":"v=0\\r\\n"}'

actions = st.sampled_from(
    [
        '"send_ice_candidate"',
        '"set_session_description"',
        '"send_message"',
        '"ping"',
        '"join_lobby"',
        '"nope"',
        "42",
        "null",
    ]
)
ids = st.sampled_from(['"abc"', '""', '"' + "x" * 65 + '"', '"*"', "7", "null"])
payloads = st.sampled_from(
    [
        CANDIDATE,
        OFFER,
        "null",
        "42",
        '"text"',
        '{"candidate":7}',
        '{"type":"answer","sdp":"v=0"}',
        '{"type":"nonsense","sdp":""}',
        "[" * 40 + "]" * 40,
        "[" * 1000 + "]" * 1000,
    ]
)
fields = st.sampled_from(["candidate", "description", "data", "connection_id", "extra"])
refs = st.sampled_from(['"r1"', '"' + "y" * 70 + '"', "3", "null"])


@st.composite
def objects(draw: st.DrawFn, members: list[str]) -> str:
    """A JSON object of some of ``members``, in any order, some repeated."""
    chosen = draw(st.lists(st.sampled_from(members), min_size=0, max_size=len(members) + 2))
    return "{" + ",".join(chosen) + "}"


@st.composite
def frames(draw: st.DrawFn) -> str:
    content_members = [
        f'"connection_id":{draw(ids)}',
        f'"{draw(fields)}":{draw(payloads)}',
        f'"{draw(fields)}":{draw(payloads)}',
    ]
    content = draw(st.one_of(objects(content_members), st.sampled_from(["null", "[]", '"x"'])))
    members = [
        f'"action":{draw(actions)}',
        f'"action":{draw(actions)}',
        f'"content":{content}',
        f'"ref":{draw(refs)}',
        '"other":{"a":[1,2]}',
    ]
    return draw(objects(members))


def outcome(decode: object, frame: str) -> Decoded | tuple[object, ...]:
    try:
        return decode(frame)  # type: ignore[operator, no-any-return]
    except FrameError as exc:
        return (type(exc).__name__, exc.code, exc.message, exc.action, exc.ref)


def relay(action: str, field: str, payload: str, ref: str | None = None) -> str:
    tail = "" if ref is None else f',"ref":{json.dumps(ref)}'
    return f'{{"action":"{action}","content":{{"connection_id":"abc","{field}":{payload}}}{tail}}}'


@settings(max_examples=600, deadline=None)
@given(frames())
@example(relay("send_ice_candidate", "candidate", CANDIDATE))
@example(relay("set_session_description", "description", OFFER, ref="r"))
@example(relay("send_message", "data", "[1,2]"))
@example(relay("send_ice_candidate", "candidate", '{"candidate":7}'))
@example(relay("set_session_description", "description", '{"type":"nonsense","sdp":""}'))
@example('{"action":"send_message","content":{"connection_id":"a","data":1},"action":"ping"}')
@example('{"content":{"connection_id":"a","data":1},"action":"send_message"}')
@example('{"action":"send_message","content":null}')
@example(
    '{"action":"send_ice_candidate","content":{"connection_id":"a","candidate":'
    + "[" * 3000
    + "]" * 3000
    + "}}"
)
def test_relay_frames_decode_as_the_two_step_decoding_does(frame: str) -> None:
    """Any frame near a relay: the same action, or the same typed error, whichever way it is read."""
    codec = NativeCodec()
    assert outcome(codec.decode, frame) == outcome(decode_in_two_steps, frame)


def test_well_formed_relays_keep_their_payload_bytes() -> None:
    """A relay's payload is kept as sent (spaces and key order), to be forwarded unchanged."""
    payload = '{ "sdpMid" : "0", "candidate" : "candidate:1 1 udp 1 127.0.0.1 9 typ host" }'
    decoded = NativeCodec().decode(relay("send_ice_candidate", "candidate", payload, ref="r9"))
    assert decoded.name == "send_ice_candidate"
    assert decoded.ref == "r9"
    assert bytes(decoded.action.candidate) == payload.encode()  # type: ignore[attr-defined]
