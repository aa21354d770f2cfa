"""Rules for getting in and out: join requests, the host's decisions, leaving, kicks."""

from __future__ import annotations

import functools

from ..address_keys import budget_key
from ..backend import TokenGrant
from ..ids import ConnectionId, new_token, normalise_lobby_code
from ..lobby import Connection, JoinRequest, Lobby, Member, Role
from ..policy import Approval, PeerIds
from ..protocol import actions as a
from ..protocol import events as ev
from ..protocol.codes import ErrorCode, LeaveReason, RejectReason
from ..protocol.errors import ProtocolError
from .base import RegistryBase, TimerKind, clean_message, clean_name

E = ErrorCode
#: Addresses one lobby keeps blocked; the oldest is let go past this.
MAX_BLOCKED_ADDRESSES = 256


class JoinRules(RegistryBase):
    """join_lobby, cancel_join, accept_request, reject_join_request, leave_lobby, kick_guest."""

    def _join_lobby(self, conn: Connection, action: a.JoinLobby, ref: str | None) -> None:
        self._require_idle(conn)
        if not self.take_join_attempt(conn.address):
            raise ProtocolError(
                E.RATE_LIMITED,
                f"at most {self.limits.joins_per_address_per_minute} join attempts a minute",
            )
        name = clean_name(action.name, "Guest")
        code = normalise_lobby_code(action.lobby_id)
        lobby = self._tx.lobby(code) if code is not None else None
        if lobby is None:
            raise ProtocolError(E.LOBBY_NOT_FOUND, f"no lobby with code {action.lobby_id!r}")
        if lobby.host.connection_id is None:
            raise ProtocolError(E.HOST_UNAVAILABLE, "the host is reconnecting; try again soon")
        if not lobby.open:
            raise ProtocolError(E.LOBBY_LOCKED, "the host has locked this lobby")
        if budget_key(conn.address) in lobby.blocked_addresses:
            raise ProtocolError(E.BLOCKED, "the host has blocked you from this lobby")
        if lobby.password is not None and not lobby.password.matches(action.password or ""):
            raise ProtocolError(E.WRONG_PASSWORD, "wrong or missing password")
        if lobby.seats_taken >= lobby.max_guests:
            raise ProtocolError(E.LOBBY_FULL, f"the lobby is full ({lobby.max_guests} guests)")
        if len(lobby.pending) >= self.limits.pending_per_lobby:
            raise ProtocolError(E.LOBBY_FULL, "too many join requests are waiting; try later")
        policy = self._policy(lobby)
        if action.peer_id is not None:
            if policy.peer_ids is not PeerIds.CHOSEN:
                raise ProtocolError(E.INVALID_MESSAGE, "this lobby gives out peer ids itself")
            if lobby.peer_id_taken(action.peer_id):
                raise ProtocolError(E.INVALID_MESSAGE, f"peer id {action.peer_id} is taken")
        now = self.clock.monotonic()
        deadline = now + self.timeouts.pending_request_timeout
        request = JoinRequest(
            conn.connection_id, name, now, deadline, action.peer_id, address=conn.address
        )
        lobby.pending[conn.connection_id] = request
        conn.lobby_id = lobby.lobby_id
        if policy.approval is Approval.AUTOMATIC:
            self._send(conn.connection_id, ev.JoinRequested(lobby.lobby_id, lobby.name), ref)
            self._admit(lobby, request, host_ref=None)
            return
        self._schedule(deadline, TimerKind.PENDING_REQUEST, lobby.lobby_id, conn.connection_id)
        self._to_host(lobby, ev.RequestToJoin(conn.connection_id, name))
        self._send(conn.connection_id, ev.JoinRequested(lobby.lobby_id, lobby.name), ref)

    def _join_accepted(self, requested_at: float) -> None:
        """After the commit: count the join, and how long it waited."""
        self.stats.joins_accepted += 1
        if self._on_join_accepted is not None:
            self._on_join_accepted(self.clock.monotonic() - requested_at)

    def _cancel_join(self, conn: Connection, action: a.CancelJoin, ref: str | None) -> None:
        role, lobby = self._place(conn)
        if role is not Role.PENDING or lobby is None:
            raise ProtocolError(E.NOT_IN_LOBBY, "there is no join request to cancel")
        del lobby.pending[conn.connection_id]
        self._to_host(lobby, ev.RequestCancelled(conn.connection_id))
        self._send(conn.connection_id, ev.JoinCancelled(lobby.lobby_id), ref)

    def _accept_request(self, conn: Connection, action: a.AcceptRequest, ref: str | None) -> None:
        lobby = self._require_host(conn)
        request = self._pending_request(lobby, action.connection_id)
        if lobby.seats_taken >= lobby.max_guests:
            raise ProtocolError(E.LOBBY_FULL, f"the lobby is full ({lobby.max_guests} guests)")
        self._admit(lobby, request, host_ref=ref)

    def _admit(self, lobby: Lobby, request: JoinRequest, *, host_ref: str | None) -> None:
        """Turn a pending request into a guest: token, peer id, and both sides told."""
        del lobby.pending[request.connection_id]
        token, token_id, secret = new_token()
        if request.peer_id is not None:
            peer_id = request.peer_id
        else:
            peer_id = lobby.next_peer_id
            while lobby.peer_id_taken(peer_id):
                peer_id += 1
            lobby.next_peer_id = peer_id + 1
        member = Member(
            name=request.name,
            peer_id=peer_id,
            token_id=token_id,
            token_secret=secret,
            connection_id=request.connection_id,
            last_connection_id=request.connection_id,
            address=request.address,
        )
        lobby.guests[request.connection_id] = member
        self._tx.put_token(token_id, TokenGrant(lobby.lobby_id, Role.GUEST))
        self._tx.after_commit(functools.partial(self._join_accepted, request.requested_at))
        host = lobby.host
        self._send(
            request.connection_id,
            ev.RequestAccepted(
                lobby_id=lobby.lobby_id,
                host_connection_id=host.last_connection_id,
                connection_id=request.connection_id,
                peer_id=member.peer_id,
                guest_token=token,
                ice_servers=self._ice_servers_for(request.connection_id),
                offerer=self._policy(lobby).offerer.value,
                migratable=lobby.migratable,
            ),
        )
        if host.connection_id is not None:
            self._send(
                host.connection_id,
                ev.GuestAccepted(request.connection_id, member.peer_id, member.name),
                host_ref,
            )

    def _reject_join_request(
        self, conn: Connection, action: a.RejectJoinRequest, ref: str | None
    ) -> None:
        lobby = self._require_host(conn)
        request = self._pending_request(lobby, action.connection_id)
        message = clean_message(action.message, action.reason)
        self._drop_request(lobby, request.connection_id, RejectReason.REJECTED_BY_HOST, message)
        self._send(
            conn.connection_id,
            ev.RequestRemoved(request.connection_id, RejectReason.REJECTED_BY_HOST),
            ref,
        )

    def _pending_request(self, lobby: Lobby, connection_id: str) -> JoinRequest:
        request = lobby.pending.get(ConnectionId(connection_id))
        if request is None:
            if connection_id in lobby.guests:
                raise ProtocolError(E.UNKNOWN_CONNECTION, "that guest was accepted already")
            raise ProtocolError(
                E.UNKNOWN_CONNECTION, "no such join request in this lobby (cancelled or decided?)"
            )
        return request

    def _leave_lobby(self, conn: Connection, action: a.LeaveLobby, ref: str | None) -> None:
        role, lobby = self._place(conn)
        if role is not Role.GUEST or lobby is None:
            raise self._wrong_role(role, "only a guest can leave; a host closes its lobby")
        member = lobby.guests.pop(conn.connection_id)
        self._tx.drop_token(member.token_id)
        self._to_host(lobby, ev.GuestLeft(conn.connection_id, LeaveReason.LEFT))
        self._send(conn.connection_id, ev.LeftLobby(lobby.lobby_id), ref)

    def _kick_guest(self, conn: Connection, action: a.KickGuest, ref: str | None) -> None:
        lobby = self._require_host(conn)
        target = ConnectionId(action.connection_id)
        message = clean_message(action.message, action.reason)
        if target in lobby.guests:
            member = lobby.guests.pop(target)
            self._send(target, ev.Kicked(lobby.lobby_id, action.code, message))
        elif target in lobby.away:
            member = lobby.away.pop(target)
        elif target in lobby.pending:
            raise ProtocolError(E.NOT_ACCEPTED, "that connection is a join request; reject it")
        else:
            raise ProtocolError(E.UNKNOWN_CONNECTION, "no such guest in this lobby")
        self._tx.drop_token(member.token_id)
        blocked = budget_key(member.address)  # a whole IPv6 /64: a fresh address gets no way back
        if action.block and member.address and blocked not in lobby.blocked_addresses:
            lobby.blocked_addresses.append(blocked)
            del lobby.blocked_addresses[:-MAX_BLOCKED_ADDRESSES]
        self._send(conn.connection_id, ev.GuestLeft(target, LeaveReason.KICKED), ref)

    def _pending_timed_out(self, lobby: Lobby, joiner: ConnectionId, deadline: float) -> None:
        request = lobby.pending.get(joiner)
        if request is None or request.deadline != deadline:
            return
        self._drop_request(lobby, joiner, RejectReason.TIMEOUT)
        self._to_host(lobby, ev.RequestRemoved(joiner, RejectReason.TIMEOUT))
