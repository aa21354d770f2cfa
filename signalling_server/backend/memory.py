"""The in-memory backend: one process, the default for the embedded server."""

from __future__ import annotations

from collections.abc import Iterator

from ..ids import LobbyId
from ..lobby import Lobby
from .base import TokenGrant


class MemoryBackend:
    """Lobbies and tokens in dicts; the lobby objects are the records."""

    def __init__(self) -> None:
        self._lobbies: dict[LobbyId, Lobby] = {}
        self._tokens: dict[str, TokenGrant] = {}

    def add_lobby(self, lobby: Lobby) -> bool:
        if lobby.lobby_id in self._lobbies:
            return False
        self._lobbies[lobby.lobby_id] = lobby
        return True

    def get_lobby(self, lobby_id: LobbyId) -> Lobby | None:
        return self._lobbies.get(lobby_id)

    def save_lobby(self, lobby: Lobby) -> None:
        # The records are the live objects: nothing to write back.
        pass

    def remove_lobby(self, lobby_id: LobbyId) -> None:
        self._lobbies.pop(lobby_id, None)

    def lobby_count(self) -> int:
        return len(self._lobbies)

    def lobbies(self) -> Iterator[Lobby]:
        return iter(list(self._lobbies.values()))

    def put_token(self, token_id: str, grant: TokenGrant) -> None:
        self._tokens[token_id] = grant

    def get_token(self, token_id: str) -> TokenGrant | None:
        return self._tokens.get(token_id)

    def drop_token(self, token_id: str) -> None:
        self._tokens.pop(token_id, None)
