"""The older systems' protocols, served beside protocol v1 on the same port.

Each dialect is a package with an ``install(server)`` that adds what it needs
to a :class:`~signalling_server.server.SignallingServer`: its websocket paths
(:attr:`~signalling_server.server.SignallingServer.websocket_routes`), its HTTP
routes (:attr:`~signalling_server.server.SignallingServer.http_routes`) and its
rules in the registry (:meth:`~signalling_server.registry.LobbyRegistry.add_dialect`).
``shared/design``'s dialect contract, as the README's dialect sections tell it,
is what each one implements.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import bellhop, camus, groovejet, lambda_http

if TYPE_CHECKING:
    from ..server import SignallingServer


def install_dialects(server: SignallingServer) -> None:
    """Serve every dialect on ``server``."""
    for dialect in (bellhop, camus, groovejet, lambda_http):
        dialect.install(server)
