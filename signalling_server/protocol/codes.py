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


class MemberRole(enum.StrEnum):
    """The place a ``resume`` gave back."""

    HOST = "host"
    GUEST = "guest"
