"""Exceptions of the signalling server.

Every error the server raises derives from :class:`SignallingError`:

* :class:`ProtocolError` -- a client broke a rule of protocol v1. It carries the
  wire error code and a human sentence; the registry turns it into an
  ``error`` event for the offending connection and carries on.
* :class:`ConfigError` -- the server was configured with values that cannot
  work (a limit out of range, an unreadable config file).
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


class SignallingError(Exception):
    """Base class of every exception raised by ``signalling_server``."""


class ProtocolError(SignallingError):
    """A client action broke a protocol rule; becomes an ``error`` event."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ConfigError(SignallingError):
    """The configuration cannot be used."""
