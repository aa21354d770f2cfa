"""The groovejet dialect: thomasboyt/groovejet's websocket protocol, as its client pearl speaks it.

Served at ``/groovejet`` and every path under it (pearl is configured with
``HOST:PORT/groovejet``). A room is a star with automatic admission: the host
creates it and gets a 5-character code, guests join with the code and send
their offer, the host answers each guest by its ``clientId``. See
``shared/design/dialects.md`` and the README's groovejet section.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .codec import NAME, GroovejetCodec
from .rules import GROOVEJET, GroovejetRules

if TYPE_CHECKING:
    from ...http_routes import HttpRequest
    from ...server import SignallingServer

#: The websocket path (and prefix) groovejet clients connect to.
PATH = "/groovejet"


def install(server: SignallingServer) -> None:
    """Add the groovejet dialect's routes and rules to ``server``."""
    server.node.registry.add_dialect(GroovejetRules(server.node.registry))
    max_frame_bytes = server.config.limits.max_frame_bytes

    def open_groovejet(request: HttpRequest) -> GroovejetCodec:
        # No Origin check: games run from any origin.
        return GroovejetCodec(max_frame_bytes=max_frame_bytes)

    server.websocket_routes.add(PATH, open_groovejet, prefix=True)


__all__ = ["GROOVEJET", "NAME", "PATH", "GroovejetCodec", "GroovejetRules", "install"]
