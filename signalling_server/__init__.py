"""LobbyHost's signalling server: protocol v1 over websockets, embedded or standalone.

Embed it::

    from signalling_server import ServerConfig, serve

    async with serve(ServerConfig(host="0.0.0.0", port=0)) as server:
        print(server.url)

or run it alone with the ``lobbyhost-server`` command.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lobbyhost")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

from .config import Limits, ServerConfig, Timeouts
from .errors import ConfigError, ErrorCode, ProtocolError, SignallingError
from .ice import IceConfig, TurnSecretServer, TurnServer
from .server import ServerCounters, SignallingServer, serve

__all__ = [
    "ConfigError",
    "ErrorCode",
    "IceConfig",
    "Limits",
    "ProtocolError",
    "ServerConfig",
    "ServerCounters",
    "SignallingError",
    "SignallingServer",
    "Timeouts",
    "TurnSecretServer",
    "TurnServer",
    "__version__",
    "serve",
]
