"""The domain state: connections, lobbies, members and join requests."""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

from .ids import ConnectionId, LobbyId
from .limits import TokenBucket


class Role(enum.Enum):
    """Where a connection stands; a connection is in at most one lobby."""

    IDLE = "idle"
    HOST = "host"
    PENDING = "pending"
    GUEST = "guest"


@dataclass(slots=True, eq=False)
class Connection:
    """One websocket connection as the core sees it."""

    connection_id: ConnectionId
    address: str
    bucket: TokenBucket
    role: Role = Role.IDLE
    lobby_id: LobbyId | None = None


@dataclass(slots=True, eq=False)
class Member:
    """The host or an accepted guest; survives its connection during a grace period."""

    name: str
    peer_id: int
    token_id: str
    token_secret: str = field(repr=False)
    #: The live connection, or ``None`` while away (in its grace period).
    connection_id: ConnectionId | None
    #: The connection it had last; how peers still know it while it is away.
    last_connection_id: ConnectionId
    #: Monotonic time at which an away member's place is given up.
    away_deadline: float | None = None


@dataclass(slots=True, eq=False)
class JoinRequest:
    """A join request waiting for the host's decision."""

    connection_id: ConnectionId
    name: str
    requested_at: float
    deadline: float


@dataclass(frozen=True, slots=True)
class PasswordHash:
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


@dataclass(slots=True, eq=False)
class Lobby:
    """One lobby: its host, guests (live and away), pending requests and settings."""

    lobby_id: LobbyId
    name: str
    host: Member
    host_address: str
    max_guests: int
    password: PasswordHash | None
    open: bool = True
    guests: dict[ConnectionId, Member] = field(default_factory=dict)
    #: Guests in their grace period, by the connection id they had.
    away: dict[ConnectionId, Member] = field(default_factory=dict)
    pending: dict[ConnectionId, JoinRequest] = field(default_factory=dict)
    next_peer_id: int = 2
    #: Notices for the host that arrived while it was away, replayed on resume.
    host_backlog: list[bytes] = field(default_factory=list)

    @property
    def seats_taken(self) -> int:
        """Accepted guests, counting those in their grace period."""
        return len(self.guests) + len(self.away)

    def guest_by_token(self, token_id: str) -> Member | None:
        for member in (*self.guests.values(), *self.away.values()):
            if member.token_id == token_id:
                return member
        return None
