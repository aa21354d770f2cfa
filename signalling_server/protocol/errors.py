"""The exceptions of ``signalling_server``, rooted here so the protocol needs nothing else.

* :class:`SignallingError` -- the base of every exception the package raises.
* :class:`ProtocolError` -- a client broke a rule of protocol v1. It carries the
  wire error code and a human sentence; the server turns it into an ``error``
  event for the offending connection and carries on.
* :class:`FrameError` -- a frame could not be decoded at all.
"""

from __future__ import annotations

from .codes import ErrorCode


class SignallingError(Exception):
    """Base class of every exception raised by ``signalling_server``."""


class ProtocolError(SignallingError):
    """A rule of protocol v1 was broken; carries the wire code and a human sentence."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class FrameError(ProtocolError):
    """A frame that could not be decoded; knows what it can of its action and ref."""

    def __init__(self, code: ErrorCode, message: str, action: str | None, ref: str | None) -> None:
        super().__init__(code, message)
        self.action = action
        self.ref = ref
