"""A load-generator process: runs the flows and senders the orchestrator asks for."""

from __future__ import annotations

import asyncio
import functools
import random
import signal
import time
from collections import Counter
from multiprocessing.connection import Connection as Pipe
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import WebSocketException

from .addresses import source_address
from .contenders import Dialect, uvloop_installed
from .flow import Compression, Flow, Generator, Peer, open_client, peerjs_path
from .process_resources import raise_nofile
from .raw_client import LinkClosed, RawClient
from .storm_clients import StormClients

#: The raw generator sends every frame due within this much of now in one
#: wake-up (their timestamps are taken as they go out): fewer timer wake-ups
#: than one per frame, arrivals still spread.
PACING_SLACK_S = 0.0005
#: Frames sent back to back at most before the pacing task lets the loop read.
PACING_MAX_BURST = 32


async def _sleep_until(when: float) -> None:
    delay = when - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


async def _paced_sender(
    peer: Peer, first: float, interval: float, count: int
) -> tuple[float, float]:
    """Send ``count`` candidates, one every ``interval`` s, round robin over the peer's
    streams; returns (worst lag behind schedule, time of the last send)."""
    send = peer.link.send
    streams = peer.streams
    monotonic = time.monotonic
    due = first
    worst = 0.0
    for i in range(count):
        delay = due - monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        elif -delay > worst:
            worst = -delay
        await send(streams[i % len(streams)].frame())
        due += interval
    return worst, monotonic()


async def _greedy_sender(flow: Flow, peer: Peer, start_at: float) -> None:
    """Send as fast as the window of unanswered candidates allows, until stopped."""
    assert flow.windows is not None
    acquire = flow.windows[peer.cid].acquire
    send = peer.link.send
    streams = peer.streams
    await _sleep_until(start_at)
    i = 0
    while not flow.stopped:
        await acquire()
        if flow.stopped:
            break
        await send(streams[i % len(streams)].frame())
        i += 1


async def _paced_all(
    peers: list[Peer], firsts: list[float], interval: float, count: int
) -> tuple[float, float]:
    """The raw generator's pacing: one task sends every peer's ``count`` candidates.

    Peer ``p``'s ``i``-th candidate is due at ``firsts[p] + i * interval``, as
    with one sender per peer; returns (worst lag behind schedule, time of the
    last send).
    """
    order = sorted(range(len(peers)), key=firsts.__getitem__)
    writes = []
    for p in order:
        link = peers[p].link
        assert isinstance(link, RawClient)
        writes.append((link.write, peers[p].streams))
    offsets = [firsts[p] for p in order]
    monotonic = time.monotonic
    worst = 0.0
    n = len(order)
    unyielded = 0
    for i in range(count):
        base = i * interval
        for k in range(n):
            due = offsets[k] + base
            now = monotonic()
            if due - now > PACING_SLACK_S:
                await asyncio.sleep(due - now)
                now = monotonic()
                unyielded = 0
            elif unyielded >= PACING_MAX_BURST:
                await asyncio.sleep(0)  # behind schedule: let the replies be read meanwhile
                unyielded = 0
            if now - due > worst:
                worst = now - due
            write, streams = writes[k]
            write(streams[i % len(streams)].frame())
            unyielded += 1
    return worst, monotonic()


class Worker:
    """A load-generator process: obeys the orchestrator's commands over a pipe."""

    def __init__(
        self, pipe: Pipe, index: int, compression: Compression, generator: Generator
    ) -> None:
        self.pipe = pipe
        self.index = index
        self.compression: Compression = compression
        self.generator: Generator = generator
        self.flows: dict[str, Flow] = {}
        self.idle: list[ClientConnection] = []
        self.storm = StormClients(index, compression)

    async def run(self) -> None:
        """Answer commands (``cmd_<name>``) until told to exit or the pipe closes."""
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    command, args = await loop.run_in_executor(None, self.pipe.recv)
                except EOFError:
                    return  # the orchestrator is gone
                if command == "exit":
                    self.pipe.send({"ok": True})
                    return
                try:
                    reply = await getattr(self, f"cmd_{command}")(**args)
                except Exception as exc:
                    reply = {
                        "error": f"worker {self.index}: {command}: {type(exc).__name__}: {exc}"
                    }
                self.pipe.send(reply)
        finally:
            for flow in self.flows.values():
                await flow.close()
            for ws in self.idle:
                ws.transport.abort()
            await self.storm.close()

    async def cmd_setup(
        self, key: str, url: str, guest_counts: list[int], dialect: Dialect
    ) -> dict[str, Any]:
        flow = self.flows[key] = Flow(self.index, self.compression, dialect, self.generator)
        started = time.monotonic()
        await flow.setup(url, guest_counts, seed=self.index)
        return {"peers": len(flow.peers), "seconds": time.monotonic() - started}

    async def cmd_teardown(self, key: str) -> dict[str, Any]:
        flow = self.flows.pop(key)
        await flow.close()
        return {"ok": True}

    async def cmd_paced(
        self, key: str, rate: float, start_at: float, duration: float
    ) -> dict[str, Any]:
        flow = self.flows[key]
        sent0, received0, reordered0 = flow.sent(), flow.received, flow.reordered
        errors0 = sum(flow.errors.values())
        count = max(1, round(rate * duration))
        interval = 1.0 / rate
        rng = random.Random(start_at)
        firsts = [start_at + rng.random() * interval for _ in flow.peers]
        flow.latencies = []
        if flow.generator == "raw":
            results = [await _paced_all(flow.peers, firsts, interval, count)]
        else:
            results = await asyncio.gather(
                *(
                    _paced_sender(peer, first, interval, count)
                    for peer, first in zip(flow.peers, firsts, strict=True)
                )
            )
        last_send = max(last for _, last in results)
        await flow.drain(5.0)
        latencies, flow.latencies = flow.latencies, None
        return {
            "sent": flow.sent() - sent0,
            "received": flow.received - received0,
            "reordered": flow.reordered - reordered0,
            "errors": sum(flow.errors.values()) - errors0,
            "error_codes": dict(flow.errors),
            "outstanding": flow.sent() - flow.received,
            "latencies_ns": latencies,
            "send_seconds": last_send - start_at,
            "worst_lag_s": max(lag for lag, _ in results),
        }

    async def cmd_saturate(
        self, key: str, start_at: float, t1: float, t2: float, window: int
    ) -> dict[str, Any]:
        flow = self.flows[key]
        reordered0 = flow.reordered
        errors0 = sum(flow.errors.values())
        saturate = self._saturate_raw if flow.generator == "raw" else self._saturate_tasks
        (c1, m1), (c2, m2) = await saturate(flow, start_at, t1, t2, window)
        return {
            "count": c2 - c1,
            "seconds": m2 - m1,
            "reordered": flow.reordered - reordered0,
            "errors": sum(flow.errors.values()) - errors0,
            "outstanding": flow.sent() - flow.received,
        }

    async def _saturate_tasks(
        self, flow: Flow, start_at: float, t1: float, t2: float, window: int
    ) -> tuple[tuple[int, float], tuple[int, float]]:
        """Saturation with a sender task per client, each keeping ``window`` messages unanswered.

        Returns the received count and the time at ``t1`` and at ``t2``.
        """
        windows = flow.windows = {peer.cid: asyncio.Semaphore(window) for peer in flow.peers}
        flow.stopped = False
        senders = [asyncio.create_task(_greedy_sender(flow, p, start_at)) for p in flow.peers]
        try:
            await _sleep_until(t1)
            first = flow.received, time.monotonic()
            await _sleep_until(t2)
            second = flow.received, time.monotonic()
        finally:
            flow.stopped = True
            for semaphore in windows.values():
                semaphore.release()
            async with asyncio.timeout(30):
                await asyncio.gather(*senders)
        await flow.drain(5.0)
        flow.windows = None
        return first, second

    async def _saturate_raw(
        self, flow: Flow, start_at: float, t1: float, t2: float, window: int
    ) -> tuple[tuple[int, float], tuple[int, float]]:
        """Saturation without a task per client: each delivery makes its sender send again."""

        def refill(peer: Peer) -> None:
            try:
                peer.send_next()
            except LinkClosed as exc:
                flow.errors[f"LinkClosed: {exc}"] += 1

        flow.refills = {peer.cid: functools.partial(refill, peer) for peer in flow.peers}
        flow.stopped = False
        try:
            await _sleep_until(start_at)
            for _ in range(window):
                for peer in flow.peers:
                    refill(peer)
            await _sleep_until(t1)
            first = flow.received, time.monotonic()
            await _sleep_until(t2)
            second = flow.received, time.monotonic()
        finally:
            flow.stopped = True
        await flow.drain(5.0)
        flow.refills = None
        return first, second

    async def cmd_idle_open(
        self, url: str, count: int, concurrency: int, dialect: Dialect
    ) -> dict[str, Any]:
        limit = asyncio.Semaphore(concurrency)
        failures: Counter[str] = Counter()

        async def open_one(index: int) -> None:
            address = source_address(self.index, index)
            path = peerjs_path(f"idle{self.index}x{index}") if dialect == "peerjs" else ""
            async with limit:
                for _ in range(3):
                    try:
                        ws = await open_client(url, address, self.compression, path)
                    except (OSError, TimeoutError, WebSocketException) as exc:
                        failures[type(exc).__name__] += 1
                        await asyncio.sleep(0.2)
                    else:
                        self.idle.append(ws)
                        return

        started = time.monotonic()
        async with asyncio.timeout(240):
            await asyncio.gather(*(open_one(i) for i in range(count)))
        return {
            "opened": len(self.idle),
            "seconds": time.monotonic() - started,
            "failures": dict(failures),
        }

    async def cmd_idle_close(self) -> dict[str, Any]:
        for ws in self.idle:
            ws.transport.abort()
        self.idle.clear()
        await asyncio.sleep(0.1)
        return {"ok": True}

    async def cmd_storm_prepare(self, url: str, count: int) -> dict[str, Any]:
        await self.storm.close()
        return await self.storm.prepare(url, count)

    async def cmd_storm_drop(self) -> dict[str, Any]:
        return await self.storm.drop()

    async def cmd_storm_resume(self, url: str, start_at: float) -> dict[str, Any]:
        return await self.storm.resume(url, start_at)

    async def cmd_storm_close(self) -> dict[str, Any]:
        await self.storm.close()
        return {"ok": True}


def run_worker(worker: Worker) -> None:
    """Run a load-generator process's loop: uvloop for the raw generator when installed."""
    raise_nofile()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the orchestrator decides when to stop
    if worker.generator == "raw" and uvloop_installed():
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(worker.run())
    else:
        asyncio.run(worker.run())


def worker_main(pipe: Pipe, index: int, compression: Compression, generator: Generator) -> None:
    """Entry point of a load-generator process."""
    run_worker(Worker(pipe, index, compression, generator))
