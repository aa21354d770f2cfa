"""Protocol v1, shared by the server and every client: actions, events, codes, the native codec.

Importing this package loads msgspec and nothing else: no websockets, no
prometheus, no aiortc, no Qt. Names are exported lazily (as python-websockets
does), so ``from signalling_server.protocol import JoinLobby`` loads only the
module that defines it; ``tests/signalling_server/test_protocol_imports.py``
pins the public names and the import cost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from .actions import (
        ACTION_TYPES,
        AcceptRequest,
        Action,
        CancelJoin,
        CloseLobby,
        GetIceServers,
        GetLobbyInfo,
        IceCandidate,
        JoinLobby,
        KickGuest,
        LeaveLobby,
        Ping,
        RejectJoinRequest,
        RelayAction,
        Resume,
        SendIceCandidate,
        SendMessage,
        SessionDescription,
        SetLobbyOpen,
        SetSessionDescription,
        StartLobby,
    )
    from .codes import CloseReason, ErrorCode, KickReason, LeaveReason, MemberRole, RejectReason
    from .errors import FrameError, ProtocolError, SignallingError
    from .events import (
        EVENT_TYPES,
        Error,
        Event,
        GuestAccepted,
        GuestLeft,
        GuestResumed,
        HostDisconnected,
        HostNotice,
        HostResumed,
        IceServerInfo,
        IceServers,
        JoinCancelled,
        JoinRequested,
        Kicked,
        LeftLobby,
        LobbyClosed,
        LobbyInfo,
        LobbyMoved,
        LobbyStarted,
        MemberInfo,
        Pong,
        ReceivedIceCandidate,
        ReceivedMessage,
        ReceivedSessionDescription,
        RequestAccepted,
        RequestCancelled,
        RequestRejected,
        RequestRemoved,
        RequestToJoin,
        Resumed,
        SeatInfo,
        ServerEvent,
        decode_candidate,
        decode_description,
        event_name,
    )
    from .native import (
        Decoded,
        NativeCodec,
        Received,
        UnknownEvent,
        decode_event,
        encode_action,
        encode_event,
    )

_EXPORTS: dict[str, str] = {}
for _module, _names in {
    "actions": (
        "ACTION_TYPES AcceptRequest Action CancelJoin CloseLobby GetIceServers GetLobbyInfo "
        "IceCandidate JoinLobby KickGuest LeaveLobby Ping RejectJoinRequest RelayAction Resume "
        "SendIceCandidate SendMessage SessionDescription SetLobbyOpen SetSessionDescription "
        "StartLobby HandOver LoadSnapshot SaveSnapshot MoveLobby SeatRequest"
    ),
    "codes": "CloseReason ErrorCode KickReason LeaveReason MemberRole RejectReason MigrationReason",
    "errors": "FrameError ProtocolError SignallingError",
    "events": (
        "EVENT_TYPES Error Event GuestAccepted GuestLeft GuestResumed HostDisconnected "
        "HostNotice HostResumed IceServerInfo IceServers JoinCancelled JoinRequested Kicked "
        "LeftLobby LobbyClosed LobbyInfo LobbyStarted MemberInfo Pong ReceivedIceCandidate "
        "ReceivedMessage ReceivedSessionDescription RequestAccepted RequestCancelled "
        "RequestRejected RequestRemoved RequestToJoin Resumed ServerEvent decode_candidate "
        "decode_description event_name HostMigrated PendingInfo Promoted Snapshot SnapshotInfo "
        "SnapshotSaved LobbyMoved SeatInfo"
    ),
    "native": ("Decoded NativeCodec Received UnknownEvent decode_event encode_action encode_event"),
}.items():
    for _name in _names.split():
        _EXPORTS[_name] = _module

__all__ = [
    "ACTION_TYPES",
    "EVENT_TYPES",
    "AcceptRequest",
    "Action",
    "CancelJoin",
    "CloseLobby",
    "CloseReason",
    "Decoded",
    "Error",
    "ErrorCode",
    "Event",
    "FrameError",
    "GetIceServers",
    "GetLobbyInfo",
    "GuestAccepted",
    "GuestLeft",
    "GuestResumed",
    "HandOver",
    "HostDisconnected",
    "HostMigrated",
    "HostNotice",
    "HostResumed",
    "IceCandidate",
    "IceServerInfo",
    "IceServers",
    "JoinCancelled",
    "JoinLobby",
    "JoinRequested",
    "KickGuest",
    "KickReason",
    "Kicked",
    "LeaveLobby",
    "LeaveReason",
    "LeftLobby",
    "LoadSnapshot",
    "LobbyClosed",
    "LobbyInfo",
    "LobbyMoved",
    "LobbyStarted",
    "MemberInfo",
    "MemberRole",
    "MigrationReason",
    "MoveLobby",
    "NativeCodec",
    "PendingInfo",
    "Ping",
    "Pong",
    "Promoted",
    "ProtocolError",
    "Received",
    "ReceivedIceCandidate",
    "ReceivedMessage",
    "ReceivedSessionDescription",
    "RejectJoinRequest",
    "RejectReason",
    "RelayAction",
    "RequestAccepted",
    "RequestCancelled",
    "RequestRejected",
    "RequestRemoved",
    "RequestToJoin",
    "Resume",
    "Resumed",
    "SaveSnapshot",
    "SeatInfo",
    "SeatRequest",
    "SendIceCandidate",
    "SendMessage",
    "ServerEvent",
    "SessionDescription",
    "SetLobbyOpen",
    "SetSessionDescription",
    "SignallingError",
    "Snapshot",
    "SnapshotInfo",
    "SnapshotSaved",
    "StartLobby",
    "UnknownEvent",
    "decode_candidate",
    "decode_description",
    "decode_event",
    "encode_action",
    "encode_event",
    "event_name",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
