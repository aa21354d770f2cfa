"""Events: what the server tells a client (protocol v1, server to client).

One closed set: every event is a frozen struct tagged with its wire name
(``event``), so the set decodes as a union and a stored event (the away host's
backlog) round-trips through any serialiser msgspec speaks. Reasons are enums
from :mod:`.codes`; a host's own words travel in ``message``.

Relayed payloads (``description``, ``candidate``, ``data``, ``t``) are raw JSON:
the server splices what the sender sent; a client decodes them with
:func:`decode_description` and :func:`decode_candidate`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import msgspec

from .actions import IceCandidate, SessionDescription
from .codes import (
    CloseReason,
    ErrorCode,
    KickReason,
    LeaveReason,
    MemberRole,
    MigrationReason,
    RejectReason,
)


class Event(msgspec.Struct, frozen=True, tag_field="event", omit_defaults=True):
    """Base of every event; the tag (the class's ``tag``) is the wire name."""


class IceServerInfo(msgspec.Struct, frozen=True, omit_defaults=True):
    """One STUN or TURN server as an ``RTCIceServer``."""

    urls: list[str]
    username: str | None = None
    credential: str | None = None


class MemberInfo(msgspec.Struct, frozen=True):
    """A lobby member as ``lobby_info`` lists it."""

    connection_id: str
    name: str
    peer_id: int


class SeatInfo(msgspec.Struct, frozen=True):
    """A place kept for a moving guest: its peer id and the token that claims it."""

    peer_id: int
    token: str


class LobbyStarted(Event, frozen=True, tag="lobby_started"):
    lobby_id: str
    connection_id: str
    host_token: str
    peer_id: int
    ice_servers: list[IceServerInfo]
    #: The places kept for ``start_lobby{seats}``, in the same order.
    seats: list[SeatInfo] | None = None


class LobbyClosed(Event, frozen=True, tag="lobby_closed"):
    lobby_id: str
    reason: CloseReason


class LobbyInfo(Event, frozen=True, tag="lobby_info"):
    lobby_id: str
    name: str
    open: bool
    max_guests: int
    has_password: bool
    host: MemberInfo
    guests: list[MemberInfo]
    #: Who makes the WebRTC offer in this lobby: ``host`` or ``guest``.
    offerer: str = "host"
    #: Whether a guest takes over when the host leaves.
    migratable: bool = False


class RequestToJoin(Event, frozen=True, tag="request_to_join"):
    connection_id: str
    name: str


class JoinRequested(Event, frozen=True, tag="join_requested"):
    lobby_id: str
    name: str


class RequestCancelled(Event, frozen=True, tag="request_cancelled"):
    connection_id: str


class JoinCancelled(Event, frozen=True, tag="join_cancelled"):
    lobby_id: str


class RequestAccepted(Event, frozen=True, tag="request_accepted"):
    lobby_id: str
    host_connection_id: str
    connection_id: str
    peer_id: int
    guest_token: str
    ice_servers: list[IceServerInfo]
    offerer: str = "host"
    #: The lobby outlives its host: the guest follows ``host_migrated`` instead of leaving.
    migratable: bool = False


class GuestAccepted(Event, frozen=True, tag="guest_accepted"):
    connection_id: str
    peer_id: int
    name: str


class RequestRejected(Event, frozen=True, tag="request_rejected"):
    lobby_id: str
    reason: RejectReason
    #: The host's own words, when it gave any.
    message: str | None = None


class RequestRemoved(Event, frozen=True, tag="request_removed"):
    """A join request left the host's list without a place (rejected, timed out, host gone)."""

    connection_id: str
    reason: RejectReason


class ReceivedSessionDescription(Event, frozen=True, tag="received_session_description"):
    connection_id: str
    description: msgspec.Raw


class ReceivedIceCandidate(Event, frozen=True, tag="received_ice_candidate"):
    connection_id: str
    candidate: msgspec.Raw


class ReceivedMessage(Event, frozen=True, tag="received_message"):
    connection_id: str
    data: msgspec.Raw


class GuestLeft(Event, frozen=True, tag="guest_left"):
    connection_id: str
    reason: LeaveReason


class LeftLobby(Event, frozen=True, tag="left_lobby"):
    lobby_id: str


class Kicked(Event, frozen=True, tag="kicked"):
    lobby_id: str
    reason: KickReason
    #: The host's own words, when it gave any.
    message: str | None = None


class Resumed(Event, frozen=True, tag="resumed"):
    role: MemberRole
    lobby_id: str
    connection_id: str
    peer_id: int
    #: In a migratable lobby, a guest's host now: a host that changed while it was away.
    host_connection_id: str | None = None


class GuestResumed(Event, frozen=True, tag="guest_resumed"):
    old_connection_id: str
    connection_id: str


class HostDisconnected(Event, frozen=True, tag="host_disconnected"):
    lobby_id: str
    grace_s: float


class HostResumed(Event, frozen=True, tag="host_resumed"):
    old_connection_id: str
    connection_id: str


class IceServers(Event, frozen=True, tag="ice_servers"):
    ice_servers: list[IceServerInfo]


class PendingInfo(msgspec.Struct, frozen=True):
    """A join request waiting for the host, as a promoted host is handed it."""

    connection_id: str
    name: str


class SnapshotInfo(msgspec.Struct, frozen=True):
    """A kept snapshot: its sequence number, when it was saved (Unix time), its size and data."""

    seq: int
    saved_at: float
    size: int
    data: msgspec.Raw


class Promoted(Event, frozen=True, tag="promoted"):
    """To the member that is now the host: its host token, the roster and the latest snapshot."""

    lobby_id: str
    name: str
    connection_id: str
    host_token: str
    peer_id: int
    open: bool
    max_guests: int
    #: Connected guests.
    guests: list[MemberInfo]
    #: Guests in their grace period (by the connection id they had); they may resume.
    away: list[MemberInfo]
    pending: list[PendingInfo]
    ice_servers: list[IceServerInfo]
    reason: MigrationReason
    snapshot: SnapshotInfo | None = None


class HostMigrated(Event, frozen=True, tag="host_migrated"):
    """To every member: who the lobby's host is now."""

    lobby_id: str
    host_connection_id: str
    peer_id: int
    name: str
    reason: MigrationReason


class LobbyMoved(Event, frozen=True, tag="lobby_moved"):
    """To a guest: the lobby moved to the server at ``url``; ``resume{token}`` there."""

    lobby_id: str
    url: str
    token: str


class SnapshotSaved(Event, frozen=True, tag="snapshot_saved"):
    seq: int
    saved_at: float
    size: int


class Snapshot(Event, frozen=True, tag="snapshot"):
    """The answer to ``load_snapshot``: ``None`` when the lobby has none yet."""

    snapshot: SnapshotInfo | None = None


class Pong(Event, frozen=True, tag="pong"):
    #: The ``t`` of the ping, as sent (``null`` when it had none).
    t: msgspec.Raw


class Error(Event, frozen=True, tag="error"):
    code: ErrorCode
    message: str
    #: The action that caused it (``None`` when the frame named none that could be read).
    action: str | None
    ref: str | None = None


ServerEvent = (
    LobbyStarted
    | LobbyClosed
    | LobbyInfo
    | RequestToJoin
    | JoinRequested
    | RequestCancelled
    | JoinCancelled
    | RequestAccepted
    | GuestAccepted
    | RequestRejected
    | RequestRemoved
    | ReceivedSessionDescription
    | ReceivedIceCandidate
    | ReceivedMessage
    | GuestLeft
    | LeftLobby
    | Kicked
    | Resumed
    | GuestResumed
    | HostDisconnected
    | HostResumed
    | IceServers
    | Pong
    | Error
    | Promoted
    | HostMigrated
    | SnapshotSaved
    | Snapshot
    | LobbyMoved
)

#: What the host is told about its lobby; kept while the host is away and replayed on resume.
HostNotice = RequestToJoin | RequestCancelled | RequestRemoved | GuestLeft | GuestResumed

EVENT_TYPES: Final[Mapping[str, type[Event]]] = {
    kind.__struct_config__.tag: kind for kind in ServerEvent.__args__
}

_description_decoder: Final = msgspec.json.Decoder(SessionDescription)
_candidate_decoder: Final = msgspec.json.Decoder(IceCandidate | None)


def event_name(event: Event) -> str:
    """The wire name of ``event``."""
    tag = event.__struct_config__.tag
    assert isinstance(tag, str)
    return tag


def decode_description(raw: msgspec.Raw) -> SessionDescription:
    """A relayed ``description``; raises ``msgspec.ValidationError`` if it is not one."""
    return _description_decoder.decode(raw)


def decode_candidate(raw: msgspec.Raw) -> IceCandidate | None:
    """A relayed ``candidate`` (``None``: end of candidates)."""
    return _candidate_decoder.decode(raw)
