"""The network edge of the signalling server: TCP, HTTP and websockets.

The only package of the server that touches sockets, h11 or websockets:

* :mod:`.listener` -- the listening socket and the connections it accepted;
* :mod:`.connection` -- one TCP connection: an HTTP request parsed by h11,
  answered by a route or switched to a websocket;
* :mod:`.handshake` -- the websocket opening handshake on h11's request;
* :mod:`.websocket` -- one open websocket, driven by websockets' sans-I/O
  protocol from ``data_received``; it is the node's outlet for that client;
* :mod:`.router` -- HTTP routes by method and path (pure);
* :mod:`.client_address` -- the client's address behind trusted proxies
  (``X-Forwarded-For``), and :mod:`.proxy_protocol` -- their PROXY headers;
* :mod:`.admission` -- open connections per address, and a ceiling below the
  open-file limit.

The node on the other side (:class:`~signalling_server.node.SignallingNode`)
sees only ``attach`` / ``receive`` / ``detach`` calls and outlets.
"""

from __future__ import annotations

from .listener import BACKLOG, Listener
from .router import Handler, HttpRouter, WebsocketOpener, WebsocketRoutes
from .websocket import CLOSE_TOO_SLOW, ConnectionSink, WebsocketSession

__all__ = [
    "BACKLOG",
    "CLOSE_TOO_SLOW",
    "ConnectionSink",
    "Handler",
    "HttpRouter",
    "Listener",
    "WebsocketOpener",
    "WebsocketRoutes",
    "WebsocketSession",
]
