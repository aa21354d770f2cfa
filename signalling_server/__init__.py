"""LobbyHost's signalling server: protocol v1 over websockets, embedded or standalone.

Embed it::

    from signalling_server import ServerConfig, serve

    async with serve(ServerConfig(host="0.0.0.0", port=0)) as server:
        print(server.url)

or run it alone with the ``lobbyhost-server`` command.

Names are exported lazily: ``import signalling_server.protocol`` (what clients
share) loads neither websockets nor prometheus; ``serve`` loads them when it
is first looked up.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from .lazy import lazy_exports

try:
    __version__ = version("lobbyhost")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

if TYPE_CHECKING:
    from .config import Limits, ServerConfig, Timeouts
    from .errors import ConfigError, ErrorCode, ProtocolError, SignallingError
    from .ice import IceConfig, TurnSecretServer, TurnServer
    from .node import SignallingNode
    from .server import ServerCounters, SignallingServer, serve

_EXPORTS = {
    "Limits": "config",
    "ServerConfig": "config",
    "Timeouts": "config",
    "ConfigError": "errors",
    "ErrorCode": "errors",
    "ProtocolError": "errors",
    "SignallingError": "errors",
    "IceConfig": "ice",
    "TurnSecretServer": "ice",
    "TurnServer": "ice",
    "SignallingNode": "node",
    "ServerCounters": "server",
    "SignallingServer": "server",
    "serve": "server",
}

__all__ = [
    "ConfigError",
    "ErrorCode",
    "IceConfig",
    "Limits",
    "ProtocolError",
    "ServerConfig",
    "ServerCounters",
    "SignallingError",
    "SignallingNode",
    "SignallingServer",
    "Timeouts",
    "TurnSecretServer",
    "TurnServer",
    "__version__",
    "serve",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
