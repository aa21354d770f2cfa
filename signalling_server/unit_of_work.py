"""One unit of work per action: load what it touches, change it, commit once.

The registry opens a :class:`UnitOfWork` for every input (an action, a
disconnect, a timer) but the common relay, which changes nothing and reads a
shared lobby copy. Rules read lobbies and tokens through it; each lobby is
loaded at most once per unit, so every rule of the action sees the same copy,
and :meth:`UnitOfWork.commit` hands everything the action wrote (lobbies,
claimed codes, tokens, records) to the backend at once, after the action has
done all its changes: the backend stores all of it or none. Claims (a new
lobby's code, a new record's key) are checked when made and again at the
commit, which is refused if another node took the code meanwhile. An action
refused with a protocol error is never committed: with a backend that hands
out copies, it changes nothing. Process-local bookkeeping that must follow
only a stored change (budgets, counters) waits in :meth:`UnitOfWork.after_commit`.
"""

from __future__ import annotations

from collections.abc import Callable

from .backend import Changes, StateBackend, TokenGrant
from .ids import LobbyId
from .lobby import Lobby


class UnitOfWork:
    """The lobbies and tokens one action reads and writes."""

    __slots__ = (
        "_added",
        "_after",
        "_backend",
        "_claimed",
        "_dropped_tokens",
        "_lobbies",
        "_new_tokens",
        "_records",
        "_removed",
        "_timers",
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
        #: New lobbies and records, stored at commit if their codes and keys are still free.
        self._added: list[LobbyId] | None = None
        self._claimed: dict[tuple[str, str], bytes] | None = None
        self._timers: list[tuple[str, float, bytes]] | None = None
        #: Process-local changes to make once the commit stored everything.
        self._after: list[Callable[[], None]] | None = None

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
        """Take a new lobby's code; ``False`` if it is taken. Stored at commit, if still free."""
        lobby_id = lobby.lobby_id
        if self.lobby(lobby_id) is not None or (self._removed and lobby_id in self._removed):
            return False
        self._lobbies[lobby_id] = lobby
        if self._added is None:
            self._added = []
        self._added.append(lobby_id)
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
        """Take a new record's key; ``False`` if it exists. Stored at commit, if still free."""
        if self.record(kind, key) is not None:
            return False
        assert self._records is not None  # made by record()
        self._records[kind, key] = data
        if self._claimed is None:
            self._claimed = {}
        self._claimed[kind, key] = data
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

    def plan_timer(self, key: str, when: float, entry: bytes) -> None:
        """Add a cluster timer's ``entry`` to the sorted set ``key`` with the commit."""
        if self._timers is None:
            self._timers = []
        self._timers.append((key, when, entry))

    def after_commit(self, change: Callable[[], None]) -> None:
        """Make a process-local change once this unit is stored (never if it is not)."""
        if self._after is None:
            self._after = []
        self._after.append(change)

    def commit(self) -> None:
        """Write everything this unit changed, at once; then the process-local changes."""
        lobbies = self._lobbies
        added = self._added
        saved = [
            lobby
            for lobby in lobbies.values()
            if lobby is not None and (added is None or lobby.lobby_id not in added)
        ]
        if (
            added is None
            and self._removed is None
            and self._new_tokens is None
            and self._dropped_tokens is None
            and self._claimed is None
            and self._written is None
            and self._timers is None
        ):
            self._backend.commit(Changes(saved=saved))  # most inputs: a relay, a ping
        else:
            claimed = self._claimed or {}
            written = self._written or {}
            self._backend.commit(
                Changes(
                    saved=saved,
                    added=[
                        lobby
                        for lobby_id in added or ()
                        if (lobby := lobbies.get(lobby_id)) is not None
                    ],
                    removed=[
                        lobby_id
                        for lobby_id in self._removed or ()
                        if added is None or lobby_id not in added
                    ],
                    tokens=list((self._new_tokens or {}).items()),
                    dropped_tokens=list(self._dropped_tokens or ()),
                    # Claims are stored first: a record claimed, then written, keeps the write.
                    claimed_records=[(kind, key, data) for (kind, key), data in claimed.items()],
                    records=[(kind, key, data) for (kind, key), data in written.items()],
                    timers=self._timers or (),
                )
            )
        if self._after is not None:
            for change in self._after:
                change()
