"""The in-memory backend: one process, the default for the embedded server."""

from __future__ import annotations

from collections.abc import Iterator

from ..ids import LobbyId
from ..lobby import Lobby
from .base import Changes, LobbyConflict, TokenGrant, nodes_of
from .records import decode_lobby, encode_lobby


class MemoryBackend:
    """Lobbies and tokens in dicts.

    By default the lobby objects are the records (nothing to copy, saving is
    free). With ``copies=True`` it keeps encoded records and hands out fresh
    copies, as a networked store must: a change that is not saved is lost.
    The contract tests and the registry's property tests run it that way.
    """

    def __init__(self, *, copies: bool = False) -> None:
        self.copies = copies
        self._lobbies: dict[LobbyId, Lobby] = {}
        self._records: dict[LobbyId, bytes] = {}
        self._tokens: dict[str, TokenGrant] = {}
        self._dialect_records: dict[tuple[str, str], bytes] = {}

    def commit(self, changes: Changes) -> None:
        # Checks first: a refused commit writes nothing. One process applies one unit
        # at a time, so a lobby read in a unit cannot change before its commit.
        for lobby in changes.added:
            if lobby.lobby_id in self._lobbies or lobby.lobby_id in self._records:
                raise LobbyConflict(f"lobby code {lobby.lobby_id} is taken")
        for kind, key, _ in changes.claimed_records:
            if (kind, key) in self._dialect_records:
                raise LobbyConflict(f"record {kind}/{key} is taken")
        if changes.timers:
            # Shared timers live in Redis; one process keeps its timers itself.
            raise ValueError("a memory backend stores no shared timers")
        # Then through the single-step methods, which subclasses may watch.
        for lobby in changes.added:
            self.add_lobby(lobby)
        for lobby in changes.saved:
            self.save_lobby(lobby)
        for lobby_id in changes.removed:
            self.remove_lobby(lobby_id)
        for token_id, grant in changes.tokens:
            self.put_token(token_id, grant)
        for token_id in changes.dropped_tokens:
            self.drop_token(token_id)
        for kind, key, data in changes.claimed_records:
            self.add_record(kind, key, data)
        for kind, key, written in changes.records:
            if written is None:
                self.remove_record(kind, key)
            else:
                self.put_record(kind, key, written)

    def lobbies_held_by(self, node_id: str) -> list[LobbyId]:
        # One process is one node: no node of its own dies while it lives, so only
        # tools and the contract tests ask, and a scan keeps every write free.
        return [lobby.lobby_id for lobby in self.lobbies() if node_id in nodes_of(lobby)]

    def add_lobby(self, lobby: Lobby) -> bool:
        if lobby.lobby_id in self._lobbies or lobby.lobby_id in self._records:
            return False
        if self.copies:
            self._records[lobby.lobby_id] = encode_lobby(lobby)
        else:
            self._lobbies[lobby.lobby_id] = lobby
        return True

    def get_lobby(self, lobby_id: LobbyId) -> Lobby | None:
        if self.copies:
            record = self._records.get(lobby_id)
            return None if record is None else decode_lobby(record)
        return self._lobbies.get(lobby_id)

    def peek_lobby(self, lobby_id: LobbyId) -> Lobby | None:
        return self.get_lobby(lobby_id)

    def save_lobby(self, lobby: Lobby) -> None:
        if self.copies and lobby.lobby_id in self._records:
            self._records[lobby.lobby_id] = encode_lobby(lobby)
        # Without copies the records are the live objects: nothing to write back.

    def remove_lobby(self, lobby_id: LobbyId) -> None:
        self._lobbies.pop(lobby_id, None)
        self._records.pop(lobby_id, None)

    def lobby_count(self) -> int:
        return len(self._records) if self.copies else len(self._lobbies)

    def lobbies(self) -> Iterator[Lobby]:
        if self.copies:
            return iter([decode_lobby(record) for record in self._records.values()])
        return iter(list(self._lobbies.values()))

    def put_token(self, token_id: str, grant: TokenGrant) -> None:
        self._tokens[token_id] = grant

    def get_token(self, token_id: str) -> TokenGrant | None:
        return self._tokens.get(token_id)

    def drop_token(self, token_id: str) -> None:
        self._tokens.pop(token_id, None)

    def add_record(self, kind: str, key: str, data: bytes) -> bool:
        if (kind, key) in self._dialect_records:
            return False
        self._dialect_records[kind, key] = bytes(data)
        return True

    def get_record(self, kind: str, key: str) -> bytes | None:
        return self._dialect_records.get((kind, key))

    def put_record(self, kind: str, key: str, data: bytes) -> None:
        self._dialect_records[kind, key] = bytes(data)

    def remove_record(self, kind: str, key: str) -> None:
        self._dialect_records.pop((kind, key), None)

    def record_keys(self, kind: str) -> list[str]:
        return [key for (k, key) in self._dialect_records if k == kind]
