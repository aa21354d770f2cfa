"""A logger for websocket connections that never writes frame contents.

At DEBUG, the websockets library logs every frame it sends and receives
(``"< %s"``, ``"> %s"``), tokens and passwords included. Every connection
LobbyHost makes or accepts, server and client side, passes
:func:`redacted_frame_logger` as its ``logger``: frames are then logged as
their kind and size only, and everything else websockets says passes through.
Stdlib only, so the client side can use it without the server.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

_FRAME_LINES = frozenset({"< %s", "> %s"})


class RedactedFrameLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Logs websockets' frame lines as ``TEXT 312 bytes`` instead of their data."""

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if msg in _FRAME_LINES and args:
            args = (describe_frame(args[0]), *args[1:])
        super().log(level, msg, *args, **kwargs)

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        return msg, kwargs


def describe_frame(frame: object) -> str:
    """A frame's kind and size, never its contents."""
    opcode = getattr(frame, "opcode", None)
    data = getattr(frame, "data", b"")
    kind = getattr(opcode, "name", "frame")
    size = len(data) if isinstance(data, bytes | bytearray | memoryview) else 0
    return f"{kind} {size} bytes"


def redacted_frame_logger(
    name: str = "websockets", extra: Mapping[str, object] | None = None
) -> RedactedFrameLogger:
    """The logger to give websockets for one connection (``logger=``)."""
    return RedactedFrameLogger(logging.getLogger(name), extra)
