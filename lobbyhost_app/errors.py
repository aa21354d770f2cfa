"""Exceptions of the LobbyHost app.

Everything the app raises derives from :class:`LobbyHostError`; its message is
a sentence fit to show a user. Controllers catch it and turn it into a signal
that views show as a message, never a traceback.
"""

from __future__ import annotations


class LobbyHostError(Exception):
    """Base of every LobbyHost app error; ``str(error)`` is readable by a user."""
