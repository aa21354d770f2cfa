"""What nodes send each other: batches that carry every effect intact, refused loudly when unreadable."""

from __future__ import annotations

import msgspec
import pytest

from signalling_server.cluster.hops import HOP_BUCKETS, HopHistogram
from signalling_server.cluster.wire import (
    WIRE_VERSION,
    EventTypes,
    WireError,
    decode_batch,
    encode_batch,
    envelope,
)
from signalling_server.dialects.bellhop import messages as bellhop
from signalling_server.effects import CloseConnection, Origin, Send
from signalling_server.ids import ConnectionId
from signalling_server.protocol import events as ev
from signalling_server.protocol.codes import LeaveReason
from signalling_server.protocol.native import encode_event

HOST = ConnectionId("a1.host")
BOB = ConnectionId("b2.bob")
PAYLOAD = msgspec.Raw(b'{"sdp": "v=0\\r\\n", "type" :"offer", "n": [1, 2.5, null]}')


def _round_trip(effects: list[Send | CloseConnection]) -> list[Send | CloseConnection]:
    types = EventTypes()
    sent_at, decoded = decode_batch(encode_batch([envelope(e, types) for e in effects], 7.5), types)
    assert sent_at == 7.5
    return decoded


def test_relays_events_and_closes_arrive_as_sent_in_order() -> None:
    """Every kind of effect comes out of a batch as it went in, in the same order."""
    origin = Origin(HOST, "set_session_description", "r1")
    effects: list[Send | CloseConnection] = [
        Send(BOB, ev.ReceivedSessionDescription(HOST, PAYLOAD), None, origin),
        Send(BOB, ev.ReceivedIceCandidate(HOST, msgspec.Raw(b'{"candidate":""}'))),
        Send(BOB, ev.ReceivedMessage(HOST, msgspec.Raw(b'"\\u00e9t\\u00e9"'))),
        Send(BOB, ev.GuestLeft(HOST, LeaveReason.KICKED), "ref-2"),
        CloseConnection(BOB, 4000, "resumed elsewhere"),
        Send(BOB, ev.ReceivedMessage(HOST, msgspec.Raw(b"1")), "with-a-ref"),
    ]
    decoded = _round_trip(effects)
    assert decoded == effects


def test_a_relayed_payload_reaches_the_client_byte_for_byte() -> None:
    """The frame written on the receiving node is the one the sending node would have written."""
    send = Send(BOB, ev.ReceivedSessionDescription(HOST, PAYLOAD))
    (decoded,) = _round_trip([send])
    assert isinstance(decoded, Send)
    assert encode_event(decoded.event) == encode_event(send.event)


def test_a_dialects_event_keeps_its_own_class() -> None:
    """Bellhop's events sharing protocol v1's wire tags (a relay's too) arrive as Bellhop's."""
    effects: list[Send | CloseConnection] = [
        Send(
            BOB,
            bellhop.ReceivedSessionDescription(HOST, "offer", "v=0"),
            None,
            Origin(HOST, "x", None),
        ),
        Send(BOB, bellhop.LobbyStarted("ABCDEF"), "r"),
    ]
    decoded = _round_trip(effects)
    assert decoded == effects
    assert [type(e.event) for e in decoded if isinstance(e, Send)] == [
        bellhop.ReceivedSessionDescription,
        bellhop.LobbyStarted,
    ]


def test_a_batch_of_another_version_is_refused_by_name() -> None:
    """A node of another release sends batches this one cannot read: a WireError names the version."""
    other = msgspec.msgpack.encode([WIRE_VERSION + 1, 0.0, []])
    with pytest.raises(WireError, match=f"version {WIRE_VERSION + 1}"):
        decode_batch(other, EventTypes())


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not msgpack at all",
        b'[{"kind":0}]',  # the JSON batches of wire version 1
        msgspec.msgpack.encode([WIRE_VERSION, 0.0, [[0, "a.b", 9, "c.d", b"1"]]]),
        msgspec.msgpack.encode([WIRE_VERSION, 0.0, [[1, "a.b", "no.such:Event", b"{}"]]]),
        msgspec.msgpack.encode([WIRE_VERSION, 0.0, [[7, "a.b"]]]),
    ],
)
def test_garbage_is_a_wire_error(data: bytes) -> None:
    """Unreadable batches, unknown relay kinds and unknown event classes raise WireError."""
    with pytest.raises(WireError):
        decode_batch(data, EventTypes())


def test_the_hop_histogram_counts_each_event_of_a_batch() -> None:
    """A batch of n events adds n to the bucket of its hop and to every larger one."""
    hops = HopHistogram()
    hops.observe(0.0004, 3)
    hops.observe(HOP_BUCKETS[-1] * 10)
    hops.observe(-0.001)  # another machine's clock a little ahead: counted as no time
    cumulative = dict(hops.cumulative())
    assert cumulative["0.0001"] == 1
    assert cumulative["0.0005"] == 4
    assert cumulative[repr(HOP_BUCKETS[-1])] == 4
    assert cumulative["+Inf"] == hops.total == 5
    assert hops.sum == pytest.approx(0.0012 + HOP_BUCKETS[-1] * 10)
