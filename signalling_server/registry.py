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

import enum
import heapq
import itertools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from . import protocol as p
from .backend import MemoryBackend, StateBackend, TokenGrant
from .clock import Clock, SystemClock
from .config import Limits, Timeouts
from .errors import ErrorCode, ProtocolError
from .ice import IceConfig
from .ids import (
    ConnectionId,
    LobbyId,
    new_connection_id,
    new_lobby_code,
    new_token,
    normalise_lobby_code,
    secrets_match,
    split_token,
)
from .limits import SlidingWindow, TokenBucket
from .lobby import Connection, JoinRequest, Lobby, Member, PasswordHash, Role

E = ErrorCode


@dataclass(frozen=True, slots=True)
class CloseConnection:
    """Close this connection's socket with a websocket close code."""

    connection_id: ConnectionId
    code: int
    reason: str


Delivery = tuple[ConnectionId, bytes]
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


class _Timer(enum.Enum):
    PENDING_REQUEST = 1
    GUEST_GRACE = 2
    HOST_GRACE = 3
    ADDRESS_FORGET = 4


@dataclass(slots=True, eq=False)
class _Address:
    """What one source address has used: open lobbies, join attempts, connections."""

    joins: SlidingWindow
    connections: int = 0
    open_lobbies: int = 0


_JOIN_WINDOW_S: Final = 60.0


class LobbyRegistry:
    """Applies protocol v1 to a set of connections and lobbies."""

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
        self._addresses: dict[str, _Address] = {}
        self._timers: list[tuple[float, int, _Timer, str, str]] = []
        self._timer_seq = itertools.count()
        self._out: list[Effect] = []
        self._handlers: dict[type[p.Action], Callable[[Connection, Any, str | None], None]] = {
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

    def next_deadline(self) -> float | None:
        """Monotonic time of the next timer, or ``None``; call :meth:`expire` then."""
        return self._timers[0][0] if self._timers else None

    def expire(self) -> list[Effect]:
        """Fire every timer that is due at the clock's current time."""
        out = self._begin()
        now = self.clock.monotonic()
        while self._timers and self._timers[0][0] <= now:
            deadline, _, kind, key, sub = heapq.heappop(self._timers)
            if kind is _Timer.ADDRESS_FORGET:
                address = self._addresses.get(key)
                if address is not None:
                    self._maybe_forget_address(key, address)
                continue
            lobby = self.backend.get_lobby(LobbyId(key))
            if lobby is None:
                continue
            if kind is _Timer.PENDING_REQUEST:
                self._pending_timed_out(lobby, ConnectionId(sub), deadline)
            elif kind is _Timer.GUEST_GRACE:
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

    def _begin(self) -> list[Effect]:
        self._out = []
        return self._out

    # Actions: lobby lifecycle ---------------------------------------------------

    def _start_lobby(self, conn: Connection, action: p.StartLobby, ref: str | None) -> None:
        self._require_idle(conn)
        address = self._addresses[conn.address]
        if address.open_lobbies >= self.limits.lobbies_per_address:
            raise ProtocolError(
                E.RATE_LIMITED,
                f"at most {self.limits.lobbies_per_address} open lobbies per address",
            )
        display_name = _clean_name(action.display_name, "Host")
        password = None
        if action.password:
            password = PasswordHash.of(action.password, self.limits.password_hash_iterations)
        token, token_id, secret = new_token()
        host = Member(
            name=display_name,
            peer_id=1,
            token_id=token_id,
            token_secret=secret,
            connection_id=conn.connection_id,
            last_connection_id=conn.connection_id,
        )
        lobby_id = self._claim_code(action.lobby_id)

        def make(code: LobbyId) -> Lobby:
            return Lobby(
                lobby_id=code,
                name=_clean_name(action.name, f"Lobby {code}"),
                host=host,
                host_address=conn.address,
                max_guests=action.max_guests or self.limits.default_max_guests,
                password=password,
            )

        if lobby_id is not None:
            lobby = make(lobby_id)
            if not self.backend.add_lobby(lobby):
                raise ProtocolError(E.LOBBY_EXISTS, f"lobby code {lobby_id} is taken")
        else:
            while not self.backend.add_lobby(lobby := make(new_lobby_code())):
                pass
        self.backend.put_token(token_id, TokenGrant(lobby.lobby_id, Role.HOST))
        address.open_lobbies += 1
        conn.role, conn.lobby_id = Role.HOST, lobby.lobby_id
        self.stats.lobbies_started += 1
        content = {
            "lobby_id": lobby.lobby_id,
            "connection_id": conn.connection_id,
            "host_token": token,
            "peer_id": 1,
            "ice_servers": self._ice_servers_for(conn),
        }
        self._send(conn.connection_id, "lobby_started", content, ref)

    def _claim_code(self, requested: str | None) -> LobbyId | None:
        if requested is None:
            return None
        code = normalise_lobby_code(requested)
        if code is None:
            raise ProtocolError(
                E.INVALID_MESSAGE,
                "lobby_id must be 6 characters of 0-9 and A-Z without I, L, O, U",
            )
        return code

    def _close_lobby(self, conn: Connection, action: p.CloseLobby, ref: str | None) -> None:
        lobby = self._require_host(conn)
        self._close(lobby, "closed_by_host", ref=ref, closer=conn)

    def _set_lobby_open(self, conn: Connection, action: p.SetLobbyOpen, ref: str | None) -> None:
        lobby = self._require_host(conn)
        lobby.open = action.open
        self.backend.save_lobby(lobby)
        self._send(conn.connection_id, "lobby_info", self._lobby_info(lobby), ref)

    # Actions: joining ------------------------------------------------------------

    def _join_lobby(self, conn: Connection, action: p.JoinLobby, ref: str | None) -> None:
        self._require_idle(conn)
        if not self._addresses[conn.address].joins.take(self.clock.monotonic()):
            raise ProtocolError(
                E.RATE_LIMITED,
                f"at most {self.limits.joins_per_address_per_minute} join attempts a minute",
            )
        name = _clean_name(action.name, "Guest")
        code = normalise_lobby_code(action.lobby_id)
        lobby = self.backend.get_lobby(code) if code is not None else None
        if lobby is None:
            raise ProtocolError(E.LOBBY_NOT_FOUND, f"no lobby with code {action.lobby_id!r}")
        if lobby.host.connection_id is None:
            raise ProtocolError(E.HOST_UNAVAILABLE, "the host is reconnecting; try again soon")
        if not lobby.open:
            raise ProtocolError(E.LOBBY_LOCKED, "the host has locked this lobby")
        if lobby.password is not None and not lobby.password.matches(action.password or ""):
            raise ProtocolError(E.WRONG_PASSWORD, "wrong or missing password")
        if lobby.seats_taken >= lobby.max_guests:
            raise ProtocolError(E.LOBBY_FULL, f"the lobby is full ({lobby.max_guests} guests)")
        if len(lobby.pending) >= self.limits.pending_per_lobby:
            raise ProtocolError(E.LOBBY_FULL, "too many join requests are waiting; try later")
        now = self.clock.monotonic()
        deadline = now + self.timeouts.pending_request_timeout
        lobby.pending[conn.connection_id] = JoinRequest(conn.connection_id, name, now, deadline)
        self.backend.save_lobby(lobby)
        conn.role, conn.lobby_id = Role.PENDING, lobby.lobby_id
        self._schedule(deadline, _Timer.PENDING_REQUEST, lobby.lobby_id, conn.connection_id)
        self._to_host(lobby, "request_to_join", {"connection_id": conn.connection_id, "name": name})
        self._send(
            conn.connection_id,
            "join_requested",
            {"lobby_id": lobby.lobby_id, "name": lobby.name},
            ref,
        )

    def _cancel_join(self, conn: Connection, action: p.CancelJoin, ref: str | None) -> None:
        if conn.role is not Role.PENDING:
            raise ProtocolError(E.NOT_IN_LOBBY, "there is no join request to cancel")
        lobby = self._lobby(conn)
        del lobby.pending[conn.connection_id]
        self.backend.save_lobby(lobby)
        conn.role, conn.lobby_id = Role.IDLE, None
        self._to_host(lobby, "request_cancelled", {"connection_id": conn.connection_id})
        self._send(conn.connection_id, "join_cancelled", {"lobby_id": lobby.lobby_id}, ref)

    def _accept_request(self, conn: Connection, action: p.AcceptRequest, ref: str | None) -> None:
        lobby = self._require_host(conn)
        request = self._pending_request(lobby, action.connection_id)
        if lobby.seats_taken >= lobby.max_guests:
            raise ProtocolError(E.LOBBY_FULL, f"the lobby is full ({lobby.max_guests} guests)")
        guest_conn = self._connections[request.connection_id]
        del lobby.pending[request.connection_id]
        token, token_id, secret = new_token()
        member = Member(
            name=request.name,
            peer_id=lobby.next_peer_id,
            token_id=token_id,
            token_secret=secret,
            connection_id=request.connection_id,
            last_connection_id=request.connection_id,
        )
        lobby.next_peer_id += 1
        lobby.guests[request.connection_id] = member
        self.backend.save_lobby(lobby)
        self.backend.put_token(token_id, TokenGrant(lobby.lobby_id, Role.GUEST))
        guest_conn.role = Role.GUEST
        self.stats.joins_accepted += 1
        if self._on_join_accepted is not None:
            self._on_join_accepted(self.clock.monotonic() - request.requested_at)
        self._send(
            request.connection_id,
            "request_accepted",
            {
                "lobby_id": lobby.lobby_id,
                "host_connection_id": conn.connection_id,
                "connection_id": request.connection_id,
                "peer_id": member.peer_id,
                "guest_token": token,
                "ice_servers": self._ice_servers_for(guest_conn),
            },
        )
        self._send(
            conn.connection_id,
            "guest_accepted",
            {
                "connection_id": request.connection_id,
                "peer_id": member.peer_id,
                "name": member.name,
            },
            ref,
        )

    def _reject_join_request(
        self, conn: Connection, action: p.RejectJoinRequest, ref: str | None
    ) -> None:
        lobby = self._require_host(conn)
        request = self._pending_request(lobby, action.connection_id)
        reason = _clean_reason(action.reason, "rejected_by_host")
        self._drop_request(lobby, request.connection_id, reason)
        self._send(
            conn.connection_id, "request_removed", {"connection_id": request.connection_id}, ref
        )

    def _pending_request(self, lobby: Lobby, connection_id: str) -> JoinRequest:
        request = lobby.pending.get(ConnectionId(connection_id))
        if request is None:
            raise ProtocolError(
                E.UNKNOWN_CONNECTION, "no such join request in this lobby (cancelled or decided?)"
            )
        return request

    def _drop_request(self, lobby: Lobby, connection_id: ConnectionId, reason: str) -> None:
        """Remove a pending request and tell the joiner why (``request_rejected``)."""
        del lobby.pending[connection_id]
        self.backend.save_lobby(lobby)
        joiner = self._connections[connection_id]
        joiner.role, joiner.lobby_id = Role.IDLE, None
        self._send(
            connection_id, "request_rejected", {"lobby_id": lobby.lobby_id, "reason": reason}
        )

    # Actions: membership -----------------------------------------------------------

    def _leave_lobby(self, conn: Connection, action: p.LeaveLobby, ref: str | None) -> None:
        if conn.role is not Role.GUEST:
            raise self._wrong_role(conn, "only a guest can leave; a host closes its lobby")
        lobby = self._lobby(conn)
        member = lobby.guests.pop(conn.connection_id)
        self.backend.save_lobby(lobby)
        self.backend.drop_token(member.token_id)
        conn.role, conn.lobby_id = Role.IDLE, None
        self._to_host(lobby, "guest_left", {"connection_id": conn.connection_id, "reason": "left"})
        self._send(conn.connection_id, "left_lobby", {"lobby_id": lobby.lobby_id}, ref)

    def _kick_guest(self, conn: Connection, action: p.KickGuest, ref: str | None) -> None:
        lobby = self._require_host(conn)
        target = ConnectionId(action.connection_id)
        reason = _clean_reason(action.reason, "kicked_by_host")
        if target in lobby.guests:
            member = lobby.guests.pop(target)
            guest_conn = self._connections[target]
            guest_conn.role, guest_conn.lobby_id = Role.IDLE, None
            self._send(target, "kicked", {"lobby_id": lobby.lobby_id, "reason": reason})
        elif target in lobby.away:
            member = lobby.away.pop(target)
        elif target in lobby.pending:
            raise ProtocolError(E.NOT_ACCEPTED, "that connection is a join request; reject it")
        else:
            raise ProtocolError(E.UNKNOWN_CONNECTION, "no such guest in this lobby")
        self.backend.save_lobby(lobby)
        self.backend.drop_token(member.token_id)
        self._send(
            conn.connection_id, "guest_left", {"connection_id": target, "reason": "kicked"}, ref
        )

    # Actions: relays ------------------------------------------------------------------

    def _relay(
        self,
        conn: Connection,
        action: p.SetSessionDescription | p.SendIceCandidate | p.SendMessage,
        ref: str | None,
    ) -> None:
        role = conn.role
        if role is Role.HOST:
            lobby = self._lobby(conn)
            target = ConnectionId(action.connection_id)
            if target not in lobby.guests:
                if target == "*" and type(action) is p.SendMessage:
                    for guest in lobby.guests:
                        self._relay_to(conn, guest, action)
                    return
                if target in lobby.pending:
                    raise ProtocolError(E.NOT_ACCEPTED, "accept that join request first")
                raise ProtocolError(E.UNKNOWN_CONNECTION, "no such guest in this lobby")
        elif role is Role.GUEST:
            lobby = self._lobby(conn)
            host = lobby.host
            target = ConnectionId(action.connection_id)
            if target != host.connection_id:
                if target == host.last_connection_id:
                    raise ProtocolError(E.HOST_UNAVAILABLE, "the host is reconnecting")
                if target == "*":
                    raise ProtocolError(E.NOT_HOST, "only the host can message everyone")
                raise ProtocolError(E.UNKNOWN_CONNECTION, "a guest can signal only its host")
        elif role is Role.PENDING:
            raise ProtocolError(E.NOT_ACCEPTED, "wait until the host accepts you")
        else:
            raise ProtocolError(E.NOT_IN_LOBBY, "join or start a lobby first")
        self._relay_to(conn, target, action)

    def _relay_to(
        self,
        sender: Connection,
        target: ConnectionId,
        action: p.SetSessionDescription | p.SendIceCandidate | p.SendMessage,
    ) -> None:
        kind = type(action)
        if kind is p.SendIceCandidate:
            frame = p.encode_relay(
                "received_ice_candidate",
                sender.connection_id,
                b"candidate",
                action.candidate,  # type: ignore[union-attr]
            )
        elif kind is p.SetSessionDescription:
            frame = p.encode_relay(
                "received_session_description",
                sender.connection_id,
                b"description",
                action.description,  # type: ignore[union-attr]
            )
        else:
            frame = p.encode_relay(
                "received_message",
                sender.connection_id,
                b"data",
                action.data,  # type: ignore[union-attr]
            )
        self._out.append((target, frame))
        self.stats.relayed += 1

    # Actions: reconnection -------------------------------------------------------------

    def _resume(self, conn: Connection, action: p.Resume, ref: str | None) -> None:
        self._require_idle(conn)
        if not self._addresses[conn.address].joins.take(self.clock.monotonic()):
            raise ProtocolError(E.RATE_LIMITED, "too many join or resume attempts; wait a minute")
        parts = split_token(action.token)
        grant = self.backend.get_token(parts[0]) if parts else None
        lobby = self.backend.get_lobby(grant.lobby_id) if grant else None
        if parts is None or grant is None or lobby is None:
            raise ProtocolError(E.INVALID_TOKEN, "unknown or expired token")
        token_id, secret = parts
        member = lobby.host if grant.role is Role.HOST else lobby.guest_by_token(token_id)
        if member is None or member.token_id != token_id:
            raise ProtocolError(E.INVALID_TOKEN, "unknown or expired token")
        if not secrets_match(secret, member.token_secret):
            raise ProtocolError(E.INVALID_TOKEN, "unknown or expired token")
        old = member.last_connection_id
        if member.connection_id is not None:
            # The old socket still looks alive (half-open after a network change):
            # the token holder takes the place over and the old socket is closed.
            stale = self._connections[member.connection_id]
            stale.role, stale.lobby_id = Role.IDLE, None
            self._out.append(
                CloseConnection(stale.connection_id, CLOSE_RESUMED_ELSEWHERE, "resumed elsewhere")
            )
        member.connection_id = member.last_connection_id = conn.connection_id
        member.away_deadline = None
        conn.lobby_id = lobby.lobby_id
        resumed = {
            "lobby_id": lobby.lobby_id,
            "connection_id": conn.connection_id,
            "peer_id": member.peer_id,
        }
        if grant.role is Role.HOST:
            conn.role = Role.HOST
            self._send(conn.connection_id, "resumed", {"role": "host", **resumed}, ref)
            for frame in lobby.host_backlog:
                self._out.append((conn.connection_id, frame))
            lobby.host_backlog.clear()
            notice = {"old_connection_id": old, "connection_id": conn.connection_id}
            for guest in lobby.guests:
                self._send(guest, "host_resumed", notice)
        else:
            conn.role = Role.GUEST
            lobby.guests.pop(old, None)
            lobby.away.pop(old, None)
            lobby.guests[conn.connection_id] = member
            self._send(conn.connection_id, "resumed", {"role": "guest", **resumed}, ref)
            if lobby.host.connection_id is None:
                self._send(conn.connection_id, "host_disconnected", self._host_away_notice(lobby))
            self._to_host(
                lobby,
                "guest_resumed",
                {"old_connection_id": old, "connection_id": conn.connection_id},
            )
        self.backend.save_lobby(lobby)

    # Actions: queries -------------------------------------------------------------------

    def _get_lobby_info(self, conn: Connection, action: p.GetLobbyInfo, ref: str | None) -> None:
        if conn.role is Role.IDLE:
            raise ProtocolError(E.NOT_IN_LOBBY, "join or start a lobby first")
        if conn.role is Role.PENDING:
            raise ProtocolError(E.NOT_ACCEPTED, "wait until the host accepts you")
        self._send(conn.connection_id, "lobby_info", self._lobby_info(self._lobby(conn)), ref)

    def _get_ice_servers(self, conn: Connection, action: p.GetIceServers, ref: str | None) -> None:
        self._send(
            conn.connection_id, "ice_servers", {"ice_servers": self._ice_servers_for(conn)}, ref
        )

    def _ping(self, conn: Connection, action: p.Ping, ref: str | None) -> None:
        self._out.append((conn.connection_id, p.encode_pong(action.t, ref)))

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

    # Disconnects and timers ---------------------------------------------------------------

    def _guest_went_away(self, lobby: Lobby, connection_id: ConnectionId) -> None:
        member = lobby.guests.pop(connection_id)
        member.connection_id = None
        member.away_deadline = self.clock.monotonic() + self.timeouts.guest_grace
        lobby.away[connection_id] = member
        self._schedule(member.away_deadline, _Timer.GUEST_GRACE, lobby.lobby_id, connection_id)
        self._to_host(
            lobby, "guest_left", {"connection_id": connection_id, "reason": "disconnected"}
        )

    def _host_went_away(self, lobby: Lobby) -> None:
        host = lobby.host
        host.connection_id = None
        host.away_deadline = self.clock.monotonic() + self.timeouts.host_grace
        self._schedule(host.away_deadline, _Timer.HOST_GRACE, lobby.lobby_id, "")
        for joiner in list(lobby.pending):
            self._drop_request(lobby, joiner, "host_left")
        notice = self._host_away_notice(lobby)
        for guest in lobby.guests:
            self._send(guest, "host_disconnected", notice)

    def _host_away_notice(self, lobby: Lobby) -> dict[str, Any]:
        deadline = lobby.host.away_deadline or self.clock.monotonic()
        grace = max(0.0, deadline - self.clock.monotonic())
        return {"lobby_id": lobby.lobby_id, "grace_s": round(grace, 3)}

    def _pending_timed_out(self, lobby: Lobby, joiner: ConnectionId, deadline: float) -> None:
        request = lobby.pending.get(joiner)
        if request is None or request.deadline != deadline:
            return
        self._drop_request(lobby, joiner, "timeout")
        self._to_host(lobby, "request_removed", {"connection_id": joiner})

    def _guest_grace_over(self, lobby: Lobby, old: ConnectionId, deadline: float) -> None:
        member = lobby.away.get(old)
        if member is None or member.away_deadline != deadline:
            return
        del lobby.away[old]
        self.backend.save_lobby(lobby)
        self.backend.drop_token(member.token_id)

    def _host_grace_over(self, lobby: Lobby, deadline: float) -> None:
        if lobby.host.connection_id is not None or lobby.host.away_deadline != deadline:
            return
        self._close(lobby, "host_left", ref=None, closer=None)

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

    def _schedule(self, when: float, kind: _Timer, key: str, sub: str) -> None:
        heapq.heappush(self._timers, (when, next(self._timer_seq), kind, key, sub))

    # Helpers --------------------------------------------------------------------------------

    def _address(self, address: str) -> _Address:
        state = self._addresses.get(address)
        if state is None:
            window = SlidingWindow(self.limits.joins_per_address_per_minute, _JOIN_WINDOW_S)
            state = self._addresses[address] = _Address(window)
        return state

    def _maybe_forget_address(self, key: str, address: _Address) -> None:
        # Join attempts are remembered past a disconnect: reconnecting must not
        # reset the budget that stops code guessing.
        if address.connections or address.open_lobbies:
            return
        if address.joins.idle(self.clock.monotonic()):
            del self._addresses[key]
        else:
            self._schedule(self.clock.monotonic() + _JOIN_WINDOW_S, _Timer.ADDRESS_FORGET, key, "")

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


def _clean_name(value: str | None, default: str) -> str:
    if value is None:
        return default
    return p.clean_text(value, field="name", max_length=p.MAX_NAME_LENGTH)


def _clean_reason(value: str | None, default: str) -> str:
    if value is None:
        return default
    return p.clean_text(value, field="reason", max_length=p.MAX_REASON_LENGTH)
