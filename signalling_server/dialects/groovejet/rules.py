"""groovejet's rules in the sans-I/O core: rooms as lobby records, automatic admission.

A groovejet room is a :class:`~signalling_server.lobby.Lobby` with the
``groovejet`` policy and the id ``groovejet:<code>``: its host seat is the
lobby's host (``connection_id`` ``None`` while the seat is empty), its guests
are the lobby's guests, and each member's ``name`` holds its ``clientId`` so a
host's answer finds its guest on any node sharing the backend. There are no
tokens, no peer ids and no accept step.

What a connection is (just connected, in a room, or done after a fatal error)
is kept per connection here, as the original server kept it per socket: a
client in a room stays in it for the socket's life, even if the room goes.
"""

from __future__ import annotations

import enum
import logging
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from ...dialect import ActionHandler
from ...ids import ConnectionId, LobbyId
from ...lobby import Connection, Lobby, Member, Role
from ...policy import Approval, LobbyPolicy, Offerer, Topology, register_policy
from ...protocol.actions import Action
from ...protocol.codes import CloseReason, ErrorCode
from .codec import NAME
from .messages import (
    AnswerFromHost,
    CreatedRoom,
    CreateRoom,
    ErrorType,
    GuestOfferSignal,
    HostAnswerSignal,
    Identity,
    JoinedRoom,
    JoinRoom,
    OfferFromGuest,
    RoomError,
)

if TYPE_CHECKING:
    from ...registry import LobbyRegistry

logger = logging.getLogger(__name__)

#: Guests offer, the host answers, the server lets everyone in; nothing survives a drop.
GROOVEJET: Final = register_policy(
    LobbyPolicy(
        name=NAME,
        approval=Approval.AUTOMATIC,
        topology=Topology.STAR,
        offerer=Offerer.GUEST,
        resume=False,
        host_away_notices=False,
    )
)

ROOM_PREFIX: Final = f"{NAME}:"
CODE_ALPHABET: Final = "0123456789abcdefghijklmnopqrstuvwxyz"
CODE_LENGTH: Final = 5
_CODE_CHARS: Final = frozenset(CODE_ALPHABET)
#: Seconds (x ``dialect_time_scale``) a room without a host is kept before it is deleted.
EMPTY_SEAT_TTL_S: Final = 600.0
#: Guests one room takes (the original had no cap; this bounds one lobby record).
MAX_GUESTS: Final = 64
#: Fresh codes tried before a ``createRoom`` gives up (only a nearly full code space fails).
CODE_TRIES: Final = 32
#: Close code for a connection refused by a limit (websocket "try again later").
CLOSE_TRY_AGAIN_LATER: Final = 1013
#: Close code after a groovejet ``error`` (the original closed with no status).
CLOSE_NORMAL: Final = 1000


def new_room_code() -> str:
    """A fresh room code: 5 characters of ``[0-9a-z]`` from a CSPRNG."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


class SessionState(enum.Enum):
    """Where one groovejet connection stands."""

    #: Only ``createRoom`` and ``joinRoom`` count.
    CONNECTED = "connected"
    #: Created or joined a room; only signals count, for the rest of the connection.
    IN_ROOM = "in_room"
    #: Sent a fatal error or refused by a limit; the socket is closing, nothing counts.
    CLOSING = "closing"


@dataclass(slots=True)
class _Session:
    client_id: str
    state: SessionState = SessionState.CONNECTED


class GroovejetRules:
    """groovejet's rules, bound to one registry (added with ``registry.add_dialect``)."""

    name: Final = NAME

    def __init__(
        self, registry: LobbyRegistry, *, new_code: Callable[[], str] = new_room_code
    ) -> None:
        self.registry = registry
        self._new_code = new_code
        self._sessions: dict[ConnectionId, _Session] = {}

    # DialectRules -----------------------------------------------------------------------------

    def handlers(self) -> Mapping[type[Action], ActionHandler]:
        return {
            CreateRoom: self._create_room,
            JoinRoom: self._join_room,
            GuestOfferSignal: self._guest_offer_signal,
            HostAnswerSignal: self._host_answer_signal,
        }

    def connected(self, conn: Connection) -> None:
        self.registry.send(conn.connection_id, Identity(self._session(conn).client_id))

    def disconnected(self, conn: Connection) -> bool:
        # Silent both ways: nobody is told of a drop.
        self._sessions.pop(conn.connection_id, None)
        role, lobby = self.registry.place(conn)
        if lobby is not None:
            self.member_lost(lobby, role, conn.connection_id)
        return True

    def member_lost(self, lobby: Lobby, role: Role, connection_id: ConnectionId) -> bool:
        """A member's socket is gone (here, or on a node that died): its seat empties, silently."""
        if role is Role.HOST:
            lobby.host.connection_id = None
            lobby.host.away_deadline = self.registry.schedule(
                EMPTY_SEAT_TTL_S, NAME, lobby.lobby_id
            )
        elif role is Role.GUEST:
            del lobby.guests[connection_id]
        return True

    def expire(self, key: str, sub: str, deadline: float) -> None:
        lobby = self.registry.tx.lobby(LobbyId(key))
        if lobby is None or lobby.policy != NAME:
            return
        host = lobby.host
        if host.connection_id is not None or host.away_deadline != deadline:
            return  # the seat was taken again since this timer was planned
        # Its guests, still connected, hear nothing (the codec has no word for it).
        self.registry._close(lobby, CloseReason.HOST_LEFT, ref=None, closer=None)

    def room_count(self) -> int:
        return 0  # rooms are lobby records, counted with them

    # Handlers ----------------------------------------------------------------------------------

    def _create_room(self, conn: Connection, action: CreateRoom, ref: str | None) -> None:
        session = self._session(conn)
        if session.state is not SessionState.CONNECTED:
            return
        registry = self.registry
        if not registry.lobby_budget_left(conn.address):
            self._refuse(conn, session, ErrorCode.RATE_LIMITED, "too many rooms from this address")
            return
        for _ in range(CODE_TRIES):
            code = self._new_code()
            lobby = Lobby(
                lobby_id=LobbyId(ROOM_PREFIX + code),
                name=code,
                host=_member(conn.connection_id, session.client_id),
                host_address=conn.address,
                max_guests=MAX_GUESTS,
                password=None,
                policy=NAME,
            )
            if registry.tx.claim(lobby):
                break
        else:
            logger.error("no free groovejet room code in %d tries", CODE_TRIES)
            self._refuse(conn, session, ErrorCode.LOBBY_EXISTS, "no free room code; try again")
            return
        if not registry.count_claimed_lobby(lobby):
            self._refuse(conn, session, ErrorCode.RATE_LIMITED, "too many rooms from this address")
            return
        registry.tx.after_commit(lambda: registry.lobby_opened(conn.address))
        conn.lobby_id = lobby.lobby_id
        session.state = SessionState.IN_ROOM
        registry.send(conn.connection_id, CreatedRoom(code), ref)

    def _join_room(self, conn: Connection, action: JoinRoom, ref: str | None) -> None:
        session = self._session(conn)
        if session.state is not SessionState.CONNECTED:
            return
        registry = self.registry
        code = action.room_code
        if code is None:
            self._fail(
                conn, session, ErrorType.MISSING_ROOM_CODE, "Missing room code in request", ref
            )
            return
        if not registry.take_join_attempt(conn.address):
            self._refuse(conn, session, ErrorCode.RATE_LIMITED, "too many join attempts")
            return
        lobby = self._room(code)
        if lobby is None:
            self._fail(
                conn, session, ErrorType.NO_ROOM_FOUND, f"No room exists with code {code}", ref
            )
            return
        if lobby.host.connection_id is None:
            if not action.can_host:
                message = f"No host connected for room {code}"
                self._fail(conn, session, ErrorType.HOST_DISCONNECTED, message, ref)
                return
            lobby.host = _member(conn.connection_id, session.client_id)
            is_host = True
        else:
            if len(lobby.guests) >= lobby.max_guests:
                self._refuse(conn, session, ErrorCode.LOBBY_FULL, "this room is full")
                return
            lobby.guests[conn.connection_id] = _member(conn.connection_id, session.client_id)
            registry.stats.joins_accepted += 1
            is_host = False
        conn.lobby_id = lobby.lobby_id
        session.state = SessionState.IN_ROOM
        registry.send(conn.connection_id, JoinedRoom(is_host), ref)

    def _guest_offer_signal(
        self, conn: Connection, action: GuestOfferSignal, ref: str | None
    ) -> None:
        role, lobby = self.registry.place(conn)
        if role is not Role.GUEST or lobby is None:
            return
        host = lobby.host.connection_id
        if host is None:
            return  # the seat is empty: the offer goes nowhere, as it did in the original
        client_id = self._session(conn).client_id
        self.registry.send(host, OfferFromGuest(action.offer_signal, client_id))
        self.registry.stats.relayed += 1

    def _host_answer_signal(
        self, conn: Connection, action: HostAnswerSignal, ref: str | None
    ) -> None:
        role, lobby = self.registry.place(conn)
        if role is not Role.HOST or lobby is None:
            return
        for guest, member in lobby.guests.items():
            if member.name == action.client_id:
                self.registry.send(guest, AnswerFromHost(action.answer_signal))
                self.registry.stats.relayed += 1
                return

    # Helpers ------------------------------------------------------------------------------------

    def _session(self, conn: Connection) -> _Session:
        """The connection's session, made on first use (its ``clientId`` is fresh then)."""
        session = self._sessions.get(conn.connection_id)
        if session is None:
            session = self._sessions[conn.connection_id] = _Session(str(uuid.uuid4()))
        return session

    def _room(self, code: str) -> Lobby | None:
        """The room with exactly this code, or ``None``."""
        if len(code) != CODE_LENGTH or not _CODE_CHARS.issuperset(code):
            return None  # no such code can exist: not worth a lookup
        lobby = self.registry.tx.lobby(LobbyId(ROOM_PREFIX + code))
        return lobby if lobby is not None and lobby.policy == NAME else None

    def _fail(
        self,
        conn: Connection,
        session: _Session,
        error: ErrorType,
        message: str,
        ref: str | None,
    ) -> None:
        """Send one of groovejet's three errors, then close the connection."""
        self.registry.stats.errors[_ERROR_CODES[error].value] += 1
        self.registry.send(conn.connection_id, RoomError(error, message), ref)
        self._end(conn, session, CLOSE_NORMAL, "")

    def _refuse(self, conn: Connection, session: _Session, code: ErrorCode, reason: str) -> None:
        """A limit refused the connection: groovejet has no error for it, so it is closed."""
        self.registry.stats.errors[code.value] += 1
        self._end(conn, session, CLOSE_TRY_AGAIN_LATER, reason)

    def _end(self, conn: Connection, session: _Session, code: int, reason: str) -> None:
        session.state = SessionState.CLOSING
        self.registry.close_connection(conn.connection_id, code, reason)


#: The native error code each groovejet error is counted under (``/metrics``).
_ERROR_CODES: Final = {
    ErrorType.MISSING_ROOM_CODE: ErrorCode.INVALID_MESSAGE,
    ErrorType.NO_ROOM_FOUND: ErrorCode.LOBBY_NOT_FOUND,
    ErrorType.HOST_DISCONNECTED: ErrorCode.HOST_UNAVAILABLE,
}


def _member(connection_id: ConnectionId, client_id: str) -> Member:
    """A room member: its ``name`` is its ``clientId``; no token, no peer id."""
    return Member(
        name=client_id,
        peer_id=0,
        token_id="",
        token_secret="",
        connection_id=connection_id,
        last_connection_id=connection_id,
    )
