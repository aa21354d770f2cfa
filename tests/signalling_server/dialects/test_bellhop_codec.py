"""Bellhop's codec alone: the demo's frames in, the exact frames out, native events translated or dropped."""

from __future__ import annotations

import contextlib
import json

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from signalling_server.dialects.bellhop import BellhopCodec
from signalling_server.dialects.bellhop.messages import (
    AcceptJoinRequest,
    CloseLobby,
    JoinLobby,
    JoinRequestRejected,
    LobbyCreationFailed,
    LobbyStarted,
    ReceivedIceCandidate,
    ReceivedJoinRequest,
    ReceivedSessionDescription,
    RejectJoinRequest,
    SendIceCandidate,
    SendSessionDescription,
    StartLobby,
)
from signalling_server.protocol import (
    Error,
    ErrorCode,
    Event,
    FrameError,
    GuestAccepted,
    GuestLeft,
    LeaveReason,
    LobbyClosed,
    Pong,
    RequestAccepted,
    RequestCancelled,
    RequestRejected,
    RequestRemoved,
)
from signalling_server.protocol.codes import CloseReason, RejectReason

# The demo's BellhopActionMessages, as Godot's JSON.stringify writes them.
GODOT_FRAMES = [
    ('{"action":"start_lobby","content":{"lobby_id":"my-lobby"}}', StartLobby("my-lobby")),
    ('{"action":"close_lobby"}', CloseLobby()),
    ('{"action":"join_lobby","content":{"lobby_id":"my-lobby"}}', JoinLobby("my-lobby")),
    (
        '{"action":"accept_join_request","content":{"player_connection_id":"g","player_peer_id":2}}',
        AcceptJoinRequest("g", 2),
    ),
    (
        '{"action":"reject_join_request","content":{"player_connection_id":"g","reason":"Because I can"}}',
        RejectJoinRequest("g", "Because I can"),
    ),
    (
        '{"action":"send_session_description","content":{"connection_id":"h","session_type":"offer","sdp":"v=0"}}',
        SendSessionDescription("h", "offer", "v=0"),
    ),
    (
        '{"action":"send_ice_candidate","content":{"connection_id":"h","media":"0","index":0,"name":"candidate:1"}}',
        SendIceCandidate("h", "0", 0, "candidate:1"),
    ),
]


@pytest.mark.parametrize(("frame", "action"), GODOT_FRAMES)
def test_the_demo_clients_frames_decode_to_bellhop_actions(frame: str, action: object) -> None:
    """Each action the Godot client sends becomes the matching typed action."""
    decoded = BellhopCodec().decode(frame)
    assert decoded.action == action
    assert decoded.name == json.loads(frame)["action"]


@pytest.mark.parametrize(
    ("event", "frame"),
    [
        (LobbyStarted("x"), {"event": "lobby_started", "content": {"lobby_id": "x"}}),
        (
            LobbyCreationFailed("Lobby x already exists."),
            {"event": "lobby_creation_failed", "content": {"reason": "Lobby x already exists."}},
        ),
        (
            ReceivedJoinRequest("g"),
            {"event": "received_join_request", "content": {"connection_id": "g"}},
        ),
        (
            JoinRequestRejected("nope ✓"),
            {"event": "join_request_rejected", "content": {"reason": "nope ✓"}},
        ),
        (
            ReceivedSessionDescription("g", "offer", 'v=0\r\n"quoted"'),
            {
                "event": "received_session_description",
                "content": {
                    "connection_id": "g",
                    "session_type": "offer",
                    "sdp": 'v=0\r\n"quoted"',
                },
            },
        ),
        (
            ReceivedIceCandidate("g", "0", 3, "candidate:1"),
            {
                "event": "received_ice_candidate",
                "content": {"connection_id": "g", "media": "0", "index": 3, "name": "candidate:1"},
            },
        ),
    ],
)
def test_bellhop_events_are_written_as_event_and_content(event: Event, frame: object) -> None:
    """Every event is {"event", "content"} with exactly the original server's keys."""
    encoded = BellhopCodec().encode(event)
    assert encoded is not None
    assert json.loads(encoded) == frame
    assert list(json.loads(encoded)) == ["event", "content"]


def test_native_acceptance_and_rejections_become_bellhop_events() -> None:
    """request_accepted and request_rejected (timeout, host gone, host's words) read as Bellhop's."""
    codec = BellhopCodec()
    accepted = RequestAccepted("bellhop:x", "h", "g", 7, "t.s", [])
    assert json.loads(codec.encode(accepted) or b"") == {
        "event": "join_request_accepted",
        "content": {"host_connection_id": "h", "peer_id": 7},
    }
    reasons = {
        RequestRejected(
            "bellhop:x", RejectReason.TIMEOUT
        ): "The host of lobby 'x' did not answer in time.",
        RequestRejected("bellhop:x", RejectReason.HOST_LEFT): "No host found for lobby 'x'.",
        RequestRejected("bellhop:x", RejectReason.REJECTED_BY_HOST, "mine"): "mine",
        RequestRejected(
            "bellhop:x", RejectReason.REJECTED_BY_HOST
        ): "The host rejected the join request.",
    }
    for event, reason in reasons.items():
        assert json.loads(codec.encode(event) or b"") == {
            "event": "join_request_rejected",
            "content": {"reason": reason},
        }


@pytest.mark.parametrize(
    "event",
    [
        LobbyClosed("bellhop:x", CloseReason.HOST_LEFT),
        LobbyClosed("bellhop:x", CloseReason.SERVER_SHUTDOWN),
        GuestLeft("g", LeaveReason.DISCONNECTED),
        GuestAccepted("g", 2, "Player"),
        RequestRemoved("g", RejectReason.TIMEOUT),
        RequestCancelled("g"),
        Pong(msgspec.Raw(b"null")),
    ],
)
def test_what_a_bellhop_client_is_never_told_is_dropped(event: Event) -> None:
    """Closing, leaving and other native notices have no Bellhop frame: the codec says None."""
    assert BellhopCodec().encode(event) is None


def test_every_native_error_is_the_internal_server_error_frame_for_this_connection() -> None:
    """Error events become API Gateway's frame with the connection's own id and a random request id."""
    codec = BellhopCodec()
    codec.connection_id = "abc"
    frame = codec.encode(Error(ErrorCode.NOT_HOST, "only the host", "accept_join_request", "r"))
    message = json.loads(frame or b"")
    assert list(message) == ["message", "connectionId", "requestId"]
    assert message["message"] == "Internal server error"
    assert message["connectionId"] == "abc"
    assert len(message["requestId"]) == 16


@given(st.one_of(st.text(max_size=200), st.binary(max_size=50)))
def test_decoding_any_text_or_bytes_raises_only_frame_errors(frame: str | bytes) -> None:
    """No input makes decode raise anything but FrameError."""
    with contextlib.suppress(FrameError):
        BellhopCodec().decode(frame)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
ACTION_NAMES = st.sampled_from(
    [json.loads(frame)["action"] for frame, _ in GODOT_FRAMES] + ["other", ""]
)
CONTENT_KEYS = st.sampled_from(
    [
        "lobby_id",
        "connection_id",
        "media",
        "index",
        "name",
        "sdp",
        "session_type",
        "reason",
        "player_connection_id",
        "player_peer_id",
    ]
)


@given(ACTION_NAMES, st.dictionaries(CONTENT_KEYS, JSON))
def test_decoding_any_json_content_yields_an_action_or_a_frame_error(
    action: str, content: dict[str, object]
) -> None:
    """Any JSON content for any action name decodes to a typed action or raises FrameError."""
    frame = json.dumps({"action": action, "content": content})
    try:
        decoded = BellhopCodec().decode(frame)
    except FrameError:
        return
    assert decoded.name == action
