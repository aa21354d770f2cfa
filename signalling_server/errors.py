"""Exceptions of the signalling server.

Every error the server raises derives from :class:`SignallingError`:

* :class:`ProtocolError` -- a client broke a rule of protocol v1. It carries the
  wire error code and a human sentence; the registry turns it into an
  ``error`` event for the offending connection and carries on.
* :class:`ConfigError` -- the server was configured with values that cannot
  work (a limit out of range, an unreadable config file).

The first two live in :mod:`signalling_server.protocol`, which clients share.
"""

from __future__ import annotations

from .protocol.codes import ErrorCode
from .protocol.errors import FrameError, ProtocolError, SignallingError


class ConfigError(SignallingError):
    """The configuration cannot be used."""


__all__ = ["ConfigError", "ErrorCode", "FrameError", "ProtocolError", "SignallingError"]
