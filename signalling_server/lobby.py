"""The domain state: lobbies, members and join requests, and each connection's local state.

Lobby records are msgspec structs so that any backend can store them: the
memory backend keeps them as they are (or, with ``copies=True``, as encoded
records, as a networked store must), and :mod:`.backend.records` turns them
into bytes and back. A connection's role is never stored: it is read from the
lobby record (:meth:`Lobby.role_of`).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import msgspec

from .codecs import Codec
from .ids import ConnectionId, LobbyId
from .limits import TokenBucket
from .protocol.events import HostNotice


class Role(enum.Enum):
    """Where a connection stands; a connection is in at most one lobby."""

    IDLE = "idle"
    HOST = "host"
    PENDING = "pending"
    GUEST = "guest"


@dataclass(slots=True, eq=False)
class Connection:
    """One client connection as this process sees it (the socket lives here)."""

    connection_id: ConnectionId
    address: str
    bucket: TokenBucket
    codec: Codec
    #: Which policy lobbies started on this connection follow.
    policy: str
    #: The lobby this connection was last placed in; its record says whether it still is.
    lobby_id: LobbyId | None = None
    #: Frames it may still send over its rate limit before it is closed (made at the first).
    strikes: TokenBucket | None = None
    #: Closed for sending far over its rate limit: what it still sends is ignored.
    closing: bool = False


class Member(msgspec.Struct):
    """The host or an accepted guest; survives its connection during a grace period."""

    name: str
    peer_id: int
    token_id: str
    token_secret: str
    #: The live connection, or ``None`` while away (in its grace period).
    connection_id: ConnectionId | None
    #: The connection it had last; how peers still know it while it is away.
    last_connection_id: ConnectionId
    #: Monotonic time at which an away member's place is given up.
    away_deadline: float | None = None
    #: The source address the member joined from.
    address: str = ""

    def __repr__(self) -> str:  # the secret never reaches a log
        return f"Member(name={self.name!r}, peer_id={self.peer_id}, conn={self.connection_id})"


class JoinRequest(msgspec.Struct):
    """A join request waiting for the host's decision."""

    connection_id: ConnectionId
    name: str
    requested_at: float
    deadline: float
    #: The peer id the joiner asked for, where the lobby's policy lets it choose.
    peer_id: int | None = None
    #: The joiner's source address (a host's "kick and block" keeps it out).
    address: str = ""


class PasswordHash(msgspec.Struct, frozen=True):
    """A lobby password, kept only as a salted PBKDF2 hash."""

    salt: bytes
    digest: bytes
    iterations: int

    @classmethod
    def of(cls, password: str, iterations: int) -> PasswordHash:
        salt = secrets.token_bytes(16)
        return cls(salt, _pbkdf2(password, salt, iterations), iterations)

    def matches(self, password: str) -> bool:
        """Constant-time check of a presented password."""
        return hmac.compare_digest(_pbkdf2(password, self.salt, self.iterations), self.digest)


def _pbkdf2(password: str, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)


class SnapshotMeta(msgspec.Struct, frozen=True):
    """A kept snapshot, as the lobby record lists it (its data is a record of its own)."""

    seq: int
    size: int
    #: Unix time of the save.
    saved_at: float


#: The kind of the backend records that hold snapshot data (key: :func:`snapshot_key`).
SNAPSHOT_RECORD = "snapshot"


def snapshot_key(lobby_id: LobbyId, seq: int) -> str:
    """The record key of one lobby's snapshot."""
    return f"{lobby_id}/{seq}"


class Lobby(msgspec.Struct):
    """One lobby: its host, guests (live and away), pending requests and settings."""

    lobby_id: LobbyId
    name: str
    host: Member
    host_address: str
    max_guests: int
    password: PasswordHash | None
    #: The name of the :class:`~signalling_server.policy.LobbyPolicy` it follows.
    policy: str = "native"
    open: bool = True
    guests: dict[ConnectionId, Member] = msgspec.field(default_factory=dict)
    #: Guests in their grace period, by the connection id they had.
    away: dict[ConnectionId, Member] = msgspec.field(default_factory=dict)
    pending: dict[ConnectionId, JoinRequest] = msgspec.field(default_factory=dict)
    next_peer_id: int = 2
    #: Notices for the host that arrived while it was away, replayed on resume.
    host_backlog: list[HostNotice] = msgspec.field(default_factory=list)
    #: Budget keys (an IPv4 address, an IPv6 /64) the host kicked and blocked: joins refused.
    blocked_addresses: list[str] = msgspec.field(default_factory=list)
    #: A guest takes over when the host leaves (``start_lobby{migratable}``).
    migratable: bool = False
    #: Snapshots kept, oldest first; their data lives in ``SNAPSHOT_RECORD`` records,
    #: so the record read for every relay stays small.
    snapshots: list[SnapshotMeta] = msgspec.field(default_factory=list)
    #: A migratable lobby nobody is connected to, kept for its retention time:
    #: the first member to resume becomes its host.
    orphaned: bool = False

    @property
    def seats_taken(self) -> int:
        """Accepted guests, counting those in their grace period."""
        return len(self.guests) + len(self.away)

    def role_of(self, connection_id: ConnectionId) -> Role:
        """What ``connection_id`` is in this lobby (``IDLE``: not in it)."""
        if self.host.connection_id == connection_id:
            return Role.HOST
        if connection_id in self.guests:
            return Role.GUEST
        if connection_id in self.pending:
            return Role.PENDING
        return Role.IDLE

    def guest_by_token(self, token_id: str) -> Member | None:
        for member in (*self.guests.values(), *self.away.values()):
            if member.token_id == token_id:
                return member
        return None

    def peer_id_taken(self, peer_id: int) -> bool:
        members = (self.host, *self.guests.values(), *self.away.values())
        return any(member.peer_id == peer_id for member in members) or any(
            request.peer_id == peer_id for request in self.pending.values()
        )

    def live_members(self) -> list[ConnectionId]:
        """Every connection in the lobby now: host (when present), guests, pending joiners."""
        members = [*self.pending, *self.guests]
        if self.host.connection_id is not None:
            members.append(self.host.connection_id)
        return members
