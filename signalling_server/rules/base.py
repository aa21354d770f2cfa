"""State and helpers shared by every group of rules.

:class:`RegistryBase` owns the registry's state (connections, per-address
usage, timers, the backend) and the helpers every rule uses to read it and to
queue effects. The rules themselves live beside it, one module per part of
protocol v1, and :class:`~signalling_server.registry.LobbyRegistry` puts them
together.
"""

from __future__ import annotations

import enum
import heapq
import itertools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from .. import protocol as p
from ..backend import MemoryBackend, StateBackend
from ..clock import Clock, SystemClock
from ..config import Limits, Timeouts
from ..errors import ErrorCode, ProtocolError
from ..ice import IceConfig
from ..ids import (
    ConnectionId,
)
from ..limits import SlidingWindow
from ..lobby import Connection, Lobby, Role

E = ErrorCode


@dataclass(frozen=True, slots=True)
class CloseConnection:
    """Close this connection's socket with a websocket close code."""

    connection_id: ConnectionId
    code: int
    reason: str


Delivery = tuple[ConnectionId, bytes]
ActionHandler = Callable[[Connection, Any, str | None], None]
Effect = Delivery | CloseConnection

#: Close code for a socket whose place was taken over by ``resume``.
CLOSE_RESUMED_ELSEWHERE: Final = 4000
#: Close code for a server shutting down ("going away").
CLOSE_GOING_AWAY: Final = 1001


@dataclass(slots=True)
class RegistryStats:
    """Live counters, read by /metrics and the embedding API."""

    relayed: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    lobbies_started: int = 0
    joins_accepted: int = 0


class TimerKind(enum.Enum):
    PENDING_REQUEST = 1
    GUEST_GRACE = 2
    HOST_GRACE = 3
    ADDRESS_FORGET = 4


@dataclass(slots=True, eq=False)
class AddressUsage:
    """What one source address has used: open lobbies, join attempts, connections."""

    joins: SlidingWindow
    connections: int = 0
    open_lobbies: int = 0


JOIN_WINDOW_S: Final = 60.0


class RegistryBase:
    """The registry's state, and the helpers rules use to read it and queue effects."""

    def __init__(
        self,
        *,
        limits: Limits | None = None,
        timeouts: Timeouts | None = None,
        ice: IceConfig | None = None,
        clock: Clock | None = None,
        backend: StateBackend | None = None,
        on_join_accepted: Callable[[float], None] | None = None,
    ) -> None:
        self.limits = limits or Limits()
        self.timeouts = timeouts or Timeouts()
        self.ice = ice or IceConfig()
        self.clock: Clock = clock or SystemClock()
        self.backend: StateBackend = backend or MemoryBackend()
        self.stats = RegistryStats()
        self._on_join_accepted = on_join_accepted
        self._connections: dict[ConnectionId, Connection] = {}
        self._addresses: dict[str, AddressUsage] = {}
        self._timers: list[tuple[float, int, TimerKind, str, str]] = []
        self._timer_seq = itertools.count()
        self._out: list[Effect] = []
        self._handlers = self._make_handlers()

    def _make_handlers(self) -> dict[type[p.Action], ActionHandler]:
        """Which method applies each action; the registry that composes the rules says."""
        return {}

    def _begin(self) -> list[Effect]:
        self._out = []
        return self._out

    def _schedule(self, when: float, kind: TimerKind, key: str, sub: str) -> None:
        heapq.heappush(self._timers, (when, next(self._timer_seq), kind, key, sub))

    # Helpers --------------------------------------------------------------------------------

    def _address(self, address: str) -> AddressUsage:
        state = self._addresses.get(address)
        if state is None:
            window = SlidingWindow(self.limits.joins_per_address_per_minute, JOIN_WINDOW_S)
            state = self._addresses[address] = AddressUsage(window)
        return state

    def _maybe_forget_address(self, key: str, address: AddressUsage) -> None:
        # Join attempts are remembered past a disconnect: reconnecting must not
        # reset the budget that stops code guessing.
        if address.connections or address.open_lobbies:
            return
        if address.joins.idle(self.clock.monotonic()):
            del self._addresses[key]
        else:
            forget_at = self.clock.monotonic() + JOIN_WINDOW_S
            self._schedule(forget_at, TimerKind.ADDRESS_FORGET, key, "")

    def _lobby_of(self, conn: Connection) -> Lobby | None:
        return self.backend.get_lobby(conn.lobby_id) if conn.lobby_id is not None else None

    def _lobby(self, conn: Connection) -> Lobby:
        lobby = self._lobby_of(conn)
        assert lobby is not None, "a connection in a lobby always has its lobby"
        return lobby

    def _require_idle(self, conn: Connection) -> None:
        if conn.role is not Role.IDLE:
            raise ProtocolError(E.ALREADY_IN_LOBBY, f"this connection is already {conn.role.value}")

    def _require_host(self, conn: Connection) -> Lobby:
        if conn.role is not Role.HOST:
            raise self._wrong_role(conn, "only the lobby's host can do that")
        return self._lobby(conn)

    def _wrong_role(self, conn: Connection, message: str) -> ProtocolError:
        if conn.role is Role.IDLE:
            return ProtocolError(E.NOT_IN_LOBBY, "this connection is not in a lobby")
        if conn.role is Role.PENDING:
            return ProtocolError(E.NOT_ACCEPTED, "wait until the host accepts you")
        return ProtocolError(E.NOT_HOST, message)

    def _send(
        self, target: ConnectionId, event: str, content: dict[str, Any], ref: str | None = None
    ) -> None:
        self._out.append((target, p.encode_event(event, content, ref)))

    def _to_host(self, lobby: Lobby, event: str, content: dict[str, Any]) -> None:
        """Tell the host; while it is away, keep the notice for its resume."""
        host = lobby.host.connection_id
        if host is not None:
            self._send(host, event, content)
        elif len(lobby.host_backlog) < 4 * (lobby.max_guests + self.limits.pending_per_lobby):
            lobby.host_backlog.append(p.encode_event(event, content))

    def _error(
        self,
        conn: Connection,
        code: ErrorCode,
        message: str,
        action: str | None,
        ref: str | None,
    ) -> None:
        self.stats.errors[code.value] += 1
        self._out.append((conn.connection_id, p.encode_error(code, message, action, ref)))

    # Shared by several groups of rules --------------------------------------------------

    def _drop_request(self, lobby: Lobby, connection_id: ConnectionId, reason: str) -> None:
        """Remove a pending request and tell the joiner why (``request_rejected``)."""
        del lobby.pending[connection_id]
        self.backend.save_lobby(lobby)
        joiner = self._connections[connection_id]
        joiner.role, joiner.lobby_id = Role.IDLE, None
        self._send(
            connection_id, "request_rejected", {"lobby_id": lobby.lobby_id, "reason": reason}
        )

    def _lobby_info(self, lobby: Lobby) -> dict[str, Any]:
        host = lobby.host
        return {
            "lobby_id": lobby.lobby_id,
            "name": lobby.name,
            "open": lobby.open,
            "max_guests": lobby.max_guests,
            "has_password": lobby.password is not None,
            "host": {
                "connection_id": host.last_connection_id,
                "name": host.name,
                "peer_id": host.peer_id,
            },
            "guests": [
                {"connection_id": cid, "name": member.name, "peer_id": member.peer_id}
                for cid, member in lobby.guests.items()
            ],
        }

    def _ice_servers_for(self, conn: Connection) -> list[dict[str, Any]]:
        return self.ice.servers_for(conn.connection_id, self.clock.wall())

    def _host_away_notice(self, lobby: Lobby) -> dict[str, Any]:
        deadline = lobby.host.away_deadline or self.clock.monotonic()
        grace = max(0.0, deadline - self.clock.monotonic())
        return {"lobby_id": lobby.lobby_id, "grace_s": round(grace, 3)}

    def _close(
        self, lobby: Lobby, reason: str, *, ref: str | None, closer: Connection | None
    ) -> None:
        """End a lobby: everyone in it (and waiting on it) gets ``lobby_closed``."""
        notice = {"lobby_id": lobby.lobby_id, "reason": reason}
        members = [*lobby.pending, *lobby.guests]
        if lobby.host.connection_id is not None:
            members.append(lobby.host.connection_id)
        for connection_id in members:
            conn = self._connections[connection_id]
            conn.role, conn.lobby_id = Role.IDLE, None
            self._send(connection_id, "lobby_closed", notice, ref if conn is closer else None)
        for member in (lobby.host, *lobby.guests.values(), *lobby.away.values()):
            self.backend.drop_token(member.token_id)
        self.backend.remove_lobby(lobby.lobby_id)
        address = self._addresses.get(lobby.host_address)
        if address is not None:
            address.open_lobbies -= 1
            self._maybe_forget_address(lobby.host_address, address)


def clean_name(value: str | None, default: str) -> str:
    if value is None:
        return default
    return p.clean_text(value, field="name", max_length=p.MAX_NAME_LENGTH)


def clean_reason(value: str | None, default: str) -> str:
    if value is None:
        return default
    return p.clean_text(value, field="reason", max_length=p.MAX_REASON_LENGTH)
