"""The lobby registry: protocol v1's rules, sans I/O.

Feed it what happens to connections (:meth:`LobbyRegistry.connect`,
:meth:`~LobbyRegistry.handle`, :meth:`~LobbyRegistry.disconnect`,
:meth:`~LobbyRegistry.expire`); each call returns the effects to carry out:
``(connection_id, frame)`` pairs to send, in order, and
:class:`CloseConnection` orders. It never touches a socket or reads a clock of
its own, so every rule, timers included, is tested by feeding actions and
reading effects.
"""

from __future__ import annotations

import heapq

from . import protocol as p
from .errors import ErrorCode, ProtocolError
from .ids import ConnectionId, LobbyId, new_connection_id
from .limits import TokenBucket
from .lobby import Connection, Role
from .rules.base import (
    CLOSE_GOING_AWAY,
    CLOSE_RESUMED_ELSEWHERE,
    ActionHandler,
    CloseConnection,
    Delivery,
    Effect,
    RegistryBase,
    RegistryStats,
    TimerKind,
)
from .rules.joining import JoinRules
from .rules.lobbies import LobbyRules
from .rules.reconnect import ReconnectRules
from .rules.relay import RelayRules

E = ErrorCode

__all__ = [
    "CLOSE_GOING_AWAY",
    "CLOSE_RESUMED_ELSEWHERE",
    "CloseConnection",
    "Delivery",
    "Effect",
    "LobbyRegistry",
    "RegistryStats",
]


class LobbyRegistry(LobbyRules, JoinRules, RelayRules, ReconnectRules, RegistryBase):
    """Applies protocol v1 to a set of connections and lobbies."""

    def _make_handlers(self) -> dict[type[p.Action], ActionHandler]:
        return {
            p.StartLobby: self._start_lobby,
            p.CloseLobby: self._close_lobby,
            p.SetLobbyOpen: self._set_lobby_open,
            p.JoinLobby: self._join_lobby,
            p.CancelJoin: self._cancel_join,
            p.AcceptRequest: self._accept_request,
            p.RejectJoinRequest: self._reject_join_request,
            p.SetSessionDescription: self._relay,
            p.SendIceCandidate: self._relay,
            p.SendMessage: self._relay,
            p.LeaveLobby: self._leave_lobby,
            p.KickGuest: self._kick_guest,
            p.Resume: self._resume,
            p.GetLobbyInfo: self._get_lobby_info,
            p.GetIceServers: self._get_ice_servers,
            p.Ping: self._ping,
        }

    # Inputs -----------------------------------------------------------------

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    def connection(self, connection_id: ConnectionId) -> Connection | None:
        """The core's view of a connection (role, lobby), or ``None``."""
        return self._connections.get(connection_id)

    def connect(self, address: str) -> ConnectionId:
        """Register a new connection from ``address``; returns its fresh id."""
        connection_id = new_connection_id()
        now = self.clock.monotonic()
        bucket = TokenBucket(self.limits.actions_per_second, self.limits.action_burst, now)
        self._connections[connection_id] = Connection(connection_id, address, bucket)
        self._address(address).connections += 1
        return connection_id

    def handle(self, connection_id: ConnectionId, frame: str | bytes) -> list[Effect]:
        """Apply one frame from a connection; ``bytes`` stands for a binary frame."""
        conn = self._connections[connection_id]
        out = self._begin()
        if not conn.bucket.take(self.clock.monotonic()):
            self._error(conn, E.RATE_LIMITED, "too many actions; slow down", None, None)
            return out
        if isinstance(frame, bytes):
            self._error(conn, E.INVALID_MESSAGE, "binary frames are not supported", None, None)
            return out
        limit = self.limits.max_frame_bytes
        if len(frame) * 4 > limit and len(frame.encode()) > limit:
            self._error(
                conn, E.MESSAGE_TOO_LARGE, f"frames are limited to {limit} bytes", None, None
            )
            return out
        try:
            parsed = p.parse_frame(frame)
        except p.FrameError as exc:
            self._error(conn, exc.code, exc.message, exc.action, exc.ref)
            return out
        try:
            self._handlers[type(parsed.content)](conn, parsed.content, parsed.ref)
        except ProtocolError as exc:
            self._error(conn, exc.code, exc.message, parsed.name, parsed.ref)
        return out

    def disconnect(self, connection_id: ConnectionId) -> list[Effect]:
        """The connection's socket is gone; tell whoever must know."""
        out = self._begin()
        conn = self._connections.pop(connection_id, None)
        if conn is None:
            return out
        lobby = self._lobby_of(conn)
        if lobby is not None:
            if conn.role is Role.PENDING:
                del lobby.pending[connection_id]
                self._to_host(lobby, "request_cancelled", {"connection_id": connection_id})
            elif conn.role is Role.GUEST:
                self._guest_went_away(lobby, connection_id)
            elif conn.role is Role.HOST:
                self._host_went_away(lobby)
            self.backend.save_lobby(lobby)
        address = self._addresses[conn.address]
        address.connections -= 1
        self._maybe_forget_address(conn.address, address)
        return out

    def undeliverable_error(self) -> bytes:
        """The error for a sender whose frame found its recipient's socket already closing."""
        self.stats.errors[ErrorCode.UNKNOWN_CONNECTION.value] += 1
        return p.encode_error(
            ErrorCode.UNKNOWN_CONNECTION,
            "the recipient disconnected before this could be delivered",
            None,
        )

    def next_deadline(self) -> float | None:
        """Monotonic time of the next timer, or ``None``; call :meth:`expire` then."""
        return self._timers[0][0] if self._timers else None

    def expire(self) -> list[Effect]:
        """Fire every timer that is due at the clock's current time."""
        out = self._begin()
        now = self.clock.monotonic()
        while self._timers and self._timers[0][0] <= now:
            deadline, _, kind, key, sub = heapq.heappop(self._timers)
            if kind is TimerKind.ADDRESS_FORGET:
                address = self._addresses.get(key)
                if address is not None:
                    self._maybe_forget_address(key, address)
                continue
            lobby = self.backend.get_lobby(LobbyId(key))
            if lobby is None:
                continue
            if kind is TimerKind.PENDING_REQUEST:
                self._pending_timed_out(lobby, ConnectionId(sub), deadline)
            elif kind is TimerKind.GUEST_GRACE:
                self._guest_grace_over(lobby, ConnectionId(sub), deadline)
            else:
                self._host_grace_over(lobby, deadline)
        return out

    def shutdown(self) -> list[Effect]:
        """Close every lobby with ``server_shutdown`` and close every connection with 1001."""
        out = self._begin()
        for lobby in self.backend.lobbies():
            self._close(lobby, "server_shutdown", ref=None, closer=None)
        for connection_id in self._connections:
            out.append(CloseConnection(connection_id, CLOSE_GOING_AWAY, "server shutting down"))
        return out
