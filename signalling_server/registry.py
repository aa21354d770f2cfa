"""The lobby registry: protocol v1's rules, sans I/O.

Feed it what happens to connections (:meth:`LobbyRegistry.connect`,
:meth:`~LobbyRegistry.handle`, :meth:`~LobbyRegistry.disconnect`,
:meth:`~LobbyRegistry.expire`); each call returns the effects to carry out:
:class:`~signalling_server.effects.Send` (a typed event for a connection, in
order) and :class:`~signalling_server.effects.CloseConnection`. Each call is
one unit of work: it loads the lobbies it touches, changes them, and commits
once at the end; an action refused with an error changes nothing. A relay
between a host and its guest, which changes nothing, is answered without one
(:meth:`~LobbyRegistry.receive`). It never
touches a socket, never encodes a frame and never reads a clock of its own,
so every rule, timers included, is tested by feeding actions and reading
effects.
"""

from __future__ import annotations

import functools
import heapq
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from .backend import BackendUnavailable, LobbyConflict
from .codecs import Codec
from .dialect import ActionHandler, DialectRules
from .effects import (
    CLOSE_GOING_AWAY,
    CLOSE_OVER_RATE_LIMIT,
    CLOSE_RESUMED_ELSEWHERE,
    CloseConnection,
    Effect,
    Origin,
    Send,
)
from .ids import ConnectionId, LobbyId
from .limits import TokenBucket
from .lobby import Connection, Lobby, Role
from .policy import NATIVE
from .protocol import actions as a
from .protocol import events as ev
from .protocol.codes import CloseReason, ErrorCode
from .protocol.errors import FrameError, ProtocolError, SignallingError
from .protocol.native import Decoded, NativeCodec
from .rules.base import RegistryStats, SharedTimer, TimerKind, logger
from .rules.joining import JoinRules
from .rules.lobbies import LobbyRules
from .rules.migration import MigrationRules
from .rules.reconnect import ReconnectRules
from .rules.relay import RELAY_ACTIONS, RelayRules

E = ErrorCode
T = TypeVar("T")

#: How many times an input is applied again when another node changed its lobby meanwhile.
CONFLICT_RETRIES = 8

__all__ = [
    "CLOSE_GOING_AWAY",
    "CLOSE_RESUMED_ELSEWHERE",
    "CloseConnection",
    "ConnectionView",
    "Effect",
    "LobbyRegistry",
    "Origin",
    "RegistryStats",
    "Send",
]


@dataclass(frozen=True, slots=True)
class ConnectionView:
    """Where a connection stands, as its lobby's record says."""

    connection_id: ConnectionId
    address: str
    role: Role
    lobby_id: LobbyId | None


class LobbyRegistry(LobbyRules, JoinRules, RelayRules, MigrationRules, ReconnectRules):
    """Applies protocol v1 to a set of connections and lobbies."""

    def _make_handlers(self) -> dict[type[a.Action], ActionHandler]:
        self._native_codec = NativeCodec(
            max_frame_bytes=self.limits.max_frame_bytes,
            max_snapshot_frame_bytes=self.limits.hard_frame_bytes,
        )
        return {
            a.StartLobby: self._start_lobby,
            a.CloseLobby: self._close_lobby,
            a.SetLobbyOpen: self._set_lobby_open,
            a.JoinLobby: self._join_lobby,
            a.CancelJoin: self._cancel_join,
            a.AcceptRequest: self._accept_request,
            a.RejectJoinRequest: self._reject_join_request,
            a.SetSessionDescription: self._relay,
            a.SendIceCandidate: self._relay,
            a.SendMessage: self._relay,
            a.LeaveLobby: self._leave_lobby,
            a.KickGuest: self._kick_guest,
            a.Resume: self._resume,
            a.GetLobbyInfo: self._get_lobby_info,
            a.GetIceServers: self._get_ice_servers,
            a.Ping: self._ping,
            a.HandOver: self._hand_over,
            a.SaveSnapshot: self._save_snapshot,
            a.LoadSnapshot: self._load_snapshot,
            a.MoveLobby: self._move_lobby,
        }

    # Dialects ---------------------------------------------------------------

    def add_dialect(self, rules: DialectRules) -> None:
        """Apply ``rules`` to the connections whose codec has the same name."""
        if rules.name in self._dialects:
            raise ValueError(f"dialect {rules.name!r} is already added")
        handlers = rules.handlers()
        taken = set(handlers) & set(self._handlers)
        if taken:
            raise ValueError(f"actions handled twice: {sorted(k.__name__ for k in taken)}")
        self._dialects[rules.name] = rules
        self._handlers.update(handlers)

    def dialect_room_count(self) -> int:
        """Rooms the dialects keep outside lobby records (Camus rooms, Lambda channels)."""
        return sum(rules.room_count() for rules in self._dialects.values())

    def run(self, work: Callable[[], T]) -> tuple[T, list[Effect]]:
        """Apply ``work`` (an HTTP route's change) as one unit of work: its result and effects.

        A :class:`ProtocolError` it raises discards everything it did and is raised again,
        and so is :class:`BackendUnavailable`.
        """
        for _ in range(CONFLICT_RETRIES):
            out = self._begin()
            result = work()
            try:
                self._tx.commit()
            except LobbyConflict:
                continue
            return result, out
        raise BackendUnavailable("too many nodes are changing the same lobby; try again")

    # Inputs -----------------------------------------------------------------

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    def connection(self, connection_id: ConnectionId) -> ConnectionView | None:
        """Where a local connection stands (role and lobby), or ``None``."""
        conn = self._connections.get(connection_id)
        if conn is None:
            return None
        role = self.role_of(connection_id)
        lobby_id = conn.lobby_id if role is not Role.IDLE else None
        return ConnectionView(connection_id, conn.address, role, lobby_id)

    def connect(
        self, address: str, codec: Codec | None = None, *, policy: str = NATIVE.name
    ) -> ConnectionId:
        """Register a new connection from ``address``; returns its fresh id.

        ``codec`` reads its frames (protocol v1's JSON with this registry's frame
        limit by default); lobbies it starts follow the policy named ``policy``.
        """
        codec = codec if codec is not None else self._native_codec
        if policy not in self.policies:
            raise ValueError(f"unknown lobby policy {policy!r}")
        connection_id = self.new_connection_id()
        now = self.clock.monotonic()
        bucket = TokenBucket(self.limits.actions_per_second, self.limits.action_burst, now)
        self._connections[connection_id] = Connection(connection_id, address, bucket, codec, policy)
        self._address(address).connections += 1
        return connection_id

    def opened(self, connection_id: ConnectionId) -> list[Effect]:
        """The transport has the connection open: its dialect may greet it."""
        conn = self._connections[connection_id]
        rules = self._dialects.get(conn.codec.name)
        if rules is None:
            return []
        return self._unit(lambda: rules.connected(conn), what="a dialect's greeting")

    def handle(self, connection_id: ConnectionId, frame: str | bytes) -> list[Effect]:
        """Apply one frame from a connection; ``bytes`` stands for a binary frame."""
        effects = self.receive(connection_id, frame)
        return [effects] if isinstance(effects, Send) else effects

    def receive(self, connection_id: ConnectionId, frame: str | bytes) -> Send | list[Effect]:
        """:meth:`handle`, with a common relay's one event returned as it is (no list).

        A relay between a host and its guest changes nothing: it is checked on the
        shared lobby copy and answered without a unit of work (most inputs are
        relays). Every other input is one unit of work.
        """
        conn = self._connections[connection_id]
        if conn.closing:
            return []  # closed for flooding: its frames cost nothing more
        now = self.clock.monotonic()
        if not conn.bucket.take(now):
            return self._over_budget(conn, frame, now)
        try:
            decoded = conn.codec.decode(frame)
        except FrameError as exc:
            self._new_input()
            out = self._begin()
            self._error(conn, exc.code, exc.message, exc.action, exc.ref)
            return out
        action = decoded.action
        if type(action) in RELAY_ACTIONS:
            relayed = self._relay_now(conn, action, decoded.ref)  # type: ignore[arg-type]
            if relayed is not None:
                return relayed
        self._new_input()
        out = self._begin()
        handler = self._handlers.get(type(action))
        if handler is None:
            self._error(
                conn, E.UNKNOWN_ACTION, "no rules for this action", decoded.name, decoded.ref
            )
            return out
        try:
            handler(conn, action, decoded.ref)
            self._tx.commit()
        except ProtocolError as exc:
            out.clear()  # the action is refused whole: nothing sent, nothing committed
            self._error(conn, exc.code, exc.message, decoded.name, decoded.ref)
        except (LobbyConflict, BackendUnavailable) as exc:
            return self._handle_again(conn, handler, decoded, exc)
        return out

    def _over_budget(self, conn: Connection, frame: str | bytes, now: float) -> list[Effect]:
        """Over the rate limit: ``rate_limited`` (naming the action if readable), or a close."""
        self._new_input()
        out = self._begin()
        if self._struck_out(conn, now):
            return out
        name: str | None
        try:
            decoded = conn.codec.decode(frame)
            name, ref = decoded.name, decoded.ref
        except FrameError as exc:
            name, ref = exc.action, exc.ref
        self._error(conn, E.RATE_LIMITED, "too many actions; slow down", name, ref)
        return out

    def _handle_again(
        self, conn: Connection, handler: ActionHandler, decoded: Decoded, first: SignallingError
    ) -> list[Effect]:
        """Apply an action again on fresh copies after another node changed its lobby.

        The store out of reach, or too many conflicts in a row: ``server_unavailable``.
        """
        failure = first
        for _ in range(CONFLICT_RETRIES):
            if isinstance(failure, BackendUnavailable):
                break
            out = self._begin()
            try:
                handler(conn, decoded.action, decoded.ref)
                self._tx.commit()
                return out
            except ProtocolError as exc:
                out.clear()
                self._error(conn, exc.code, exc.message, decoded.name, decoded.ref)
                return out
            except (LobbyConflict, BackendUnavailable) as exc:
                failure = exc
        logger.warning("refusing %s: %s", decoded.name, failure)
        out = self._begin()
        self._error(
            conn,
            E.SERVER_UNAVAILABLE,
            "the server cannot reach its state store; try again",
            decoded.name,
            decoded.ref,
        )
        return out

    def _struck_out(self, conn: Connection, now: float) -> bool:
        """Count one frame over the rate limit; past the threshold, close the connection.

        A client that is refused now and then recovers (the strikes are forgiven
        at ``actions_per_second``); one that keeps flooding is closed with 1008
        rather than answered ``rate_limited`` frame after frame.
        """
        strikes = conn.strikes
        if strikes is None:
            limits = self.limits
            strikes = conn.strikes = TokenBucket(
                limits.actions_per_second, limits.rate_limited_frames_before_close, now
            )
        if strikes.take(now):
            return False
        conn.closing = True
        self.stats.flood_closes += 1
        self.close_connection(
            conn.connection_id, CLOSE_OVER_RATE_LIMIT, "far over the action rate limit"
        )
        return True

    def disconnect(self, connection_id: ConnectionId) -> list[Effect]:
        """The connection's socket is gone; tell whoever must know.

        While the state store is out of reach the departure waits, and so does
        every later one behind it, until :meth:`apply_departures` gets through
        (a cluster link calls it once every node listens again).
        """
        conn = self._connections.pop(connection_id, None)
        if conn is None:
            return []
        address = self._address(conn.address)
        address.connections -= 1
        self._maybe_forget_address(address)
        self._departures.append(conn)
        if len(self._departures) > 1:
            return []  # behind others that wait for the store: it goes in its turn
        return self.apply_departures()

    @property
    def waiting_departures(self) -> int:
        """Departures the state store has not taken yet (it was out of reach)."""
        return len(self._departures)

    def apply_departures(self) -> list[Effect]:
        """Apply the departures that wait, oldest first; stop at the first the store refuses."""
        out: list[Effect] = []
        departures = self._departures
        while departures:
            conn = departures[0]
            try:
                out.extend(self._attempt(functools.partial(self._went_away, conn)))
            except BackendUnavailable as exc:
                logger.warning("%d departures wait for the state store: %s", len(departures), exc)
                break
            departures.popleft()
        return out

    def forget_departures(self) -> None:
        """Drop the departures that wait: another node applied them (it reaped this one)."""
        if self._departures:
            logger.warning("%d waiting departures were applied elsewhere", len(self._departures))
        self._departures.clear()

    def _went_away(self, conn: Connection) -> None:
        rules = self._dialects.get(conn.codec.name)
        role, lobby = self._place(conn)
        if rules is not None and rules.disconnected(conn):
            pass
        elif lobby is not None:
            self._member_went_away(lobby, role, conn.connection_id)

    def _member_went_away(self, lobby: Lobby, role: Role, connection_id: ConnectionId) -> None:
        rules = self._dialects.get(lobby.policy)
        if rules is not None and rules.member_lost(lobby, role, connection_id):
            return  # a dialect lobby's own rules for a drop (its member was on a dead node)
        if role is Role.PENDING:
            del lobby.pending[connection_id]
            self._to_host(lobby, ev.RequestCancelled(connection_id))
        elif role is Role.GUEST:
            self._guest_went_away(lobby, connection_id)
        elif role is Role.HOST:
            self._host_went_away(lobby)

    def reap(self, node_id: str) -> list[Effect]:
        """Apply the departure of every lobby member whose socket was on a node that died.

        Only the lobbies the backend lists as having a live member on ``node_id``
        (a connection id names its node) are read; each is one unit of work, as if
        each of those connections had dropped.
        """
        mark = f"{node_id}."
        out: list[Effect] = []
        for lobby_id in self.backend.lobbies_held_by(node_id):

            def went_away(lobby_id: LobbyId = lobby_id) -> None:
                lobby = self._tx.lobby(lobby_id)
                if lobby is None:
                    return
                for connection_id in lobby.live_members():
                    if connection_id.startswith(mark):
                        self._member_went_away(lobby, lobby.role_of(connection_id), connection_id)

            out.extend(self._unit(went_away, what="a lost node's departures"))
        return out

    def _unit(self, work: Callable[[], None], *, what: str) -> list[Effect]:
        """Apply ``work`` as one unit of work; the store out of reach: logged, nothing applied."""
        try:
            return self._attempt(work)
        except BackendUnavailable as exc:
            logger.error("%s is lost: %s", what, exc)
            return []

    def _attempt(self, work: Callable[[], None]) -> list[Effect]:
        """Apply ``work`` as one unit of work, again on fresh copies after a conflict.

        Raises :class:`BackendUnavailable` when the store is out of reach or too
        many nodes change the same lobby.
        """
        for _ in range(CONFLICT_RETRIES):
            out = self._begin()
            try:
                work()
                self._tx.commit()
                return out
            except LobbyConflict:
                continue
        raise BackendUnavailable("too many nodes are changing the same lobby")

    def next_deadline(self) -> float | None:
        """Monotonic time of the next timer, or ``None``; call :meth:`expire` then."""
        local = self._timers[0][0] if self._timers else None
        shared = self.shared_timers.next_deadline() if self.shared_timers is not None else None
        if local is None or shared is None:
            return local if shared is None else shared
        return min(local, shared)

    def expire(self) -> list[Effect]:
        """Fire every timer that is due at the clock's current time."""
        now = self.clock.monotonic()
        due: list[tuple[float, TimerKind | str, str, str]] = []
        while self._timers and self._timers[0][0] <= now:
            deadline, _, kind, key, sub = heapq.heappop(self._timers)
            due.append((deadline, kind, key, sub))
        if self.shared_timers is not None:
            try:
                due.extend(_timer_kind(timer) for timer in self.shared_timers.claim_due(now))
            except BackendUnavailable as exc:
                logger.warning("shared timers wait: %s", exc)
        if not due:
            return []
        out: list[Effect] = []
        for timer in due:
            out.extend(self._unit(functools.partial(self._fire, *timer), what="a timer"))
        return out

    def _fire(self, deadline: float, kind: TimerKind | str, key: str, sub: str) -> None:
        if isinstance(kind, str):
            rules = self._dialects.get(kind)
            if rules is not None:
                rules.expire(key, sub, deadline)
            return
        if kind is TimerKind.ADDRESS_FORGET:
            address = self._addresses.get(key)
            if address is not None:
                self._maybe_forget_address(address)
            return
        lobby = self._tx.lobby(LobbyId(key))
        if lobby is None:
            return
        if kind is TimerKind.PENDING_REQUEST:
            self._pending_timed_out(lobby, ConnectionId(sub), deadline)
        elif kind is TimerKind.GUEST_GRACE:
            self._guest_grace_over(lobby, ConnectionId(sub), deadline)
        else:
            self._host_grace_over(lobby, deadline)

    def shutdown(self) -> list[Effect]:
        """Close the lobbies this process serves with ``server_shutdown``; close every connection.

        A lobby is this process's when its host last connected here (started it
        or resumed it here) and has not resumed elsewhere since. Lobbies of other
        processes sharing the backend are left alone.
        """
        local = self._connections

        def close_hosted() -> None:
            for lobby_id in sorted(self._hosted):
                lobby = self._tx.lobby(lobby_id)
                if lobby is None:
                    continue
                host = lobby.host.connection_id
                if host is None or host in local:
                    self._close(lobby, CloseReason.SERVER_SHUTDOWN, ref=None, closer=None)

        out = self._unit(close_hosted, what="closing this node's lobbies")
        self._hosted.clear()
        for connection_id in local:
            out.append(CloseConnection(connection_id, CLOSE_GOING_AWAY, "server shutting down"))
        return out


def _timer_kind(timer: SharedTimer) -> tuple[float, TimerKind | str, str, str]:
    """A shared timer with its kind read back (a :class:`TimerKind` or a dialect's name)."""
    when, kind, key, sub = timer
    return when, TimerKind.__members__.get(kind, kind), key, sub
