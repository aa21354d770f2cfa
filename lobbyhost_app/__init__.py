"""LobbyHost's desktop app and client side (host and guest).

Layout (see the README): ``net/`` is the Qt-free client side (signalling
client, host and guest sessions, peer links, the hosting service, ICE
configuration); ``session_values`` holds the small values it reports, free of
aiortc, Qt and websockets; ``controllers/``, ``models/`` and ``views/`` are the
PySide6 app on top of it.
"""

from __future__ import annotations

# One version for the whole distribution (``lobbyhost``): the server's, read once.
from signalling_server import __version__

__all__ = ["__version__"]
