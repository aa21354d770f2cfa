"""Rules for getting in and out: join requests, the host's decisions, leaving, kicks."""

from __future__ import annotations

from .. import protocol as p
from ..backend import TokenGrant
from ..errors import ErrorCode, ProtocolError
from ..ids import ConnectionId, new_token, normalise_lobby_code
from ..lobby import Connection, JoinRequest, Lobby, Member, Role
from .base import RegistryBase, TimerKind, clean_name, clean_reason

E = ErrorCode


class JoinRules(RegistryBase):
    """join_lobby, cancel_join, accept_request, reject_join_request, leave_lobby, kick_guest."""

    def _join_lobby(self, conn: Connection, action: p.JoinLobby, ref: str | None) -> None:
        self._require_idle(conn)
        if not self._addresses[conn.address].joins.take(self.clock.monotonic()):
            raise ProtocolError(
                E.RATE_LIMITED,
                f"at most {self.limits.joins_per_address_per_minute} join attempts a minute",
            )
        name = clean_name(action.name, "Guest")
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
        self._schedule(deadline, TimerKind.PENDING_REQUEST, lobby.lobby_id, conn.connection_id)
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
        reason = clean_reason(action.reason, "rejected_by_host")
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
        reason = clean_reason(action.reason, "kicked_by_host")
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

    def _pending_timed_out(self, lobby: Lobby, joiner: ConnectionId, deadline: float) -> None:
        request = lobby.pending.get(joiner)
        if request is None or request.deadline != deadline:
            return
        self._drop_request(lobby, joiner, "timeout")
        self._to_host(lobby, "request_removed", {"connection_id": joiner})
