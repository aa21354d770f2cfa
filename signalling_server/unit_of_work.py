"""One unit of work per action: load what it touches, change it, commit once.

The registry opens a :class:`UnitOfWork` for every input (an action, a
disconnect, a timer). Rules read lobbies and tokens through it; each lobby is
loaded at most once per unit, so every rule of the action sees the same copy,
and :meth:`UnitOfWork.commit` writes every lobby it loaded, once, after the
action has done all its changes. An action refused with a protocol error is
never committed: with a backend that hands out copies, it changes nothing.
"""

from __future__ import annotations

from .backend import StateBackend, TokenGrant
from .ids import LobbyId
from .lobby import Lobby


class UnitOfWork:
    """The lobbies and tokens one action reads and writes."""

    __slots__ = (
        "_backend",
        "_dropped_tokens",
        "_lobbies",
        "_new_tokens",
        "_records",
        "_removed",
        "_written",
    )

    def __init__(self, backend: StateBackend) -> None:
        self._backend = backend
        self._lobbies: dict[LobbyId, Lobby | None] = {}
        # Most actions (relays above all) remove nothing and touch no token.
        self._removed: list[LobbyId] | None = None
        self._new_tokens: dict[str, TokenGrant] | None = None
        self._dropped_tokens: list[str] | None = None
        #: Records as this unit sees them, by (kind, key); ``None``: absent or removed.
        self._records: dict[tuple[str, str], bytes | None] | None = None
        #: Records this unit stores (bytes) or removes (``None``) at commit.
        self._written: dict[tuple[str, str], bytes | None] | None = None

    def lobby(self, lobby_id: LobbyId) -> Lobby | None:
        """The lobby with this code as this unit sees it, or ``None``."""
        lobbies = self._lobbies
        if lobby_id in lobbies:
            return lobbies[lobby_id]
        lobby = lobbies[lobby_id] = self._backend.get_lobby(lobby_id)
        return lobby

    def peek(self, lobby_id: LobbyId) -> Lobby | None:
        """The lobby for reading only: this unit's copy if it has one, else a shared one.

        A lobby only peeked at is not written at commit (relays change nothing).
        """
        lobbies = self._lobbies
        if lobby_id in lobbies:
            return lobbies[lobby_id]
        return self._backend.peek_lobby(lobby_id)

    def claim(self, lobby: Lobby) -> bool:
        """Store a new lobby now (claiming its code atomically); ``False`` if the code is taken."""
        if not self._backend.add_lobby(lobby):
            return False
        self._lobbies[lobby.lobby_id] = lobby
        return True

    def remove(self, lobby_id: LobbyId) -> None:
        """Forget the lobby at commit."""
        self._lobbies[lobby_id] = None
        if self._removed is None:
            self._removed = []
        self._removed.append(lobby_id)

    def put_token(self, token_id: str, grant: TokenGrant) -> None:
        if self._new_tokens is None:
            self._new_tokens = {}
        self._new_tokens[token_id] = grant

    def get_token(self, token_id: str) -> TokenGrant | None:
        if self._dropped_tokens is not None and token_id in self._dropped_tokens:
            return None
        if self._new_tokens is not None and token_id in self._new_tokens:
            return self._new_tokens[token_id]
        return self._backend.get_token(token_id)

    def drop_token(self, token_id: str) -> None:
        if self._new_tokens is not None:
            self._new_tokens.pop(token_id, None)
        if self._dropped_tokens is None:
            self._dropped_tokens = []
        self._dropped_tokens.append(token_id)

    def record(self, kind: str, key: str) -> bytes | None:
        """A record (as this unit sees it), or ``None``."""
        if self._records is None:
            self._records = {}
        if (kind, key) in self._records:
            return self._records[kind, key]
        data = self._records[kind, key] = self._backend.get_record(kind, key)
        return data

    def claim_record(self, kind: str, key: str, data: bytes) -> bool:
        """Store a new record now (atomically); ``False`` if it exists."""
        if not self._backend.add_record(kind, key, data):
            return False
        if self._records is None:
            self._records = {}
        self._records[kind, key] = data
        return True

    def put_record(self, kind: str, key: str, data: bytes) -> None:
        """Store the record at commit, new or not."""
        self._write(kind, key, data)

    def remove_record(self, kind: str, key: str) -> None:
        """Forget the record at commit."""
        self._write(kind, key, None)

    def _write(self, kind: str, key: str, data: bytes | None) -> None:
        if self._records is None:
            self._records = {}
        if self._written is None:
            self._written = {}
        self._records[kind, key] = self._written[kind, key] = data

    def commit(self) -> None:
        """Write everything this unit changed, once."""
        backend = self._backend
        for lobby in self._lobbies.values():
            if lobby is not None:
                backend.save_lobby(lobby)
        if self._removed is not None:
            for lobby_id in self._removed:
                backend.remove_lobby(lobby_id)
        if self._new_tokens is not None:
            for token_id, grant in self._new_tokens.items():
                backend.put_token(token_id, grant)
        if self._dropped_tokens is not None:
            for token_id in self._dropped_tokens:
                backend.drop_token(token_id)
        if self._written is not None:
            for (kind, key), data in self._written.items():
                if data is None:
                    backend.remove_record(kind, key)
                else:
                    backend.put_record(kind, key, data)
