"""The Lambda HTTP method API (AlvinHon/signaling-server's clients), at ``POST /lambda``.

One endpoint takes a JSON body with a ``method`` key; a channel is a
two-party mailbox (offer, answer, one shared list of candidates) that expires
300 s after creation. :mod:`.channels` holds the rules (sans I/O),
:mod:`.rpc` the method API, :mod:`.routes` the HTTP edge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .channels import ChannelLimits, LambdaRules
from .routes import ANSWERED_METHODS, PATH, LambdaEndpoint
from .rpc import LambdaApi

if TYPE_CHECKING:
    from ...server import SignallingServer


def install(server: SignallingServer) -> None:
    """Serve ``/lambda`` (and paths under ``/lambda/``, as a function URL would) on ``server``."""
    registry = server.node.registry
    rules = LambdaRules(registry)
    registry.add_dialect(rules)
    endpoint = LambdaEndpoint(server.node, LambdaApi(rules))
    for method in ANSWERED_METHODS:
        server.http_routes.add(method, PATH, endpoint)
        server.http_routes.add(method, f"{PATH}/", endpoint, prefix=True)


__all__ = ["ChannelLimits", "LambdaApi", "LambdaEndpoint", "LambdaRules", "install"]
