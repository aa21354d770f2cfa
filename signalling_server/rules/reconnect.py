"""Rules for drops and returns: grace periods and resume with a token."""

from __future__ import annotations

import functools

from ..effects import CLOSE_RESUMED_ELSEWHERE, CloseConnection
from ..ids import ConnectionId, secrets_match, split_token
from ..lobby import Connection, Lobby, Role
from ..protocol import actions as a
from ..protocol import events as ev
from ..protocol.codes import CloseReason, ErrorCode, LeaveReason, MemberRole, RejectReason
from ..protocol.errors import ProtocolError
from .base import RegistryBase, TimerKind

E = ErrorCode


class ReconnectRules(RegistryBase):
    """resume, and what happens when a host or guest drops and when its grace runs out."""

    def _resume(self, conn: Connection, action: a.Resume, ref: str | None) -> None:
        self._require_idle(conn)
        if not self.take_join_attempt(conn.address):
            raise ProtocolError(E.RATE_LIMITED, "too many join or resume attempts; wait a minute")
        parts = split_token(action.token)
        grant = self._tx.get_token(parts[0]) if parts else None
        lobby = self._tx.lobby(grant.lobby_id) if grant else None
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
            self._out.append(
                CloseConnection(member.connection_id, CLOSE_RESUMED_ELSEWHERE, "resumed elsewhere")
            )
        member.connection_id = member.last_connection_id = conn.connection_id
        member.away_deadline = None
        member.address = conn.address
        conn.lobby_id = lobby.lobby_id
        if grant.role is Role.HOST:
            self._tx.after_commit(functools.partial(self._hosted.add, lobby.lobby_id))
            self._send(
                conn.connection_id,
                ev.Resumed(MemberRole.HOST, lobby.lobby_id, conn.connection_id, member.peer_id),
                ref,
            )
            for notice in lobby.host_backlog:
                self._send(conn.connection_id, notice)
            lobby.host_backlog.clear()
            if self._policy(lobby).host_away_notices:
                resumed = ev.HostResumed(old, conn.connection_id)
                for guest in lobby.guests:
                    self._send(guest, resumed)
        else:
            lobby.guests.pop(old, None)
            lobby.away.pop(old, None)
            lobby.guests[conn.connection_id] = member
            # A migratable lobby may have a new host since: the guest is told which.
            host_id = lobby.host.last_connection_id if lobby.migratable else None
            self._send(
                conn.connection_id,
                ev.Resumed(
                    MemberRole.GUEST, lobby.lobby_id, conn.connection_id, member.peer_id, host_id
                ),
                ref,
            )
            host_away = lobby.host.connection_id is None and not lobby.orphaned
            if host_away and self._policy(lobby).host_away_notices:
                self._send(conn.connection_id, self._host_away_notice(lobby))
            self._to_host(lobby, ev.GuestResumed(old, conn.connection_id))

    def _guest_went_away(self, lobby: Lobby, connection_id: ConnectionId) -> None:
        member = lobby.guests.pop(connection_id)
        if not self._policy(lobby).resume:
            self._tx.drop_token(member.token_id)
            self._to_host(lobby, ev.GuestLeft(connection_id, LeaveReason.DISCONNECTED))
            return
        member.connection_id = None
        member.away_deadline = self.clock.monotonic() + self.timeouts.guest_grace
        lobby.away[connection_id] = member
        self._schedule(member.away_deadline, TimerKind.GUEST_GRACE, lobby.lobby_id, connection_id)
        self._to_host(lobby, ev.GuestLeft(connection_id, LeaveReason.DISCONNECTED))

    def _host_went_away(self, lobby: Lobby) -> None:
        if not self._policy(lobby).resume:
            lobby.host.connection_id = None
            self._close(lobby, CloseReason.HOST_LEFT, ref=None, closer=None)
            return
        host = lobby.host
        host.connection_id = None
        host.away_deadline = self.clock.monotonic() + self.timeouts.host_grace
        self._schedule(host.away_deadline, TimerKind.HOST_GRACE, lobby.lobby_id, "")
        for joiner in list(lobby.pending):
            self._drop_request(lobby, joiner, RejectReason.HOST_LEFT)
            # Kept for the host's resume, so its list of requests stays right.
            self._to_host(lobby, ev.RequestRemoved(joiner, RejectReason.HOST_LEFT))
        if self._policy(lobby).host_away_notices:
            notice = self._host_away_notice(lobby)
            for guest in lobby.guests:
                self._send(guest, notice)

    def _guest_grace_over(self, lobby: Lobby, old: ConnectionId, deadline: float) -> None:
        member = lobby.away.get(old)
        if member is None or member.away_deadline != deadline:
            return
        del lobby.away[old]
        self._tx.drop_token(member.token_id)
        self._to_host(lobby, ev.GuestLeft(old, LeaveReason.LOST))

    def _host_grace_over(self, lobby: Lobby, deadline: float) -> None:
        if lobby.host.connection_id is not None or lobby.host.away_deadline != deadline:
            return
        self._close(lobby, CloseReason.HOST_LEFT, ref=None, closer=None)
