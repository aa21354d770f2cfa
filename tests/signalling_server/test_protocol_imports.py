"""The shared protocol package: what it exports, and that importing it loads no I/O library."""

from __future__ import annotations

import subprocess
import sys

import msgspec
import pytest

import signalling_server
import signalling_server.protocol as protocol
from signalling_server.protocol import (
    ACTION_TYPES,
    EVENT_TYPES,
    ErrorCode,
    JoinLobby,
    NativeCodec,
    Pong,
    ReceivedIceCandidate,
    RequestRejected,
    decode_event,
    encode_action,
    encode_event,
)
from signalling_server.protocol.codes import RejectReason

HEAVY = ("websockets", "prometheus_client", "aiortc", "aioice", "PySide6", "h11")


def _modules_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return {name.partition(".")[0] for name in out.split()}


@pytest.mark.parametrize(
    "statement",
    [
        "import signalling_server.protocol",
        "from signalling_server.protocol import NativeCodec, decode_event, JoinLobby",
        "import signalling_server.limits, signalling_server.frame_log",
        "from signalling_server import ErrorCode",
    ],
)
def test_importing_the_protocol_loads_no_io_library(statement: str) -> None:
    """Clients share the protocol without websockets, prometheus, aiortc or Qt coming along."""
    loaded = _modules_after(statement)
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_public_exports_are_pinned() -> None:
    """The package's public names resolve, and the list changes only on purpose."""
    assert len(protocol.__all__) == 84
    assert {"NativeCodec", "ServerEvent", "HostNotice", "ErrorCode", "encode_action"} <= set(
        protocol.__all__
    )
    for name in protocol.__all__:
        assert getattr(protocol, name) is not None
    for name in signalling_server.__all__:
        assert getattr(signalling_server, name) is not None
    with pytest.raises(AttributeError):
        _ = protocol.nothing_here


def test_every_action_and_event_round_trips_through_the_native_codec() -> None:
    """Each event a server encodes decodes back to the same typed event on the client side."""
    assert set(ACTION_TYPES) >= {"start_lobby", "join_lobby", "resume", "ping"}
    assert len(EVENT_TYPES) == 29
    rejected = RequestRejected("ABCDEF", RejectReason.HOST_LEFT, "typed by a host")
    assert decode_event(encode_event(rejected, "r9")) == protocol.Received(rejected, "r9")
    candidate = ReceivedIceCandidate("c1", msgspec.Raw(b'{"candidate":"x","sdpMid":"0"}'))
    received = decode_event(encode_event(candidate))
    assert isinstance(received.event, ReceivedIceCandidate)
    assert protocol.decode_candidate(received.event.candidate) == protocol.IceCandidate(
        "x", sdpMid="0"
    )
    assert decode_event(encode_event(Pong(msgspec.Raw(b"[1,2]")))).event == Pong(
        msgspec.Raw(b"[1,2]")
    )
    decoded = NativeCodec().decode(encode_action(JoinLobby("abc-def", name="Bo"), "j").decode())
    assert decoded == protocol.Decoded("join_lobby", JoinLobby("abc-def", name="Bo"), "j")


def test_a_host_typed_reason_never_becomes_a_reason_code() -> None:
    """A reason must be one of the enum's values; a frame with a free-text reason does not decode."""
    frame = b'{"event":"request_rejected","content":{"lobby_id":"A","reason":"host_left!"}}'
    with pytest.raises(protocol.UnknownEvent):
        decode_event(frame)
    assert ErrorCode("rate_limited") is ErrorCode.RATE_LIMITED
