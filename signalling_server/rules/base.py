"""State and helpers shared by every group of rules.

:class:`RegistryBase` owns the registry's per-process state (connections,
per-address usage, the timer schedule), the unit of work of the input being
applied, and the helpers every rule uses to read lobbies and queue effects.
The rules themselves live beside it, one module per part of protocol v1, and
:class:`~signalling_server.registry.LobbyRegistry` puts them together.

Rules never encode anything: they queue :class:`~signalling_server.effects.Send`
effects carrying typed events, and the connection's codec turns them into
frames at the edge.
"""

from __future__ import annotations

import enum
import functools
import heapq
import itertools
import logging
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final, Protocol

from ..address_budgets import SharedAddressBudgets
from ..address_keys import budget_key
from ..backend import MemoryBackend, StateBackend
from ..clock import Clock, SystemClock
from ..config import Limits, Timeouts
from ..dialect import ActionHandler, DialectRules
from ..effects import CloseConnection, Effect, Origin, Send
from ..ice import IceConfig
from ..ids import ConnectionId, LobbyId, new_connection_id
from ..limits import SlidingWindow
from ..lobby import SNAPSHOT_RECORD, Connection, Lobby, Role, snapshot_key
from ..policy import NATIVE, POLICIES, LobbyPolicy
from ..protocol import actions as a
from ..protocol import events as ev
from ..protocol.codes import CloseReason, ErrorCode, RejectReason
from ..protocol.errors import ProtocolError
from ..unit_of_work import UnitOfWork

E = ErrorCode
logger = logging.getLogger("signalling_server.registry")


@dataclass(slots=True)
class RegistryStats:
    """Live counters, read by /metrics and the embedding API."""

    relayed: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    lobbies_started: int = 0
    joins_accepted: int = 0
    #: Connections closed for flooding far past their action rate limit.
    flood_closes: int = 0


class TimerKind(enum.Enum):
    PENDING_REQUEST = 1
    GUEST_GRACE = 2
    HOST_GRACE = 3
    ADDRESS_FORGET = 4


#: A timer as a shared schedule holds it: ``(when, kind, key, sub)``, ``kind`` a
#: :class:`TimerKind`'s name or a dialect's name.
SharedTimer = tuple[float, str, str, str]


class SharedTimers(Protocol):
    """A schedule several registries share (a cluster's): each timer fires once, on one of them."""

    def entry(self, when: float, kind: str, key: str, sub: str) -> tuple[str, bytes]:
        """A timer as the commit stores it: (the sorted set's key, its member)."""
        ...

    def planned(self, when: float) -> None:
        """A timer this registry planned is stored: look for it on time."""
        ...

    def next_deadline(self) -> float | None:
        """When this registry should next look for due timers (``None``: not before told)."""
        ...

    def claim_due(self, now: float) -> list[SharedTimer]:
        """Take the timers due at ``now``; no other registry gets them."""
        ...


@dataclass(slots=True, eq=False)
class AddressUsage:
    """What one source address (its :func:`budget_key`) has used: lobbies, joins, connections."""

    key: str
    joins: SlidingWindow
    http_requests: SlidingWindow
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
        policies: Mapping[str, LobbyPolicy] = POLICIES,
        dialect_time_scale: float = 1.0,
    ) -> None:
        self.limits = limits or Limits()
        self.timeouts = timeouts or Timeouts()
        self.ice = ice or IceConfig()
        self.clock: Clock = clock or SystemClock()
        self.backend: StateBackend = backend or MemoryBackend()
        self.policies = policies
        #: Multiplies every timer a dialect plans (tests of expiry run in seconds).
        self.dialect_time_scale = dialect_time_scale
        self._dialects: dict[str, DialectRules] = {}
        self.stats = RegistryStats()
        self._on_join_accepted = on_join_accepted
        self._connections: dict[ConnectionId, Connection] = {}
        #: Lobbies whose host connected through this registry (to start or resume them).
        self._hosted: set[LobbyId] = set()
        self._addresses: dict[str, AddressUsage] = {}
        #: ``(when, seq, kind, key, sub)``; ``kind`` a TimerKind or a dialect's name.
        self._timers: list[tuple[float, int, TimerKind | str, str, str]] = []
        self._timer_seq = itertools.count()
        #: Lobby and dialect timers go here instead when several registries share
        #: the backend (address budgets are this process's and stay local).
        self.shared_timers: SharedTimers | None = None
        #: Open lobbies and join attempts are counted here instead when several
        #: registries share the backend, so a client spread across nodes gets one budget.
        self.shared_budgets: SharedAddressBudgets | None = None
        #: Makes connection ids; a cluster node's carry its node id, for routing.
        self.new_connection_id: Callable[[], ConnectionId] = new_connection_id
        #: Budgets the input being applied has spent (and whether it could), by name: an
        #: input applied again after a conflict spends nothing more.
        self._charges: dict[str, bool] = {}
        #: Connections gone while the store was out of reach, whose departures wait (in order).
        self._departures: deque[Connection] = deque()
        self._out: list[Effect] = []
        self._tx = UnitOfWork(self.backend)
        self._handlers = self._make_handlers()

    def _make_handlers(self) -> dict[type[a.Action], ActionHandler]:
        """Which method applies each action; the registry that composes the rules says."""
        return {}

    def _begin(self) -> list[Effect]:
        """Start applying one input: a fresh list of effects and a fresh unit of work."""
        self._out = []
        self._tx = UnitOfWork(self.backend)
        return self._out

    def _new_input(self) -> None:
        """A new input (not the same one applied again): its budgets are still to spend."""
        if self._charges:
            self._charges.clear()

    def lobby_opened(self, address: str, lobby_id: LobbyId | None = None) -> None:
        """After the commit: a lobby started here counts against its host's address.

        With ``lobby_id`` it is this process's to close with ``server_shutdown``.
        A cluster counted it already, in :meth:`count_claimed_lobby`.
        """
        if self.shared_budgets is None:
            self._address(address).open_lobbies += 1
        if lobby_id is not None:
            self._hosted.add(lobby_id)
        self.stats.lobbies_started += 1

    def _lobby_ended(self, address: str, lobby_id: LobbyId) -> None:
        """After the commit: a closed lobby no longer counts against its host's address."""
        self._hosted.discard(lobby_id)
        self._uncount_lobby(address, lobby_id)

    def _schedule(self, when: float, kind: TimerKind | str, key: str, sub: str) -> None:
        shared = self.shared_timers
        if shared is not None and kind is not TimerKind.ADDRESS_FORGET:
            # Stored with the unit of work, so an input applied again (or refused)
            # leaves no extra timer behind.
            name = kind.name if isinstance(kind, TimerKind) else kind
            set_key, entry = shared.entry(when, name, key, sub)
            self._tx.plan_timer(set_key, when, entry)
            self._tx.after_commit(functools.partial(shared.planned, when))
            return
        heapq.heappush(self._timers, (when, next(self._timer_seq), kind, key, sub))

    # The rule context: what dialect rules (signalling_server.dialect) use ------------------

    @property
    def tx(self) -> UnitOfWork:
        """The unit of work of the input being applied."""
        return self._tx

    def send(
        self,
        target: ConnectionId,
        event: ev.Event,
        ref: str | None = None,
        origin: Origin | None = None,
    ) -> None:
        """Tell ``target`` ``event`` (``origin``: whom to tell if it cannot be delivered)."""
        self._out.append(Send(target, event, ref, origin))

    def close_connection(self, connection_id: ConnectionId, code: int, reason: str) -> None:
        """Close a connection's socket once the effects so far are delivered."""
        self._out.append(CloseConnection(connection_id, code, reason))

    def place(self, conn: Connection) -> tuple[Role, Lobby | None]:
        """Where a connection stands, read from its lobby's record."""
        return self._place(conn)

    def local_connection(self, connection_id: ConnectionId) -> Connection | None:
        """A connection held by this process, or ``None``."""
        return self._connections.get(connection_id)

    def schedule(self, delay: float, dialect: str, key: str, sub: str = "") -> float:
        """Fire ``dialect``'s ``expire(key, sub, deadline)`` after ``delay`` dialect seconds.

        ``delay`` is multiplied by :attr:`dialect_time_scale`; returns the deadline.
        """
        when = self.clock.monotonic() + delay * self.dialect_time_scale
        self._schedule(when, dialect, key, sub)
        return when

    def take_http_request(self, address: str) -> bool:
        """Spend one of ``address``'s requests to dialect HTTP routes; ``False``: over budget."""
        usage = self._address(address)
        allowed = usage.http_requests.take(self.clock.monotonic())
        self._maybe_forget_address(usage)
        return allowed

    def take_join_attempt(self, address: str) -> bool:
        """Spend one of ``address``'s join and resume attempts; ``False``: over budget.

        Spent once per input, however often the input is applied after conflicts.
        """
        charged = self._charges.get("join")
        if charged is None:
            charged = self._charges["join"] = self._spend_join_attempt(address)
        return charged

    def _spend_join_attempt(self, address: str) -> bool:
        now = self.clock.monotonic()
        shared = self.shared_budgets
        if shared is None:
            return self._address(address).joins.take(now)
        limit = self.limits.joins_per_address_per_minute
        return shared.take_join(budget_key(address), now, limit=limit, window=JOIN_WINDOW_S)

    def lobby_budget_left(self, address: str, *, moving: int = 0) -> bool:
        """Whether ``address`` may open one more lobby (``moving``: lobbies it gives up for it)."""
        limit = self.limits.lobbies_per_address + moving
        shared = self.shared_budgets
        if shared is None:
            return self._address(address).open_lobbies < limit
        return shared.open_lobbies(budget_key(address)) < limit

    def count_claimed_lobby(self, lobby: Lobby, *, moving: int = 0) -> bool:
        """Count a lobby just claimed against its host's address; ``False``: over budget.

        Only a cluster's shared count can be over here (another node opened one
        since :meth:`lobby_budget_left`); the input then fails and nothing is
        stored. One process counts the lobby after the commit (:meth:`lobby_opened`).
        """
        shared = self.shared_budgets
        if shared is None:
            return True
        limit = self.limits.lobbies_per_address + moving
        return shared.lobby_opened(budget_key(lobby.host_address), lobby.lobby_id, limit=limit)

    def _uncount_lobby(self, host_address: str, lobby_id: LobbyId) -> None:
        """The lobby no longer counts against its host's address."""
        shared = self.shared_budgets
        if shared is not None:
            shared.lobby_closed(budget_key(host_address), lobby_id)
            return
        address = self._addresses.get(budget_key(host_address))
        if address is not None and address.open_lobbies > 0:
            address.open_lobbies -= 1
            self._maybe_forget_address(address)

    # Reading state -----------------------------------------------------------------------

    def _address(self, address: str) -> AddressUsage:
        """The usage of ``address``'s budget key (every address of an IPv6 /64 shares one)."""
        key = budget_key(address)
        state = self._addresses.get(key)
        if state is None:
            joins = SlidingWindow(self.limits.joins_per_address_per_minute, JOIN_WINDOW_S)
            requests = SlidingWindow(
                self.limits.http_requests_per_address_per_minute, JOIN_WINDOW_S
            )
            state = self._addresses[key] = AddressUsage(key, joins, requests)
        return state

    def _maybe_forget_address(self, address: AddressUsage) -> None:
        # Join attempts are remembered past a disconnect: reconnecting must not
        # reset the budget that stops code guessing.
        if address.connections or address.open_lobbies:
            return
        now = self.clock.monotonic()
        if address.joins.idle(now) and address.http_requests.idle(now):
            del self._addresses[address.key]
        else:
            forget_at = self.clock.monotonic() + JOIN_WINDOW_S
            self._schedule(forget_at, TimerKind.ADDRESS_FORGET, address.key, "")

    def _policy(self, lobby: Lobby) -> LobbyPolicy:
        return self.policies.get(lobby.policy, NATIVE)

    def _place(self, conn: Connection, *, reading: bool = False) -> tuple[Role, Lobby | None]:
        """Where a connection stands, read from its lobby's record.

        ``reading``: the caller only reads the lobby (a relay), so a shared copy does.
        """
        if conn.lobby_id is None:
            return Role.IDLE, None
        tx = self._tx
        lobby = tx.peek(conn.lobby_id) if reading else tx.lobby(conn.lobby_id)
        role = Role.IDLE if lobby is None else lobby.role_of(conn.connection_id)
        if role is Role.IDLE:
            conn.lobby_id = None  # closed, kicked or rejected since: the hint is stale
            return role, None
        return role, lobby

    def role_of(self, connection_id: ConnectionId) -> Role:
        """The role of a local connection as its lobby's record says (``IDLE`` if unknown)."""
        conn = self._connections.get(connection_id)
        if conn is None or conn.lobby_id is None:
            return Role.IDLE
        lobby = self.backend.peek_lobby(conn.lobby_id)
        return Role.IDLE if lobby is None else lobby.role_of(connection_id)

    def _require_idle(self, conn: Connection) -> None:
        role, _ = self._place(conn)
        if role is not Role.IDLE:
            raise ProtocolError(E.ALREADY_IN_LOBBY, f"this connection is already {role.value}")

    def _require_host(self, conn: Connection) -> Lobby:
        role, lobby = self._place(conn)
        if role is not Role.HOST or lobby is None:
            raise self._wrong_role(role, "only the lobby's host can do that")
        return lobby

    def _require_member(self, conn: Connection) -> tuple[Role, Lobby]:
        """The host or an accepted guest, with its lobby."""
        role, lobby = self._place(conn)
        if role is Role.IDLE or lobby is None:
            raise ProtocolError(E.NOT_IN_LOBBY, "join or start a lobby first")
        if role is Role.PENDING:
            raise ProtocolError(E.NOT_ACCEPTED, "wait until the host accepts you")
        return role, lobby

    @staticmethod
    def _wrong_role(role: Role, message: str) -> ProtocolError:
        if role is Role.IDLE:
            return ProtocolError(E.NOT_IN_LOBBY, "this connection is not in a lobby")
        if role is Role.PENDING:
            return ProtocolError(E.NOT_ACCEPTED, "wait until the host accepts you")
        return ProtocolError(E.NOT_HOST, message)

    # Queueing effects ----------------------------------------------------------------------

    def _send(self, target: ConnectionId, event: ev.Event, ref: str | None = None) -> None:
        self._out.append(Send(target, event, ref))

    def _to_host(self, lobby: Lobby, notice: ev.HostNotice) -> None:
        """Tell the host; while it is away, keep the notice for its resume."""
        host = lobby.host.connection_id
        if host is not None:
            self._send(host, notice)
            return
        backlog = lobby.host_backlog
        if isinstance(notice, ev.GuestResumed) and _fold_resume(backlog, notice):
            return
        backlog.append(notice)
        bound = 4 * (lobby.max_guests + self.limits.pending_per_lobby)
        if len(backlog) > bound:
            # Not expected (the folding above keeps the backlog to about two notices
            # a member); said loudly, never dropped silently.
            logger.error(
                "lobby %s: %d notices wait for its host (bound %d)",
                lobby.lobby_id,
                len(backlog),
                bound,
            )

    def _error(
        self,
        conn: Connection,
        code: ErrorCode,
        message: str,
        action: str | None,
        ref: str | None,
    ) -> None:
        self.stats.errors[code.value] += 1
        self._send(conn.connection_id, ev.Error(code, message, action, ref), ref)

    def undeliverable(self, origin: Origin, *, store_lost: bool = False) -> Send:
        """The error for a sender whose relay found its recipient gone before delivery.

        ``store_lost``: the relay could not be passed on to the recipient's node at
        all (the state store is out of reach), so it may be retried later.
        """
        if store_lost:
            code = E.SERVER_UNAVAILABLE
            message = "the server lost its state store before this could be delivered"
        else:
            code = E.UNKNOWN_CONNECTION
            message = "the recipient disconnected before this could be delivered"
        self.stats.errors[code.value] += 1
        return Send(origin.sender, ev.Error(code, message, origin.action, origin.ref), origin.ref)

    # Shared by several groups of rules --------------------------------------------------

    def _drop_request(
        self,
        lobby: Lobby,
        connection_id: ConnectionId,
        reason: RejectReason,
        message: str | None = None,
    ) -> None:
        """Remove a pending request and tell the joiner why (``request_rejected``)."""
        del lobby.pending[connection_id]
        self._send(connection_id, ev.RequestRejected(lobby.lobby_id, reason, message))

    def _lobby_info(self, lobby: Lobby) -> ev.LobbyInfo:
        host = lobby.host
        return ev.LobbyInfo(
            lobby_id=lobby.lobby_id,
            name=lobby.name,
            open=lobby.open,
            max_guests=lobby.max_guests,
            has_password=lobby.password is not None,
            host=ev.MemberInfo(host.last_connection_id, host.name, host.peer_id),
            guests=[
                ev.MemberInfo(cid, member.name, member.peer_id)
                for cid, member in lobby.guests.items()
            ],
            offerer=self._policy(lobby).offerer.value,
            migratable=lobby.migratable,
        )

    def _ice_servers_for(self, connection_id: ConnectionId) -> list[ev.IceServerInfo]:
        return self.ice.servers_for(connection_id, self.clock.wall())

    def _host_away_notice(self, lobby: Lobby) -> ev.HostDisconnected:
        deadline = lobby.host.away_deadline or self.clock.monotonic()
        grace = max(0.0, deadline - self.clock.monotonic())
        return ev.HostDisconnected(lobby.lobby_id, round(grace, 3))

    def _close(
        self, lobby: Lobby, reason: CloseReason, *, ref: str | None, closer: Connection | None
    ) -> None:
        """End a lobby: everyone in it (and waiting on it) gets ``lobby_closed``."""
        notice = ev.LobbyClosed(lobby.lobby_id, reason)
        closer_id = closer.connection_id if closer is not None else None
        for connection_id in lobby.live_members():
            self._send(connection_id, notice, ref if connection_id == closer_id else None)
        for member in (lobby.host, *lobby.guests.values(), *lobby.away.values()):
            self._tx.drop_token(member.token_id)
        for snapshot in lobby.snapshots:
            self._tx.remove_record(SNAPSHOT_RECORD, snapshot_key(lobby.lobby_id, snapshot.seq))
        self._tx.remove(lobby.lobby_id)
        self._tx.after_commit(
            functools.partial(self._lobby_ended, lobby.host_address, lobby.lobby_id)
        )


def _fold_resume(backlog: list[ev.HostNotice], notice: ev.GuestResumed) -> bool:
    """Fold a guest's second resume into the first one the backlog holds.

    ``guest_resumed{a->b}``, ``guest_left{b}``, ``guest_resumed{b->c}`` become
    ``guest_resumed{a->c}``: the host, away all along, only needs the guest's
    latest id, and a guest that drops and resumes over and over cannot fill the
    backlog.
    """
    for index, item in enumerate(backlog):
        if isinstance(item, ev.GuestResumed) and item.connection_id == notice.old_connection_id:
            backlog[index] = ev.GuestResumed(item.old_connection_id, notice.connection_id)
            backlog[:] = [
                kept
                for kept in backlog
                if not (
                    isinstance(kept, ev.GuestLeft)
                    and kept.connection_id == notice.old_connection_id
                )
            ]
            return True
    return False


def clean_name(value: str | None, default: str) -> str:
    if value is None:
        return default
    return a.clean_text(value, field="name", max_length=a.MAX_NAME_LENGTH)


def clean_message(*values: str | None) -> str | None:
    """The first of ``values`` given, cleaned; ``None`` when none is."""
    for value in values:
        if value is not None:
            return a.clean_text(value, field="message", max_length=a.MAX_REASON_LENGTH)
    return None
