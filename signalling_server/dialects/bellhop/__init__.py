"""The Bellhop dialect: the websocket protocol of DillonSteyl/bellhop, at ``/bellhop``.

Bellhop's Godot clients (bellhop-multiplayer-demo) connect to ``/bellhop`` or
any path under it (``/bellhop/production`` stands for an API Gateway stage).
No ``Origin`` is required: games run from anywhere, and Godot sends none.
:mod:`.codec` reads and writes its frames, :mod:`.rules` applies it to the
registry's lobby records, :mod:`.messages` is its vocabulary.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .codec import BellhopCodec
from .lobby_ids import DIALECT
from .rules import BellhopRules

if TYPE_CHECKING:
    from ...http_routes import HttpReply, HttpRequest
    from ...server import SignallingServer

#: The websocket path; every path under it is Bellhop too.
PATH = "/" + DIALECT

__all__ = ["PATH", "BellhopCodec", "BellhopRules", "install"]


def install(server: SignallingServer) -> None:
    """Add the Bellhop dialect's websocket path and rules to ``server``."""
    registry = server.node.registry
    registry.add_dialect(BellhopRules(registry))
    max_frame_bytes = server.config.limits.max_frame_bytes

    def open_bellhop(request: HttpRequest) -> BellhopCodec | HttpReply:
        return BellhopCodec(max_frame_bytes=max_frame_bytes)

    server.websocket_routes.add(PATH, open_bellhop, prefix=True)
