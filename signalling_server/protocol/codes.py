"""The closed vocabularies of protocol v1: error codes, reasons and roles.

Every value here is a string on the wire; anything a person typed (a host's
reason for turning a guest down) travels in a separate ``message`` field and
never in one of these.
"""

from __future__ import annotations

import enum


class ErrorCode(enum.StrEnum):
    """The error codes of protocol v1 (``error.content.code``)."""

    INVALID_JSON = "invalid_json"
    INVALID_MESSAGE = "invalid_message"
    UNKNOWN_ACTION = "unknown_action"
    MESSAGE_TOO_LARGE = "message_too_large"
    RATE_LIMITED = "rate_limited"
    ALREADY_IN_LOBBY = "already_in_lobby"
    NOT_IN_LOBBY = "not_in_lobby"
    NOT_HOST = "not_host"
    LOBBY_NOT_FOUND = "lobby_not_found"
    LOBBY_EXISTS = "lobby_exists"
    LOBBY_FULL = "lobby_full"
    LOBBY_LOCKED = "lobby_locked"
    WRONG_PASSWORD = "wrong_password"
    HOST_UNAVAILABLE = "host_unavailable"
    UNKNOWN_CONNECTION = "unknown_connection"
    NOT_ACCEPTED = "not_accepted"
    INVALID_TOKEN = "invalid_token"
    BLOCKED = "blocked"
    #: ``hand_over`` in a lobby started without ``migratable``.
    NOT_MIGRATABLE = "not_migratable"
    #: ``hand_over`` with no connected guest to take over.
    NO_SUCCESSOR = "no_successor"
    #: A snapshot's data is above the server's snapshot limit.
    SNAPSHOT_TOO_LARGE = "snapshot_too_large"
    #: A snapshot's ``seq`` is not above the latest one kept.
    STALE_SNAPSHOT = "stale_snapshot"
    #: ``load_snapshot{seq}`` names a snapshot the server does not keep.
    SNAPSHOT_NOT_FOUND = "snapshot_not_found"
    #: The server cannot reach its shared state store (a cluster's Redis) right now.
    SERVER_UNAVAILABLE = "server_unavailable"


class RejectReason(enum.StrEnum):
    """Why a join request ended without a place (``request_rejected``, ``request_removed``)."""

    REJECTED_BY_HOST = "rejected_by_host"
    TIMEOUT = "timeout"
    HOST_LEFT = "host_left"


class CloseReason(enum.StrEnum):
    """Why a lobby ended (``lobby_closed``)."""

    CLOSED_BY_HOST = "closed_by_host"
    HOST_LEFT = "host_left"
    SERVER_SHUTDOWN = "server_shutdown"
    #: The host moved the lobby to another server (``move_lobby``).
    MOVED = "moved"


class LeaveReason(enum.StrEnum):
    """Why a guest is no longer connected to the lobby (``guest_left``)."""

    LEFT = "left"
    KICKED = "kicked"
    #: The socket dropped; the guest may still resume within its grace period.
    DISCONNECTED = "disconnected"
    #: The grace period of a disconnected guest ran out: its place is gone.
    LOST = "lost"


class KickReason(enum.StrEnum):
    """Why a guest was removed (``kicked``); the host's own words go in ``message``."""

    KICKED_BY_HOST = "kicked_by_host"
    #: The host gave up on the WebRTC handshake (ICE failed or timed out, or the
    #: data channel never opened) and freed the seat.
    UNREACHABLE = "unreachable"


class MigrationReason(enum.StrEnum):
    """Why a lobby has a new host (``host_migrated``)."""

    #: The host named (or let the server pick) its successor with ``hand_over``.
    HANDED_OVER = "handed_over"
    #: The host's grace period ran out; the earliest-accepted connected guest took over.
    HOST_LEFT = "host_left"
    #: Everyone had dropped; the first member to ``resume`` took over.
    RESUMED = "resumed"


class MemberRole(enum.StrEnum):
    """The place a ``resume`` gave back."""

    HOST = "host"
    GUEST = "guest"
