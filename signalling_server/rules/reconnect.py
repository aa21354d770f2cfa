"""Rules for drops and returns: grace periods and resume with a token."""

from __future__ import annotations

from .. import protocol as p
from ..errors import ErrorCode, ProtocolError
from ..ids import ConnectionId, secrets_match, split_token
from ..lobby import Connection, Lobby, Role
from .base import CLOSE_RESUMED_ELSEWHERE, CloseConnection, RegistryBase, TimerKind

E = ErrorCode


class ReconnectRules(RegistryBase):
    """resume, and what happens when a host or guest drops and when its grace runs out."""

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

    def _guest_went_away(self, lobby: Lobby, connection_id: ConnectionId) -> None:
        member = lobby.guests.pop(connection_id)
        member.connection_id = None
        member.away_deadline = self.clock.monotonic() + self.timeouts.guest_grace
        lobby.away[connection_id] = member
        self._schedule(member.away_deadline, TimerKind.GUEST_GRACE, lobby.lobby_id, connection_id)
        self._to_host(
            lobby, "guest_left", {"connection_id": connection_id, "reason": "disconnected"}
        )

    def _host_went_away(self, lobby: Lobby) -> None:
        host = lobby.host
        host.connection_id = None
        host.away_deadline = self.clock.monotonic() + self.timeouts.host_grace
        self._schedule(host.away_deadline, TimerKind.HOST_GRACE, lobby.lobby_id, "")
        for joiner in list(lobby.pending):
            self._drop_request(lobby, joiner, "host_left")
            # Kept for the host's resume, so its list of requests stays right.
            self._to_host(lobby, "request_removed", {"connection_id": joiner})
        notice = self._host_away_notice(lobby)
        for guest in lobby.guests:
            self._send(guest, "host_disconnected", notice)

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
