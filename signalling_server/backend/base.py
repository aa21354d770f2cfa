"""The state-backend interface the lobby registry is written against.

The registry keeps per-connection state itself (a socket lives in one process)
and asks the backend for everything that several server processes would have
to share: which lobby codes are taken, the lobby records, and resume tokens.

A backend may hand out copies (a networked store must): a lobby read with
:meth:`StateBackend.get_lobby` and changed is stored only when saved. The
registry reads and writes through a
:class:`~signalling_server.unit_of_work.UnitOfWork`, which hands everything an
input wrote to :meth:`StateBackend.commit` once, after the input: all of it is
stored, or none (the single-step methods are for tools and tests). Every
method is synchronous and cheap, so the core stays sans-I/O. A shared store
may raise :class:`BackendUnavailable` from any method (the registry refuses
that input whole) and :class:`LobbyConflict` from ``commit`` (the registry
applies the input again on fresh copies).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..ids import LobbyId
from ..lobby import Lobby, Role
from ..protocol.errors import SignallingError


class BackendUnavailable(SignallingError):
    """The state store cannot be reached; the input that needed it is refused whole."""


class LobbyConflict(SignallingError):
    """Another node changed a lobby between this node's read and its save; apply the input again."""


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """What a resume token gives back: a place (host or guest) in one lobby."""

    lobby_id: LobbyId
    role: Role


@dataclass(frozen=True, slots=True)
class Changes:
    """Everything one unit of work writes: a backend commits it all or nothing.

    A commit is refused whole (:class:`LobbyConflict`, nothing written) when an
    added lobby's code or a claimed record's key is taken by then, or a saved or
    removed lobby changed or went since it was read.
    """

    #: Lobbies read in the unit (possibly changed): written if they changed.
    saved: Sequence[Lobby] = ()
    #: New lobbies, whose codes must still be free.
    added: Sequence[Lobby] = ()
    removed: Sequence[LobbyId] = ()
    tokens: Sequence[tuple[str, TokenGrant]] = ()
    dropped_tokens: Sequence[str] = ()
    #: New records ``(kind, key, data)``, whose keys must still be free.
    claimed_records: Sequence[tuple[str, str, bytes]] = ()
    #: Records stored ``(kind, key, data)`` or removed ``(kind, key, None)``.
    records: Sequence[tuple[str, str, bytes | None]] = ()
    #: A cluster's timers planned by the unit ``(sorted set key, deadline, entry)``:
    #: stored with it or not at all, so an input applied again plans each timer once.
    timers: Sequence[tuple[str, float, bytes]] = ()


def nodes_of(lobby: Lobby) -> list[str]:
    """The cluster nodes that hold the lobby's live members (a connection id names its node)."""
    return sorted({cid.partition(".")[0] for cid in lobby.live_members() if "." in cid})


class StateBackend(Protocol):
    """Shared lobby state. The contract tests in ``tests/signalling_server`` pin it down."""

    def commit(self, changes: Changes) -> None:
        """Write ``changes`` at once, or nothing (:class:`LobbyConflict`: apply the input again)."""
        ...

    def lobbies_held_by(self, node_id: str) -> list[LobbyId]:
        """The lobbies with a live member whose connection id names ``node_id``."""
        ...

    def add_lobby(self, lobby: Lobby) -> bool:
        """Store a new lobby; ``False`` (and nothing stored) if its code is taken."""
        ...

    def get_lobby(self, lobby_id: LobbyId) -> Lobby | None:
        """The lobby with this code (possibly a copy), or ``None``."""
        ...

    def peek_lobby(self, lobby_id: LobbyId) -> Lobby | None:
        """The lobby with this code for reading only (relays): callers never change it.

        May be shared with other readers, so it costs no copy; it is as fresh as
        :meth:`get_lobby`'s copies would be.
        """
        ...

    def save_lobby(self, lobby: Lobby) -> None:
        """Store the lobby's record as it is now; a removed lobby stays removed."""
        ...

    def remove_lobby(self, lobby_id: LobbyId) -> None:
        """Forget a lobby and free its code; unknown codes are ignored."""
        ...

    def lobby_count(self) -> int:
        """How many lobbies exist."""
        ...

    def lobbies(self) -> Iterator[Lobby]:
        """Every lobby (for shutdown and invariant checks)."""
        ...

    def put_token(self, token_id: str, grant: TokenGrant) -> None:
        """Remember what the token with this id grants."""
        ...

    def get_token(self, token_id: str) -> TokenGrant | None:
        """What the token with this id grants, or ``None``."""
        ...

    def drop_token(self, token_id: str) -> None:
        """Invalidate a token; unknown ids are ignored."""
        ...

    # Records: dialect state that is not a lobby (a Camus room, a Lambda channel), as bytes.

    def add_record(self, kind: str, key: str, data: bytes) -> bool:
        """Store a new record; ``False`` (and nothing stored) if ``kind``/``key`` exists."""
        ...

    def get_record(self, kind: str, key: str) -> bytes | None:
        """The record's bytes, or ``None``."""
        ...

    def put_record(self, kind: str, key: str, data: bytes) -> None:
        """Store the record, new or not."""
        ...

    def remove_record(self, kind: str, key: str) -> None:
        """Forget a record; unknown keys are ignored."""
        ...

    def record_keys(self, kind: str) -> list[str]:
        """The keys of every record of ``kind``."""
        ...
