"""The websocket opening handshake on a request h11 has already parsed.

websockets' :class:`~websockets.server.ServerProtocol` normally parses the
handshake request itself. Here h11 has read it, so the protocol is made
already ``OPEN`` (websockets' documented way to bring your own HTTP stack) and
only :meth:`~websockets.server.ServerProtocol.accept` runs: it checks the
request and builds the 101 answer, or the 400 / 426 answer that refuses it.
"""

from __future__ import annotations

from dataclasses import dataclass

import h11
from websockets.datastructures import Headers
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.server import ServerProtocol

from ..frame_log import redacted_frame_logger

#: Frames logged by kind and size only (one adapter serves every connection).
_LOGGER = redacted_frame_logger("websockets.server")

#: The request headers ``ServerProtocol.accept`` reads (websockets 17: its
#: ``process_request``, ``process_origin``, ``process_extensions`` and
#: ``process_subprotocol``). Only these are copied into websockets' ``Headers``:
#: a browser sends a dozen headers, and each copy costs ~2 us of a handshake.
HANDSHAKE_HEADERS = frozenset(
    {
        b"connection",
        b"upgrade",
        b"sec-websocket-key",
        b"sec-websocket-version",
        b"sec-websocket-extensions",
        b"sec-websocket-protocol",
        b"origin",
    }
)


@dataclass(frozen=True, slots=True)
class Handshake:
    """The outcome of a handshake: the answer to write, and the protocol when it is 101."""

    response: Response
    protocol: ServerProtocol | None

    @property
    def accepted(self) -> bool:
        return self.protocol is not None


def accept_websocket(request: h11.Request, *, max_size: int, server_header: str) -> Handshake:
    """Check ``request`` as a websocket handshake and answer it.

    No extension is offered (no permessage-deflate: signalling frames are
    small, and each deflating connection keeps two zlib contexts, ~32 KiB).
    Frames larger than ``max_size`` close the connection with 1009.
    """
    headers = Headers()
    for name, value in request.headers:  # h11 gives names lower-case
        if name in HANDSHAKE_HEADERS:
            headers[name.decode("latin-1")] = value.decode("latin-1")
    ws_request = Request(
        path=request.target.decode("latin-1"),
        headers=headers,
        method=request.method.decode("latin-1"),
        protocol=f"HTTP/{request.http_version.decode('latin-1')}",
    )
    protocol = ServerProtocol(
        extensions=None,
        max_size=max_size,
        state=State.OPEN,
        logger=_LOGGER,
    )
    response = protocol.accept(ws_request)
    response.headers["Server"] = server_header
    if response.status_code != 101:
        return Handshake(response, None)
    return Handshake(response, protocol)


__all__ = ["Handshake", "accept_websocket"]
