"""Errors of the client side's network layer.

* :class:`NetError` -- a connection problem: unreachable server, lost socket,
  no answer in time, a reply the client did not expect.
* :class:`ServerError` -- the signalling server refused an action (an
  ``error`` event); carries its :class:`ErrorCode`.
* :class:`ListenError` -- the embedded server could not listen where asked.
* :class:`PeerError` -- a WebRTC peer connection could not be set up.
"""

from __future__ import annotations

from signalling_server.protocol import Error, ErrorCode

from ..errors import LobbyHostError


class NetError(LobbyHostError):
    """A connection problem: unreachable server, lost socket, no answer in time."""


class ServerError(NetError):
    """The signalling server answered an action with an ``error`` event.

    ``code`` is an :class:`ErrorCode`; a code this client does not know (from
    a newer server) is kept as the plain string the server sent.
    """

    def __init__(self, code: ErrorCode | str, message: str, action: str | None) -> None:
        super().__init__(message)
        self.code = code
        self.action = action

    @classmethod
    def from_event(cls, event: Error) -> ServerError:
        return cls(event.code, event.message, event.action)


class ListenError(NetError):
    """The embedded signalling server could not listen on ``host:port``."""

    def __init__(self, host: str, port: int, error: OSError) -> None:
        super().__init__(f"cannot listen on {host}:{port}: {error.strerror or error}")
        self.host = host
        self.port = port
        self.error = error


class PeerError(NetError):
    """A WebRTC peer connection could not be set up or failed."""


def error_code(code: str) -> ErrorCode | str:
    """``code`` as an :class:`ErrorCode` when it is one, else as it came."""
    try:
        return ErrorCode(code)
    except ValueError:
        return code
