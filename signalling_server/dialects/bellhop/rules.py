"""Bellhop's rules in the registry: lobbies are lobby records under the ``bellhop`` policy.

A Bellhop lobby is a native lobby record (id ``bellhop:<id>``) whose policy
says: the host approves, star topology, the guest offers, the host chooses peer
ids, and nobody keeps a place after a disconnect. The native rules do what is
the same (admitting a guest, closing a lobby, dropping a pending request when
its time is up, and every disconnect); these rules do what Bellhop does its own
way: free-form ids, a new ``start_lobby`` or ``join_lobby`` leaving the earlier
lobby silently, refusals told as ``lobby_creation_failed`` and
``join_request_rejected`` sentences, and flattened relays.

Bellhop's clients are told nothing when a lobby closes or a member goes: the
native rules' notices for those reach the codec, which drops them. Anything a
Bellhop client may not do raises :class:`ProtocolError`, which the codec turns
into the internal-server-error frame.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

from ...dialect import ActionHandler
from ...effects import Origin
from ...ids import ConnectionId, LobbyId, new_token
from ...lobby import Connection, JoinRequest, Lobby, Member, Role
from ...policy import Approval, LobbyPolicy, Offerer, PeerIds, Topology, register_policy
from ...protocol.actions import Action
from ...protocol.codes import CloseReason, ErrorCode
from ...protocol.errors import ProtocolError
from . import reasons
from .codec import BellhopCodec
from .lobby_ids import DIALECT, MAX_LOBBY_ID_LENGTH, bellhop_id, lobby_key, new_bellhop_id
from .messages import (
    AcceptJoinRequest,
    CloseLobby,
    JoinLobby,
    JoinRequestRejected,
    LobbyCreationFailed,
    LobbyStarted,
    ReceivedIceCandidate,
    ReceivedJoinRequest,
    ReceivedSessionDescription,
    RejectJoinRequest,
    SendIceCandidate,
    SendSessionDescription,
    StartLobby,
)

if TYPE_CHECKING:
    from ...registry import LobbyRegistry

E = ErrorCode
logger = logging.getLogger(__name__)

#: Bellhop lobbies: the Godot guest makes the offer to the host, under the peer id the
#: host chose for it; a dropped host closes its lobby at once and nobody is told.
BELLHOP: Final = register_policy(
    LobbyPolicy(
        name=DIALECT,
        approval=Approval.HOST,
        topology=Topology.STAR,
        offerer=Offerer.GUEST,
        peer_ids=PeerIds.CHOSEN,
        resume=False,
        host_away_notices=False,
    )
)
#: Bellhop clients never name themselves; the records need a name.
_MEMBER_NAME: Final = "Player"


class BellhopRules:
    """The Bellhop dialect, bound to one registry."""

    name: Final = DIALECT

    def __init__(self, registry: LobbyRegistry) -> None:
        self.registry = registry

    # DialectRules ------------------------------------------------------------------------

    def handlers(self) -> Mapping[type[Action], ActionHandler]:
        return {
            StartLobby: self._start_lobby,
            CloseLobby: self._close_lobby,
            JoinLobby: self._join_lobby,
            AcceptJoinRequest: self._accept_join_request,
            RejectJoinRequest: self._reject_join_request,
            SendSessionDescription: self._relay,
            SendIceCandidate: self._relay,
        }

    def connected(self, conn: Connection) -> None:
        """No greeting; the codec learns whom it speaks for (internal-server-error frames say)."""
        if isinstance(conn.codec, BellhopCodec):
            conn.codec.connection_id = conn.connection_id

    def disconnected(self, conn: Connection) -> bool:
        """The native rules under the Bellhop policy: a host closes its lobby, a guest goes."""
        return False

    def member_lost(self, lobby: Lobby, role: Role, connection_id: ConnectionId) -> bool:
        """A host on a dead node closes its lobby, a guest goes: the native rules."""
        return False

    def expire(self, key: str, sub: str, deadline: float) -> None:
        """A join request's time is up: the native rules drop it (stale timers do nothing)."""
        lobby = self.registry.tx.lobby(LobbyId(key))
        if lobby is not None:
            self.registry._pending_timed_out(lobby, ConnectionId(sub), deadline)

    def room_count(self) -> int:
        """Bellhop lobbies are lobby records, counted with them."""
        return 0

    # Actions ---------------------------------------------------------------------------------

    def _start_lobby(self, conn: Connection, action: StartLobby, ref: str | None) -> None:
        registry = self.registry
        requested = action.lobby_id or ""
        if len(requested) > MAX_LOBBY_ID_LENGTH:
            self._creation_failed(conn, E.INVALID_MESSAGE, reasons.lobby_id_too_long())
            return
        role, current = registry.place(conn)
        # Hosting again moves the caller's lobby rather than adding one.
        moving = 1 if role is Role.HOST else 0
        limit = registry.limits.lobbies_per_address
        if not registry.lobby_budget_left(conn.address, moving=moving):
            self._creation_failed(conn, E.RATE_LIMITED, reasons.too_many_lobbies(limit))
            return
        if requested:
            lobby = self._new_lobby(requested, conn)
            # The caller's own lobby counts as taken too, as in the original.
            if not registry.tx.claim(lobby):
                self._creation_failed(conn, E.LOBBY_EXISTS, reasons.lobby_exists(requested))
                return
        else:
            while not registry.tx.claim(lobby := self._new_lobby(new_bellhop_id(), conn)):
                pass
        if not registry.count_claimed_lobby(lobby, moving=moving):
            self._creation_failed(conn, E.RATE_LIMITED, reasons.too_many_lobbies(limit))
            return
        self._leave(conn, role, current)
        registry.tx.after_commit(lambda: registry.lobby_opened(conn.address, lobby.lobby_id))
        conn.lobby_id = lobby.lobby_id
        registry.send(conn.connection_id, LobbyStarted(lobby.name))

    def _new_lobby(self, requested: str, conn: Connection) -> Lobby:
        # No resume in Bellhop: the token is never given out nor stored.
        _, token_id, secret = new_token()
        host = Member(
            name=_MEMBER_NAME,
            peer_id=1,
            token_id=token_id,
            token_secret=secret,
            connection_id=conn.connection_id,
            last_connection_id=conn.connection_id,
        )
        return Lobby(
            lobby_id=lobby_key(requested),
            name=requested,
            host=host,
            host_address=conn.address,
            max_guests=self.registry.limits.default_max_guests,
            password=None,
            policy=BELLHOP.name,
        )

    def _close_lobby(self, conn: Connection, action: CloseLobby, ref: str | None) -> None:
        role, lobby = self.registry.place(conn)
        self._leave(conn, role, lobby)

    def _join_lobby(self, conn: Connection, action: JoinLobby, ref: str | None) -> None:
        registry = self.registry
        wanted = action.lobby_id
        if not registry.take_join_attempt(conn.address):
            limit = registry.limits.joins_per_address_per_minute
            self._join_rejected(conn, E.RATE_LIMITED, reasons.too_many_joins(limit))
            return
        lobby = registry.tx.lobby(lobby_key(wanted)) if wanted else None
        if lobby is None:
            self._join_rejected(conn, E.LOBBY_NOT_FOUND, reasons.lobby_not_found(wanted))
            return
        role, current = registry.place(conn)
        if current is not None and current.lobby_id == lobby.lobby_id:
            raise ProtocolError(E.ALREADY_IN_LOBBY, f"already {role.value} of this lobby")
        refusal = self._refusal(lobby, wanted)
        if refusal is not None:
            self._join_rejected(conn, *refusal)
            return
        host = lobby.host.connection_id
        assert host is not None  # a lobby whose host is gone is refused above
        self._leave(conn, role, current)
        timeout = registry.timeouts.pending_request_timeout
        deadline = registry.schedule(timeout, DIALECT, lobby.lobby_id, conn.connection_id)
        lobby.pending[conn.connection_id] = JoinRequest(
            conn.connection_id, _MEMBER_NAME, registry.clock.monotonic(), deadline
        )
        conn.lobby_id = lobby.lobby_id
        registry.send(host, ReceivedJoinRequest(conn.connection_id))

    def _accept_join_request(
        self, conn: Connection, action: AcceptJoinRequest, ref: str | None
    ) -> None:
        lobby, request = self._pending_request(conn, action.player_connection_id)
        if lobby.seats_taken >= lobby.max_guests:
            del lobby.pending[request.connection_id]
            reason = reasons.lobby_full(bellhop_id(lobby.lobby_id), lobby.max_guests)
            self.registry.stats.errors[E.LOBBY_FULL.value] += 1
            self.registry.send(request.connection_id, JoinRequestRejected(reason))
            return
        # The Godot host registers the guest under the id it chose: given back verbatim.
        request.peer_id = action.player_peer_id
        self.registry._admit(lobby, request, host_ref=None)

    def _reject_join_request(
        self, conn: Connection, action: RejectJoinRequest, ref: str | None
    ) -> None:
        lobby, request = self._pending_request(conn, action.player_connection_id)
        del lobby.pending[request.connection_id]
        self.registry.send(request.connection_id, JoinRequestRejected(action.reason))

    def _relay(
        self,
        conn: Connection,
        action: SendSessionDescription | SendIceCandidate,
        ref: str | None,
    ) -> None:
        registry = self.registry
        role, lobby = registry.place(conn)
        target = ConnectionId(action.connection_id)
        if lobby is None:
            raise ProtocolError(E.NOT_IN_LOBBY, "join or start a lobby first")
        if role is Role.HOST:
            allowed = target in lobby.guests
        else:
            allowed = role is Role.GUEST and target == lobby.host.connection_id
        if not allowed:
            raise ProtocolError(E.UNKNOWN_CONNECTION, "not a peer of this connection")
        sender = conn.connection_id
        if type(action) is SendIceCandidate:
            event: ReceivedIceCandidate | ReceivedSessionDescription = ReceivedIceCandidate(
                sender, action.media, action.index, action.name
            )
        else:
            assert isinstance(action, SendSessionDescription)
            event = ReceivedSessionDescription(sender, action.session_type, action.sdp)
        registry.send(target, event, None, Origin(sender, action.NAME, None))
        registry.stats.relayed += 1

    # Helpers -----------------------------------------------------------------------------------

    def _leave(self, conn: Connection, role: Role, lobby: Lobby | None) -> None:
        """Leave wherever the caller stands, telling nobody."""
        if lobby is None:
            return
        if role is Role.HOST:
            self.registry._close(lobby, CloseReason.CLOSED_BY_HOST, ref=None, closer=None)
        elif role is Role.GUEST:
            member = lobby.guests.pop(conn.connection_id)
            self.registry.tx.drop_token(member.token_id)
        elif role is Role.PENDING:
            del lobby.pending[conn.connection_id]
        conn.lobby_id = None

    def _refusal(self, lobby: Lobby, wanted: str) -> tuple[ErrorCode, str] | None:
        """Why the native rules would turn a joiner away, as a Bellhop sentence; or ``None``."""
        if lobby.host.connection_id is None:
            return E.HOST_UNAVAILABLE, reasons.no_host(wanted)
        if not lobby.open:
            return E.LOBBY_LOCKED, reasons.lobby_locked(wanted)
        if lobby.seats_taken >= lobby.max_guests:
            return E.LOBBY_FULL, reasons.lobby_full(wanted, lobby.max_guests)
        if len(lobby.pending) >= self.registry.limits.pending_per_lobby:
            return E.LOBBY_FULL, reasons.too_many_waiting(wanted)
        return None

    def _pending_request(self, conn: Connection, player: str) -> tuple[Lobby, JoinRequest]:
        """The host's lobby and the join request it decides on."""
        role, lobby = self.registry.place(conn)
        if role is not Role.HOST or lobby is None:
            raise ProtocolError(E.NOT_HOST, "only the lobby's host can do that")
        request = lobby.pending.get(ConnectionId(player))
        if request is None:
            raise ProtocolError(E.UNKNOWN_CONNECTION, "no such join request in this lobby")
        return lobby, request

    def _creation_failed(self, conn: Connection, code: ErrorCode, reason: str) -> None:
        self.registry.stats.errors[code.value] += 1
        self.registry.send(conn.connection_id, LobbyCreationFailed(reason))

    def _join_rejected(self, conn: Connection, code: ErrorCode, reason: str) -> None:
        self.registry.stats.errors[code.value] += 1
        self.registry.send(conn.connection_id, JoinRequestRejected(reason))
