"""The Camus dialect: camuschat/camus's room pages and websocket, as its ``rtcclient`` uses them.

Served under ``/camus/``: the create form at ``/camus/``, each room's page at
``/camus/room/<slug>`` (a visit makes a member and sets its signed cookie),
and the room's websocket at ``/camus/room/<slug>/ws`` (the client builds it
from the page's address). A room is a mesh with no host; frames are
``{sender, receiver, type, data}``. See ``shared/design/dialects.md`` and the
README's Camus section.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .codec import NAME, CamusCodec
from .routes import ROOM_PREFIX, ROOT, STATIC_PREFIX, CamusRoutes
from .rules import CamusRules
from .static_files import StaticFiles

if TYPE_CHECKING:
    from ...server import SignallingServer


def install(server: SignallingServer) -> None:
    """Add the Camus dialect's routes and rules to ``server``."""
    registry = server.node.registry
    rules = CamusRules(registry)
    registry.add_dialect(rules)
    web_root = server.config.camus_web_root
    routes = CamusRoutes(
        server.node,
        rules,
        static=None if web_root is None else StaticFiles(web_root),
        max_frame_bytes=server.config.limits.max_frame_bytes,
    )
    http = server.http_routes
    http.add("GET", ROOT.rstrip("/"), routes.bare)
    http.add("GET", ROOT, routes.landing)
    http.add("POST", ROOT, routes.create)
    http.add("GET", ROOM_PREFIX, routes.room, prefix=True)
    http.add("POST", ROOM_PREFIX, routes.room, prefix=True)
    http.add("GET", STATIC_PREFIX, routes.static, prefix=True)
    # The room page's path with /ws: only a websocket handshake reaches the opener.
    server.websocket_routes.add(ROOM_PREFIX.rstrip("/"), routes.open_socket, prefix=True)


__all__ = ["NAME", "CamusCodec", "CamusRules", "install"]
