"""Open connections per address across a cluster: each node tells the others what it holds.

Admitting a connection must not wait on Redis, so the cap on connections per
address is checked against this node's own count plus the last counts the
other nodes published. Every ``interval`` a node writes the addresses holding
at least :data:`PUBLISHED_FROM` of its connections (most clients hold one:
they cost nothing) to a hash of its own that expires after ``ttl`` unless
written again, and reads the other nodes' hashes. A node that dies stops
writing, so what it held stops counting within ``ttl``. The cap can be passed
by what changed since the last round (one ``interval``) and by one connection
per address per node (counts below :data:`PUBLISHED_FROM` are not published).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from typing import Final

import redis.asyncio
import redis.asyncio.retry
import redis.backoff
import redis.exceptions
from redis.typing import EncodableT, FieldT

from ..transport.admission import ConnectionAdmission

logger = logging.getLogger(__name__)

#: Addresses holding fewer connections than this on a node are not published by it.
PUBLISHED_FROM: Final = 2
#: Seconds past one interval that stopping waits for the sharing task to end.
STOP_GRACE: Final = 1.0

_REDIS_ERRORS: Final = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)


class ConnectionCountSync:
    """Publishes this node's connections per address and reads the other nodes' into admission."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str,
        node_id: str,
        admission: ConnectionAdmission,
        interval: float,
        ttl: float,
    ) -> None:
        # No retries: a round that fails is simply the next round's to do.
        self._client = redis.asyncio.Redis.from_url(
            url,
            socket_timeout=interval,
            socket_connect_timeout=interval,
            retry=redis.asyncio.retry.Retry(redis.backoff.NoBackoff(), 0),
        )
        self._nodes_key = f"{prefix}budget:connection-nodes"
        self._counts_prefix = f"{prefix}budget:connections:"
        self._node_id = node_id
        self._admission = admission
        self._interval = interval
        self._ttl = ttl
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._rounds = 0
        self._round_done = asyncio.Condition()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop publishing and take this node's counts out at once (others stop counting them)."""
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            # Bounded: redis-py may turn a cancellation inside a command into a
            # connection error, which the loop takes for Redis being away.
            _, pending = await asyncio.wait([task], timeout=self._interval + STOP_GRACE)
            if pending:
                logger.error("connection counts: the sharing task did not stop")
        with contextlib.suppress(*_REDIS_ERRORS):
            pipe = self._client.pipeline(transaction=True)
            pipe.delete(self._counts_prefix + self._node_id)
            pipe.zrem(self._nodes_key, self._node_id)
            await pipe.execute()
        await self._client.aclose()

    async def next_round(self) -> None:
        """Wait until a whole round (publish, then read) starts and ends after this call."""
        async with self._round_done:
            target = self._rounds + 2  # the round under way may have read before this call
            await self._round_done.wait_for(lambda: self._rounds >= target)

    async def _run(self) -> None:
        last_read = time.monotonic()
        while not self._stopping:
            try:
                await self._round()
                last_read = time.monotonic()
            except _REDIS_ERRORS as exc:
                # The cluster link reports Redis being away; the last counts stand a while.
                logger.debug("cannot share connection counts: %s", exc)
            except redis.exceptions.RedisError as exc:
                logger.warning("cannot share connection counts: %s", exc)
            if time.monotonic() - last_read > self._ttl:
                # As old as a dead node's: count this node's own connections only.
                self._admission.elsewhere = {}
            async with self._round_done:
                self._rounds += 1
                self._round_done.notify_all()
            await asyncio.sleep(self._interval)

    async def _round(self) -> None:
        own = self._counts_prefix + self._node_id
        now = time.time()
        held: dict[FieldT, EncodableT] = {
            key: count for key, count in self._admission.held(PUBLISHED_FROM).items()
        }
        pipe = self._client.pipeline(transaction=True)
        pipe.delete(own)
        if held:
            pipe.hset(own, mapping=held)
            pipe.pexpire(own, int(self._ttl * 1000))
        pipe.zadd(self._nodes_key, {self._node_id: now})
        pipe.zremrangebyscore(self._nodes_key, "-inf", now - self._ttl)
        pipe.zrange(self._nodes_key, 0, -1)
        nodes = (await pipe.execute())[-1]
        others = [node.decode() for node in nodes if node.decode() != self._node_id]
        reads = self._client.pipeline(transaction=False)
        for node in others:
            reads.hgetall(self._counts_prefix + node)
        elsewhere: Counter[str] = Counter()
        for counts in await reads.execute() if others else []:
            for key, count in counts.items():
                elsewhere[key.decode()] += int(count)
        self._admission.elsewhere = elsewhere


__all__ = ["PUBLISHED_FROM", "ConnectionCountSync"]
