"""Errors of the client side's network layer.

* :class:`NetError` -- a connection problem: unreachable server, lost socket,
  no answer in time, a reply the client did not expect.
* :class:`ServerError` -- the signalling server refused an action (an
  ``error`` event); carries its :class:`ErrorCode`.
* :class:`ListenError` -- the embedded server could not listen where asked.
* :class:`PeerError` -- a WebRTC peer connection could not be set up.

:func:`connect_problem` and :func:`listen_problem` put a system error
(``OSError``) into words for the end of a sentence.
"""

from __future__ import annotations

import errno
import socket
import ssl

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
        super().__init__(f"cannot listen on {host}:{port}: {listen_problem(error)}")
        self.host = host
        self.port = port
        self.error = error


class PeerError(NetError):
    """A WebRTC peer connection could not be set up or failed."""


# Words for system errors: a user reads these at the end of a sentence, where the
# system's own text ("[Errno 111] Connect call failed ('127.0.0.1', 1)") tells them nothing.

_CONNECT_WORDS = {
    errno.ECONNREFUSED: "nothing is listening on that port (is LobbyHost running there, "
    "and is the port right?)",
    errno.ETIMEDOUT: "it did not answer in time",
    errno.EHOSTUNREACH: "this computer has no route to it",
    errno.ENETUNREACH: "this computer has no route to it",
    errno.ENETDOWN: "this computer's network is down",
    errno.ECONNRESET: "the connection was cut",
    errno.ECONNABORTED: "the connection was cut",
    errno.EPIPE: "the connection was cut",
    errno.EADDRNOTAVAIL: "that address cannot be reached from this computer",
    errno.EACCES: "the system does not allow the connection",
    errno.EPERM: "the system does not allow the connection",
}

_LISTEN_WORDS = {
    errno.EADDRINUSE: "the port is already in use",
    errno.EADDRNOTAVAIL: "that is not an address of this computer",
    errno.EACCES: "not allowed (ports below 1024 need special rights)",
    errno.EPERM: "not allowed (ports below 1024 need special rights)",
}


def connect_problem(error: OSError) -> str:
    """Why a connection failed, in words (no errno numbers, no system text)."""
    if isinstance(error, socket.gaierror):
        return "that name could not be found"
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"its TLS certificate is not trusted on this computer ({error.verify_message})"
    if isinstance(error, ssl.SSLError):
        return "the TLS handshake failed (is it a wss:// server, with a valid certificate?)"
    if isinstance(error, TimeoutError) and error.errno is None:
        return "it did not answer in time"
    return _CONNECT_WORDS.get(error.errno or 0, "the connection failed")


def listen_problem(error: OSError) -> str:
    """Why a server could not listen, in words (no errno numbers, no system text)."""
    if isinstance(error, socket.gaierror):
        return "that name could not be found"
    return _LISTEN_WORDS.get(error.errno or 0, "the system refused it")


def error_code(code: str) -> ErrorCode | str:
    """``code`` as an :class:`ErrorCode` when it is one, else as it came."""
    try:
        return ErrorCode(code)
    except ValueError:
        return code
