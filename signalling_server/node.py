"""The signalling node: the registry, its timers and delivery, with transports attached.

A transport (websockets, HTTP polling ...) accepts a client, picks its codec
and gives the node an :class:`Outlet`, the connection's way out. From then on
it feeds the node what the client sends (:meth:`SignallingNode.receive`) and
says when the client is gone (:meth:`~SignallingNode.detach`). The node applies
each input to the :class:`~signalling_server.registry.LobbyRegistry` and
carries out the effects: every event is encoded with its target's codec and
written to its target's outlet, in order.

The node knows nothing of sockets or HTTP; it owns the one asyncio task that
fires the registry's timers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from .backend import BackendUnavailable, StateBackend
from .clock import Clock
from .codecs import Codec
from .config import ServerConfig
from .effects import CLOSE_GOING_AWAY, CloseConnection, Effect, Send
from .ids import ConnectionId
from .registry import LobbyRegistry

logger = logging.getLogger(__name__)
T = TypeVar("T")


class Outlet(Protocol):
    """One connection's way out, made by the transport that holds it."""

    def send(self, frame: bytes) -> bool:
        """Queue one frame; ``False`` when the connection can no longer take it."""
        ...

    def close(self, code: int, reason: str) -> None:
        """Close the connection (a websocket close code and reason)."""
        ...


class Forwarder(Protocol):
    """Carries effects for connections that other nodes of a cluster hold."""

    def holds_elsewhere(self, connection_id: ConnectionId) -> bool:
        """Whether another node holds the connection."""
        ...

    def forward(self, effect: Send | CloseConnection) -> None:
        """Queue the effect for that node (in order)."""
        ...


@dataclass(frozen=True, slots=True)
class NodeCounters:
    """A snapshot of the live counters."""

    connections: int
    lobbies: int
    relayed: int
    errors: dict[str, int]


@dataclass(slots=True, eq=False)
class _Attached:
    codec: Codec
    outlet: Outlet


class SignallingNode:
    """Applies what connections send to the registry and delivers what it answers."""

    def __init__(
        self,
        config: ServerConfig,
        *,
        clock: Clock | None = None,
        backend: StateBackend | None = None,
        on_join_accepted: Callable[[float], None] | None = None,
    ) -> None:
        self.config = config
        self.registry = LobbyRegistry(
            limits=config.limits,
            timeouts=config.timeouts,
            ice=config.ice,
            clock=clock,
            backend=backend,
            on_join_accepted=on_join_accepted,
            dialect_time_scale=config.dialect_time_scale,
        )
        self._attached: dict[ConnectionId, _Attached] = {}
        #: Set by a cluster link: effects for connections held by other nodes go there.
        self.forwarder: Forwarder | None = None
        self._timer_task: asyncio.Task[None] | None = None
        self._timer_due = math.inf
        self._wake: asyncio.Event | None = None

    # Connections ------------------------------------------------------------------

    @property
    def connection_count(self) -> int:
        return len(self._attached)

    def attach(self, address: str, codec: Codec, outlet: Outlet) -> ConnectionId:
        """A client connected from ``address``; returns its connection id."""
        connection_id = self.registry.connect(address, codec)
        self._attached[connection_id] = _Attached(codec, outlet)
        self._apply(self.registry.opened(connection_id))
        return connection_id

    def run(self, work: Callable[[], T]) -> T:
        """Apply ``work`` to the registry as one unit of work and deliver what it says.

        For HTTP routes of the dialects: ``work`` calls the dialect's rules.
        """
        result, effects = self.registry.run(work)
        self._apply(effects)
        return result

    def receive(self, connection_id: ConnectionId, frame: str | bytes) -> None:
        """One frame from a client (``bytes`` for a binary frame)."""
        effects = self.registry.receive(connection_id, frame)
        if type(effects) is Send:
            self._deliver(effects)  # a relay: one event, no timer planned
        else:
            self._apply(effects)  # type: ignore[arg-type]

    def detach(self, connection_id: ConnectionId) -> None:
        """The client is gone; tell whoever must know."""
        if self._attached.pop(connection_id, None) is not None:
            self._apply(self.registry.disconnect(connection_id))

    def deliver(self, effect: Send | CloseConnection) -> None:
        """Carry out an effect another node forwarded (its connection should be held here)."""
        if isinstance(effect, Send):
            self._deliver(effect)
        else:
            self._close(effect)

    def undelivered(self, send: Send, *, store_lost: bool = False) -> None:
        """A forwarded event found nobody: its sender (if any) hears so.

        ``store_lost``: it could not even be handed to the state store (Redis away).
        """
        origin = send.origin
        if origin is not None and origin.sender != send.target:
            self._deliver(self.registry.undeliverable(origin, store_lost=store_lost))

    def apply(self, effects: list[Effect]) -> None:
        """Carry out effects the registry returned outside an input (a dead node's departures)."""
        self._apply(effects)

    def apply_waiting_departures(self) -> None:
        """The state store is back: apply the departures that waited for it, in order."""
        if self.registry.waiting_departures:
            self._apply(self.registry.apply_departures())

    def close_all(self, code: int, reason: str) -> None:
        """Close every connection this node holds."""
        for attached in list(self._attached.values()):
            attached.outlet.close(code, reason)

    @property
    def counters(self) -> NodeCounters:
        stats = self.registry.stats
        try:
            lobbies = self.registry.backend.lobby_count() + self.registry.dialect_room_count()
        except BackendUnavailable:
            lobbies = 0  # a cluster's Redis is away; /healthz says degraded meanwhile
        return NodeCounters(
            connections=len(self._attached),
            lobbies=lobbies,
            relayed=stats.relayed,
            errors=dict(stats.errors),
        )

    # Life cycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Start firing the registry's timers (needs a running event loop)."""
        self._wake = asyncio.Event()
        self._timer_task = asyncio.create_task(self._run_timers(), name="lobbyhost-timers")

    def shut_down(self) -> None:
        """Tell every lobby this node hosts ``server_shutdown``, then close every connection."""
        for effect in self.registry.shutdown():
            if isinstance(effect, Send):
                self._deliver(effect)
        for attached in list(self._attached.values()):
            attached.outlet.close(CLOSE_GOING_AWAY, "server shutting down")

    async def stop(self) -> None:
        """Stop the timers."""
        if self._timer_task is not None:
            self._timer_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer_task
            self._timer_task = None

    # Delivery -------------------------------------------------------------------------

    def _apply(self, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Send):
                self._deliver(effect)
            else:
                self._close(effect)
        deadline = self.registry.next_deadline()
        if deadline is not None and deadline < self._timer_due and self._wake is not None:
            self._wake.set()

    def _deliver(self, send: Send) -> None:
        attached = self._attached.get(send.target)
        if attached is not None:
            frame = attached.codec.encode(send.event, send.ref)
            if frame is None or attached.outlet.send(frame):
                return  # delivered, or nothing this client's dialect would say
        elif self.forwarder is not None and self.forwarder.holds_elsewhere(send.target):
            self.forwarder.forward(send)
            return
        origin = send.origin
        if origin is not None and origin.sender != send.target:
            # A relay whose recipient is gone (closing, or not on this node): the
            # sender hears so rather than assume it arrived (on its own node).
            self._deliver(self.registry.undeliverable(origin))
        elif attached is None:
            logger.debug("no connection %s on this node for %s", send.target, send.event)

    def _close(self, effect: CloseConnection) -> None:
        attached = self._attached.get(effect.connection_id)
        if attached is not None:
            attached.outlet.close(effect.code, effect.reason)
        elif self.forwarder is not None and self.forwarder.holds_elsewhere(effect.connection_id):
            self.forwarder.forward(effect)

    async def _run_timers(self) -> None:
        registry = self.registry
        wake = self._wake
        assert wake is not None
        while True:
            deadline = registry.next_deadline()
            self._timer_due = math.inf if deadline is None else deadline
            wake.clear()
            delay = None if deadline is None else max(0.0, deadline - registry.clock.monotonic())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await wake.wait()
            self._apply(registry.expire())


__all__ = ["Forwarder", "NodeCounters", "Outlet", "SignallingNode"]
