"""One node's place in a cluster: its id, its channel, its heartbeat, delivery to the others.

Each node holds its own sockets. A connection id starts with the id of the
node that holds it (``<node>.<random>``), so any node knows where an event
goes without asking: an event for a connection held elsewhere is queued, and
once per loop tick one publisher task publishes one batch per destination
node on that node's Redis channel, written straight to one Redis socket and
pipelined (:mod:`.redis_sockets`), in order, so events for one connection
keep their order. The receiving node decodes a batch and writes its events
in the socket's callback, with no task or queue per event, and records the
hop (publish to write) in a histogram. When
nobody is subscribed to the channel (the node died, or its link to Redis is
down) the event's sender hears ``unknown_connection``, as on one node when the
recipient is gone; when the publish itself fails (Redis away) it hears
``server_unavailable``: nothing forwarded is lost without a word.

Every node writes a heartbeat (its id in a sorted set, scored with the time).
A node whose heartbeat is older than ``node_timeout`` is dead: the first node
to take its id out of the set (atomically: only one does) applies the
departure of every lobby member it held, so hosts see ``guest_left`` and
guests ``host_disconnected``, and the grace periods start; members come back
with ``resume`` on any node.

While Redis cannot be reached, the node keeps its sockets, refuses actions
with ``server_unavailable``, says ``degraded`` on ``/healthz`` and reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import deque
from dataclasses import dataclass
from typing import Final

import redis.asyncio
import redis.asyncio.retry
import redis.backoff
import redis.exceptions

from ..backend import BackendUnavailable
from ..backend.redis import RedisBackend
from ..effects import CloseConnection, Send
from ..ids import ConnectionId
from ..node import SignallingNode
from .hops import HopHistogram
from .redis_sockets import PublishError, RedisPublisher, RedisSubscription, open_subscription
from .timers import RedisTimers
from .wire import EventTypes, WireError, decode_batch, encode_batch, envelope

logger = logging.getLogger(__name__)

#: Close code for the sockets of a node that found itself declared dead (1012: service restart).
CLOSE_SERVICE_RESTART: Final = 1012
#: Most envelopes published in one round (one pipeline); the rest go in the next.
PUBLISH_BATCH: Final = 512
#: Longest wait between two attempts to reach Redis again.
MAX_BACKOFF: Final = 1.0
#: Seconds the link's tasks get to end when it stops.
STOP_TIMEOUT: Final = 5.0
#: How often other nodes' due timers are looked for.
TIMER_POLL: Final = 0.1

_REDIS_ERRORS: Final = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)


@dataclass(slots=True)
class ClusterStats:
    """Counters of the cluster link, read by /metrics."""

    forwarded: int = 0
    received: int = 0
    undeliverable: int = 0
    redis_errors: int = 0
    reconnects: int = 0
    nodes_reaped: int = 0


class ClusterLink:
    """Joins a :class:`SignallingNode` on a :class:`RedisBackend` to the other nodes."""

    def __init__(
        self,
        node: SignallingNode,
        backend: RedisBackend,
        *,
        heartbeat: float,
        node_timeout: float,
        node_id: str | None = None,
    ) -> None:
        self.node = node
        self.backend = backend
        self.node_id = node_id or secrets.token_hex(4)
        self.heartbeat = heartbeat
        self.node_timeout = node_timeout
        self.stats = ClusterStats()
        #: Seconds from a batch's publish on another node to its events' writes here.
        self.hops = HopHistogram()
        self._prefix = backend.prefix
        self._nodes_key = f"{self._prefix}nodes"
        self._types = EventTypes()
        self._own_channel = self.channel(self.node_id).encode()
        self._changes_channel = backend.changes_channel.encode()
        # Reconnecting is this link's job (with its own backoff, reported in /healthz).
        self._client = redis.asyncio.Redis.from_url(
            backend.url,
            socket_timeout=heartbeat,
            socket_connect_timeout=heartbeat,
            retry=redis.asyncio.retry.Retry(redis.backoff.NoBackoff(), 1),
        )
        #: Where batches for other nodes are published (see :mod:`.publisher`).
        self._publisher = RedisPublisher(backend.url, connect_timeout=heartbeat)
        self._subscription: RedisSubscription | None = None
        self._outbox: deque[tuple[str, Send | CloseConnection]] = deque()
        self._outbox_ready: asyncio.Event | None = None
        self._drained: asyncio.Event | None = None
        #: When this node last got (back) in touch with Redis; it reaps no one before
        #: node_timeout has passed since, so nodes cut off together are not reaped on return.
        self._healthy_since = 0.0
        self._tasks: list[asyncio.Task[None]] = []
        self._subscribed = False
        self._beating = False
        self._joined = False
        self._left = False
        self._closed = False
        backend.enable_cache()
        registry = node.registry
        registry.new_connection_id = self._new_connection_id
        registry.shared_timers = RedisTimers(
            backend.client, f"{self._prefix}timers", poll_interval=TIMER_POLL
        )
        node.forwarder = self

    # What the node asks ---------------------------------------------------------

    @property
    def healthy(self) -> bool:
        """Subscribed to this node's channel and heartbeating."""
        return self._subscribed and self._beating

    def channel(self, node_id: str) -> str:
        """The channel of the node ``node_id``: events for the connections it holds."""
        return f"{self._prefix}node:{node_id}"

    def _new_connection_id(self) -> ConnectionId:
        return ConnectionId(f"{self.node_id}.{secrets.token_urlsafe(12)}")

    def holds_elsewhere(self, connection_id: ConnectionId) -> bool:
        """Whether another node holds this connection (its id names that node)."""
        node_id, dot, _ = connection_id.partition(".")
        return bool(dot) and node_id != self.node_id

    def forward(self, effect: Send | CloseConnection) -> None:
        """Queue an event or a close for the node that holds its connection."""
        target = effect.target if isinstance(effect, Send) else effect.connection_id
        # Encoded by the publisher, a whole tick's worth at a time.
        self._outbox.append((target.partition(".")[0], effect))
        ready = self._outbox_ready
        if ready is not None and not ready.is_set() and self._drained is not None:
            self._drained.clear()
            ready.set()

    # Life cycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Subscribe, write the first heartbeat and start the tasks; raises if Redis is away."""
        self._outbox_ready = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        try:
            await self._beat()
            await self._subscribe()
        except _REDIS_ERRORS as exc:
            await self._close_clients()
            raise BackendUnavailable(f"cannot reach Redis at {self.backend.url}: {exc}") from exc
        self._tasks = [
            asyncio.create_task(self._run_subscriber(), name="cluster-subscriber"),
            asyncio.create_task(self._run_publisher(), name="cluster-publisher"),
            asyncio.create_task(self._run_heartbeat(), name="cluster-heartbeat"),
        ]
        logger.info("node %s joined the cluster on %s", self.node_id, self.backend.url)

    async def stop_as_if_killed(self) -> None:
        """Stop talking to the cluster without leaving it, as a killed process would.

        For fault injection in tests: the other nodes find the heartbeat stale and
        apply this node's departures. :meth:`stop` afterwards only disconnects.
        """
        self._left = True
        await self._cancel_tasks()
        # A killed process's sockets close: nothing more is read or published here.
        if self._subscription is not None:
            self._subscription.close()
        self._publisher.close()
        self._subscribed = self._beating = False

    async def stop(self) -> None:
        """Send what is queued, leave the cluster (nobody reaps a node that left) and disconnect."""
        if self._closed:
            return
        self._closed = True
        if self._drained is not None and self._tasks:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.heartbeat):
                    await self._drained.wait()
        await self._cancel_tasks()
        if not self._left:
            with contextlib.suppress(*_REDIS_ERRORS):
                await self._client.zrem(self._nodes_key, self.node_id)
        self._subscribed = self._beating = False
        await self._close_clients()
        self.backend.close()

    async def _cancel_tasks(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        if not tasks:
            return
        # Bounded: a client library that held on to a cancellation must not hold a shutdown.
        _, pending = await asyncio.wait(tasks, timeout=STOP_TIMEOUT)
        for task in pending:
            logger.error("node %s: task %s did not stop", self.node_id, task.get_name())

    async def _close_clients(self) -> None:
        self._publisher.close()
        if self._subscription is not None:
            self._subscription.close()
        await self._client.aclose()

    # Receiving ---------------------------------------------------------------------

    async def _subscribe(self) -> None:
        self._subscription = await open_subscription(
            self.backend.url,
            self._on_message,
            [self._own_channel, self._changes_channel],
            connect_timeout=self.heartbeat,
        )
        # Announcements may have been missed while unsubscribed: read everything afresh.
        self.backend.forget_cached()
        self._subscribed = True

    def _on_message(self, channel: bytes, data: bytes) -> None:
        """A message on this node's channel or the changes channel, as it is read."""
        if channel == self._changes_channel:
            self.backend.lobby_changed(data)
        else:
            self._receive(data)

    async def _run_subscriber(self) -> None:
        while True:
            subscription = self._subscription
            assert subscription is not None
            await subscription.closed
            self._lost_redis("subscription", PublishError("the subscribed connection closed"))
            self._subscribed = False
            self.backend.forget_cached()  # no announcements reach us now
            backoff = 0.05
            while True:
                await asyncio.sleep(backoff)
                backoff = min(MAX_BACKOFF, backoff * 2)
                try:
                    await self._subscribe()
                except _REDIS_ERRORS:
                    continue
                self.stats.reconnects += 1
                logger.warning("node %s: subscribed again", self.node_id)
                break

    def _receive(self, data: bytes) -> None:
        try:
            sent_at, effects = decode_batch(data, self._types)
        except WireError as exc:
            logger.error("node %s: dropped a batch: %s", self.node_id, exc)
            return
        self.stats.received += len(effects)
        deliver = self.node.deliver
        for effect in effects:
            deliver(effect)
        self.hops.observe(time.time() - sent_at, len(effects))

    # Sending ------------------------------------------------------------------------

    async def _run_publisher(self) -> None:
        ready, drained = self._outbox_ready, self._drained
        assert ready is not None and drained is not None
        outbox = self._outbox
        while True:
            await ready.wait()
            ready.clear()
            while outbox:
                await self._publish_round(outbox)
            drained.set()

    async def _publish_round(self, outbox: deque[tuple[str, Send | CloseConnection]]) -> None:
        """Publish what is queued (up to a batch): one message per node, in queued order.

        The round is written without waiting for Redis's replies (they come back
        to :meth:`_published`), so the next tick's round can follow at once.
        """
        by_node: dict[str, list[Send | CloseConnection]] = {}
        for _ in range(min(PUBLISH_BATCH, len(outbox))):
            node_id, effect = outbox.popleft()
            by_node.setdefault(node_id, []).append(effect)
        types, sent_at = self._types, time.time()
        messages = [
            (
                self.channel(node_id).encode(),
                encode_batch([envelope(e, types) for e in effects], sent_at),
            )
            for node_id, effects in by_node.items()
        ]
        publisher = self._publisher
        try:
            if not publisher.connected:
                await publisher.connect()
            publisher.publish(messages, lambda counts: self._published(by_node, counts))
        except PublishError as exc:
            self._lost_redis("publishing", exc)
            self._published(by_node, None)

    def _published(
        self, by_node: dict[str, list[Send | CloseConnection]], counts: list[int] | None
    ) -> None:
        """Redis's replies to a round: each node's receiver count, or ``None`` if it was lost."""
        for effects, count in zip(by_node.values(), counts or [0] * len(by_node), strict=True):
            self.stats.forwarded += len(effects)
            if count:
                continue
            # Nobody listens on that node's channel (it is gone, or cut off), or
            # Redis could not be reached: each relay's sender hears so.
            for effect in effects:
                if isinstance(effect, Send):
                    self.stats.undeliverable += 1
                    self.node.undelivered(effect, store_lost=counts is None)

    # Heartbeat and dead nodes ----------------------------------------------------------

    async def _beat(self) -> None:
        added = await self._client.zadd(self._nodes_key, {self.node_id: time.time()})
        if added and self._joined:
            # Another node found our heartbeat too old and applied our members'
            # departures: their places are in their grace periods now, so make our
            # clients reconnect and resume rather than act on places they lost.
            logger.warning("node %s was declared dead; closing its connections", self.node_id)
            # The node that reaped us applied every departure that waited here too.
            self.node.registry.forget_departures()
            self.node.close_all(CLOSE_SERVICE_RESTART, "node restarted; resume")
        self._joined = True
        if self.node.registry.waiting_departures and await self._all_nodes_listen():
            # Sockets that closed while Redis was away: their departures apply now, in
            # order, once the nodes that must hear of them listen again.
            self.node.apply_waiting_departures()
        if not self._beating:
            self._healthy_since = time.time()
        self._beating = True

    async def _all_nodes_listen(self) -> bool:
        """Whether every node with a heartbeat (this one too) is subscribed to its channel."""
        if not self._subscribed:
            return False
        nodes = [
            raw.decode() if isinstance(raw, bytes) else str(raw)
            for raw in await self._client.zrange(self._nodes_key, 0, -1)
        ]
        if not nodes:
            return False
        counts = await self._client.pubsub_numsub(*(self.channel(node) for node in nodes))
        return all(count > 0 for _, count in counts)

    async def _run_heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            try:
                await self._beat()
                await self._reap_dead_nodes()
            except _REDIS_ERRORS as exc:
                self._lost_redis("heartbeat", exc)
            except BackendUnavailable as exc:
                self._lost_redis("reaping", exc)

    async def _reap_dead_nodes(self) -> None:
        now = time.time()
        if now - self._healthy_since < self.node_timeout:
            return  # others may not have had a chance to beat since Redis came back
        limit = now - self.node_timeout
        for raw in await self._client.zrangebyscore(self._nodes_key, "-inf", limit):
            dead = raw.decode() if isinstance(raw, bytes) else str(raw)
            if dead == self.node_id or not await self._client.zrem(self._nodes_key, dead):
                continue  # ourselves (late), or another node took it first
            self.stats.nodes_reaped += 1
            logger.warning("node %s: node %s is gone; its members drop", self.node_id, dead)
            self.node.apply(self.node.registry.reap(dead))

    def _lost_redis(self, what: str, exc: BaseException) -> None:
        if self._beating or self._subscribed:
            logger.error("node %s: lost Redis (%s): %s", self.node_id, what, exc)
        self.stats.redis_errors += 1
        self._beating = False
        # Rounds waiting for replies from a Redis that may never answer: their
        # senders hear now, and the next round connects afresh.
        self._publisher.close()


__all__ = ["CLOSE_SERVICE_RESTART", "ClusterLink", "ClusterStats"]
