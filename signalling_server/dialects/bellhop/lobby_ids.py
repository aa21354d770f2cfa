"""Bellhop lobby ids: free-form text, kept under their own namespace in the lobby records."""

from __future__ import annotations

import uuid
from typing import Final

from ...ids import LobbyId

#: The dialect's name; its codec and rules carry it, and lobby records are keyed under it.
DIALECT: Final = "bellhop"
#: Bellhop ids are matched exactly and never meet native codes (6 characters, no colon).
_NAMESPACE: Final = DIALECT + ":"
#: Longest lobby id a host may ask for.
MAX_LOBBY_ID_LENGTH: Final = 64


def lobby_key(bellhop_id: str) -> LobbyId:
    """The lobby record's id for a Bellhop lobby id."""
    return LobbyId(_NAMESPACE + bellhop_id)


def bellhop_id(lobby_id: str) -> str:
    """The Bellhop lobby id (as clients know it) of a lobby record's id."""
    return lobby_id.removeprefix(_NAMESPACE)


def new_bellhop_id() -> str:
    """A fresh id as the original server made them: a lower-case uuid4."""
    return str(uuid.uuid4())
