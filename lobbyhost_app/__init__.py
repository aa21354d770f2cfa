"""LobbyHost's desktop app and client side (host and guest).

Layout (see the README): ``net/`` is the Qt-free client side (signalling
client, host peer manager, guest peer, ICE configuration); ``controllers/``,
``models/`` and ``views/`` are the PySide6 app on top of it.
"""
