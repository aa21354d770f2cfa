"""Relay benchmark: LobbyHost's signalling server against a bare Python relay.

Run from the repository root::

    .venv/bin/python -m tests.benchmarks.relay            # full run, about 4 minutes
    .venv/bin/python -m tests.benchmarks.relay --quick    # short run, about 1.5 minutes
    .venv/bin/python -m tests.benchmarks.relay --json bench-results/relay.json
    .venv/bin/python -m tests.benchmarks.relay --phases memory --no-compression

One run measures both servers under the same flow and prints a markdown table:

- Our server (``python -m signalling_server``) and the bare relay defined in this
  file (``--serve-bare``) each run in a subprocess of their own. The load
  generator runs in separate worker processes (``--workers``, default 2); the
  orchestrator only sends them commands and reads ``/proc`` of the servers.
- The flow: ``--lobbies`` lobbies, each a host plus 1, 2 or 3 accepted guests
  (start_lobby, join_lobby, request_to_join, accept_request, request_accepted),
  every client bound to its own loopback source address (127.0.1.1 ..
  127.0.1.254 for worker 0, 127.0.2.x for worker 1, ...) so the per-address
  limits of our server (8 open lobbies, 30 joins a minute) are never reached.
  Every host/guest pair then relays ICE candidates both ways with
  ``send_ice_candidate``: a Chrome-shaped candidate dict (host, srflx, relay
  or tcp candidate line, ``sdpMid``, ``sdpMLineIndex``, ``usernameFragment``)
  whose candidate line ends with ``x-seq N x-ts T`` extension attributes; the
  receiver checks order and loss per sender and computes the latency.
- Paced run (metrics 1 and 2): every client sends at the same rate so that the
  total offered load is ``--rate`` (8,000 msg/s) and each connection stays far
  below our server's default budget of 50 actions/s; our server runs with its
  default limits. Repetitions alternate between the servers; the server CPU
  (utime + stime from ``/proc/PID/stat``) over each repetition divided by the
  messages relayed gives CPU microseconds per message (median reported).
- Saturation (metric 3): every client sends as fast as it can with a window of
  ``--window`` unanswered messages. Our server is started again with
  ``--actions-per-second``/``--action-burst`` raised so that its limiter (which
  still runs on every frame) does not throttle the benchmark.
- Memory (metric 4): a fresh process of each server, ``--idle-connections``
  idle websocket connections; (VmRSS after - VmRSS before) / N from
  ``/proc/PID/status``; the held count is read from ``/healthz``.

Clients use the websockets defaults (they offer permessage-deflate, as browsers
do); ``--no-compression`` makes them not offer it. Every byte goes to loopback.

CPU per message depends on how busy the machine is (a busier server reads more
frames per wake-up), so the benchmark watches ``/proc/stat`` for CPU used by
processes that are not its own: it waits for a quiet moment before each
repetition (``--quiet-wait`` seconds in all), measures a disturbed repetition
again (``--retries``), and prints a warning under the table when the kept
repetitions were still disturbed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import ipaddress
import itertools
import json
import math
import multiprocessing
import os
import platform
import random
import re
import resource
import secrets
import select
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any, ClassVar, Literal

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.http11 import Request, Response
from websockets.version import version as WEBSOCKETS_VERSION

ROOT = Path(__file__).resolve().parents[2]
LISTEN_HOST = "127.0.0.1"
Compression = Literal["deflate"] | None

#: The per-connection budget of our server by default (actions/s); paced
#: senders must stay well below it.
OUR_DEFAULT_ACTIONS_PER_SECOND = 50.0
#: For the saturation run only: high enough that the limiter never says no.
SATURATION_LIMIT = 1_000_000

TARGET_CPU_RATIO = 1.0
TARGET_KIB_PER_CONNECTION = 20.0
TARGET_IDLE_CONNECTIONS = 10_000
#: Foreign CPU use (% of one core) above which the report says the run is unreliable.
OTHER_LOAD_WARNING_PCT = 10.0


class BenchmarkError(Exception):
    """The benchmark could not run to its end."""


# Shared helpers ----------------------------------------------------------------------------


def raise_nofile() -> None:
    """Raise this process's open-file limit to the hard limit."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def loopback(address: str) -> str:
    """``address`` if it is in 127.0.0.0/8; anything else is a bug in this file."""
    if not ipaddress.ip_address(address).is_loopback:
        raise BenchmarkError(f"refusing non-loopback address {address}")
    return address


def source_address(worker: int, index: int) -> str:
    """The loopback source address of a worker's ``index``-th client."""
    return loopback(f"127.0.{1 + worker}.{1 + index % 254}")


def loopback_url(url: str) -> str:
    match = re.fullmatch(r"ws://(127\.\d+\.\d+\.\d+):\d+/", url)
    if match is None:
        raise BenchmarkError(f"not a loopback websocket URL: {url!r}")
    loopback(match.group(1))
    return url


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (NaN when empty)."""
    if not sorted_values:
        return math.nan
    rank = max(0, math.ceil(fraction * len(sorted_values)) - 1)
    return float(sorted_values[rank])


# The bare relay ---------------------------------------------------------------------------
#
# What a Python developer would naturally write: json.loads every frame, route by
# connection id in a dict, json.dumps the event, await the target's send(). No
# validation, no limits, no authorisation. /healthz (a connection count) exists only
# so the benchmark can confirm how many connections it holds.


async def bare_relay(host: str, port: int) -> None:
    connections: dict[str, ServerConnection] = {}
    lobbies: dict[str, str] = {}
    next_peer_id: dict[str, int] = {}

    async def handler(ws: ServerConnection) -> None:
        connection_id = secrets.token_urlsafe(12)
        connections[connection_id] = ws
        lobby_id = ""
        try:
            async for raw in ws:
                message = json.loads(raw)
                action = message["action"]
                content = message.get("content", {})
                if action == "start_lobby":
                    lobby_id = "".join(random.choices("0123456789ABCDEFGHJKMNPQRSTVWXYZ", k=6))
                    lobbies[lobby_id] = connection_id
                    next_peer_id[lobby_id] = 2
                    reply = {
                        "lobby_id": lobby_id,
                        "connection_id": connection_id,
                        "peer_id": 1,
                        "ice_servers": [],
                    }
                    await ws.send(json.dumps({"event": "lobby_started", "content": reply}))
                elif action == "join_lobby":
                    lobby_id = content["lobby_id"]
                    host_ws = connections[lobbies[lobby_id]]
                    request = {"connection_id": connection_id, "name": content.get("name")}
                    await host_ws.send(json.dumps({"event": "request_to_join", "content": request}))
                    joined = {"lobby_id": lobby_id, "name": lobby_id}
                    await ws.send(json.dumps({"event": "join_requested", "content": joined}))
                elif action == "accept_request":
                    guest_id = content["connection_id"]
                    peer_id = next_peer_id[lobby_id]
                    next_peer_id[lobby_id] += 1
                    accepted = {
                        "lobby_id": lobby_id,
                        "host_connection_id": connection_id,
                        "connection_id": guest_id,
                        "peer_id": peer_id,
                        "ice_servers": [],
                    }
                    await connections[guest_id].send(
                        json.dumps({"event": "request_accepted", "content": accepted})
                    )
                    guest = {"connection_id": guest_id, "peer_id": peer_id}
                    await ws.send(json.dumps({"event": "guest_accepted", "content": guest}))
                elif action == "send_ice_candidate":
                    target = connections[content["connection_id"]]
                    relayed = {"connection_id": connection_id, "candidate": content["candidate"]}
                    await target.send(
                        json.dumps({"event": "received_ice_candidate", "content": relayed})
                    )
        finally:
            del connections[connection_id]

    def process_request(connection: ServerConnection, request: Request) -> Response | None:
        if request.path == "/healthz":
            body = json.dumps({"status": "ok", "connections": len(connections)})
            return connection.respond(HTTPStatus.OK, body + "\n")
        return None

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with serve(handler, loopback(host), port, process_request=process_request) as server:
        bound = next(iter(server.sockets)).getsockname()[1]
        print(f"bare-relay {WEBSOCKETS_VERSION} listening on ws://{host}:{bound}/", flush=True)
        await stop.wait()


# The load generator (runs in worker processes) ---------------------------------------------

_CANDIDATES = (
    "candidate:{f} 1 udp 2122260223 192.168.{a}.{b} {p} typ host generation 0 ufrag {u}"
    " network-id 1 network-cost 10",
    "candidate:{f} 1 udp 1686052607 198.51.100.{b} {q} typ srflx raddr 192.168.{a}.{b} rport {p}"
    " generation 0 ufrag {u} network-id 1 network-cost 10",
    "candidate:{f} 1 udp 41885439 203.0.113.{a} {q} typ relay raddr 198.51.100.{b} rport {q}"
    " generation 0 ufrag {u} network-id 1 network-cost 10",
    "candidate:{f} 1 tcp 1518280447 192.168.{a}.{b} 9 typ host tcptype active generation 0"
    " ufrag {u} network-id 1 network-cost 10",
)
_MARK = "@@SEQ@@"
_UFRAG_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"


class Stream:
    """One direction of one host/guest pair: a numbered series of candidates."""

    __slots__ = ("prefix", "seq", "suffix")

    def __init__(self, target: str, kind: int, rng: random.Random) -> None:
        ufrag = "".join(rng.choices(_UFRAG_CHARS, k=4))
        line = _CANDIDATES[kind % len(_CANDIDATES)].format(
            f=rng.randrange(1 << 32),
            a=rng.randrange(256),
            b=rng.randrange(1, 255),
            p=rng.randrange(32768, 61000),
            q=rng.randrange(32768, 61000),
            u=ufrag,
        )
        candidate = {
            "candidate": f"{line} x-seq {_MARK}",
            "sdpMid": "0",
            "sdpMLineIndex": 0,
            "usernameFragment": ufrag,
        }
        frame = json.dumps(
            {
                "action": "send_ice_candidate",
                "content": {"connection_id": target, "candidate": candidate},
            },
            separators=(",", ":"),
        )
        self.prefix, self.suffix = frame.split(_MARK)
        self.seq = 0

    def frame(self) -> str:
        """The next candidate frame, numbered and stamped with the send time."""
        seq = self.seq
        self.seq = seq + 1
        return f"{self.prefix}{seq} x-ts {time.monotonic_ns()}{self.suffix}"


class Peer:
    """One client connection of the flow (a host or a guest)."""

    __slots__ = ("cid", "inbox", "last", "streams", "ws")

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.cid = ""
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.last: dict[str, int] = {}
        self.streams: list[Stream] = []


class Flow:
    """A worker's lobbies on one server, and what its clients have received."""

    def __init__(self, worker: int, compression: Compression) -> None:
        self.worker = worker
        self.compression: Compression = compression
        self.peers: list[Peer] = []
        self.received = 0
        self.reordered = 0
        self.errors: Counter[str] = Counter()
        self.latencies: list[int] | None = None
        self.windows: dict[str, asyncio.Semaphore] | None = None
        self.stopped = False
        self.setting_up = False
        self._readers: set[asyncio.Task[None]] = set()

    def sent(self) -> int:
        return sum(stream.seq for peer in self.peers for stream in peer.streams)

    async def connect(self, url: str, address: str) -> Peer:
        ws = await connect(
            loopback_url(url),
            local_addr=(loopback(address), 0),
            proxy=None,
            compression=self.compression,
            ping_interval=None,
            open_timeout=30,
            close_timeout=2,
        )
        peer = Peer(ws)
        task = asyncio.create_task(self._read(peer))
        self._readers.add(task)
        task.add_done_callback(self._readers.discard)
        return peer

    async def _read(self, peer: Peer) -> None:
        loads = json.loads
        clock = time.monotonic_ns
        last = peer.last
        with contextlib.suppress(ConnectionClosed):
            async for raw in peer.ws:
                now = clock()
                message = loads(raw)
                if message.get("event") != "received_ice_candidate":
                    if message.get("event") == "error":
                        self.errors[str(message["content"].get("code"))] += 1
                    if self.setting_up:
                        peer.inbox.put_nowait(message)
                    continue
                content = message["content"]
                sender = content["connection_id"]
                parts = content["candidate"]["candidate"].rsplit(" ", 4)
                seq = int(parts[2])
                if seq > last.get(sender, -1):
                    last[sender] = seq
                else:
                    self.reordered += 1
                self.received += 1
                if self.latencies is not None:
                    self.latencies.append(now - int(parts[4]))
                if self.windows is not None:
                    self.windows[sender].release()

    @staticmethod
    async def expect(peer: Peer, event: str) -> dict[str, Any]:
        async with asyncio.timeout(30):
            while True:
                message = await peer.inbox.get()
                if message.get("event") == event:
                    content: dict[str, Any] = message["content"]
                    return content
                if message.get("event") == "error":
                    raise BenchmarkError(f"expected {event}, got {message}")

    async def setup(self, url: str, guest_counts: list[int], seed: int) -> None:
        """Start the lobbies, join and accept every guest, build the streams."""
        rng = random.Random(seed)
        self.setting_up = True
        limit = asyncio.Semaphore(16)
        bases = list(itertools.accumulate((1 + n for n in guest_counts), initial=0))
        kinds = itertools.count()

        async def one_lobby(index: int, guests: int) -> None:
            async with limit:
                base = bases[index]
                host = await self.connect(url, source_address(self.worker, base))
                start = {"name": f"Bench {index}", "display_name": "Host", "max_guests": 4}
                await host.ws.send(json.dumps({"action": "start_lobby", "content": start}))
                started = await self.expect(host, "lobby_started")
                host.cid = started["connection_id"]
                self.peers.append(host)
                for g in range(guests):
                    guest = await self.connect(url, source_address(self.worker, base + 1 + g))
                    join = {"lobby_id": started["lobby_id"], "name": f"Guest {g + 1}"}
                    await guest.ws.send(json.dumps({"action": "join_lobby", "content": join}))
                    request = await self.expect(host, "request_to_join")
                    await self.expect(guest, "join_requested")
                    accept = {"connection_id": request["connection_id"]}
                    await host.ws.send(json.dumps({"action": "accept_request", "content": accept}))
                    accepted = await self.expect(guest, "request_accepted")
                    await self.expect(host, "guest_accepted")
                    guest.cid = accepted["connection_id"]
                    if accepted["host_connection_id"] != host.cid:
                        raise BenchmarkError("request_accepted names another host")
                    host.streams.append(Stream(guest.cid, next(kinds), rng))
                    guest.streams.append(Stream(host.cid, next(kinds), rng))
                    self.peers.append(guest)

        async with asyncio.timeout(180):
            await asyncio.gather(*(one_lobby(i, n) for i, n in enumerate(guest_counts)))
        self.setting_up = False

    async def drain(self, seconds: float) -> None:
        """Wait until everything sent has arrived, or ``seconds`` have passed."""
        target = self.sent()
        for _ in range(math.ceil(seconds / 0.01)):
            if self.received >= target:
                return
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        async def close_one(peer: Peer) -> None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await peer.ws.close()
            peer.ws.transport.abort()

        await asyncio.gather(*(close_one(peer) for peer in self.peers))
        for task in list(self._readers):
            task.cancel()
        self.peers.clear()


async def _sleep_until(when: float) -> None:
    delay = when - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


async def _paced_sender(
    peer: Peer, first: float, interval: float, count: int
) -> tuple[float, float]:
    """Send ``count`` candidates, one every ``interval`` s, round robin over the peer's
    streams; returns (worst lag behind schedule, time of the last send)."""
    send = peer.ws.send
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
    send = peer.ws.send
    streams = peer.streams
    await _sleep_until(start_at)
    i = 0
    while not flow.stopped:
        await acquire()
        if flow.stopped:
            break
        await send(streams[i % len(streams)].frame())
        i += 1


class Worker:
    """A load-generator process: obeys the orchestrator's commands over a pipe."""

    def __init__(self, pipe: Pipe, index: int, compression: Compression) -> None:
        self.pipe = pipe
        self.index = index
        self.compression: Compression = compression
        self.flows: dict[str, Flow] = {}
        self.idle: list[ClientConnection] = []

    async def run(self) -> None:
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

    async def cmd_setup(self, key: str, url: str, guest_counts: list[int]) -> dict[str, Any]:
        flow = self.flows[key] = Flow(self.index, self.compression)
        started = time.monotonic()
        await flow.setup(url, guest_counts, seed=self.index)
        return {
            "peers": len(flow.peers),
            "streams": sum(len(p.streams) for p in flow.peers),
            "seconds": time.monotonic() - started,
        }

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
        flow.latencies = []
        results = await asyncio.gather(
            *(
                _paced_sender(peer, start_at + rng.random() * interval, interval, count)
                for peer in flow.peers
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
        windows = flow.windows = {peer.cid: asyncio.Semaphore(window) for peer in flow.peers}
        flow.stopped = False
        senders = [asyncio.create_task(_greedy_sender(flow, p, start_at)) for p in flow.peers]
        try:
            await _sleep_until(t1)
            c1, m1 = flow.received, time.monotonic()
            await _sleep_until(t2)
            c2, m2 = flow.received, time.monotonic()
        finally:
            flow.stopped = True
            for semaphore in windows.values():
                semaphore.release()
            async with asyncio.timeout(30):
                await asyncio.gather(*senders)
        await flow.drain(5.0)
        flow.windows = None
        return {
            "count": c2 - c1,
            "seconds": m2 - m1,
            "reordered": flow.reordered - reordered0,
            "errors": sum(flow.errors.values()) - errors0,
            "error_codes": dict(flow.errors),
            "outstanding": flow.sent() - flow.received,
        }

    async def cmd_idle_open(self, url: str, count: int, concurrency: int) -> dict[str, Any]:
        limit = asyncio.Semaphore(concurrency)
        failures: Counter[str] = Counter()

        async def open_one(index: int) -> None:
            address = source_address(self.index, index)
            async with limit:
                for _ in range(3):
                    try:
                        ws = await connect(
                            loopback_url(url),
                            local_addr=(address, 0),
                            proxy=None,
                            compression=self.compression,
                            ping_interval=None,
                            open_timeout=30,
                            close_timeout=2,
                        )
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
        open_ = sum(1 for ws in self.idle if ws.protocol.state.name == "OPEN")
        for ws in self.idle:
            ws.transport.abort()
        self.idle.clear()
        await asyncio.sleep(0.1)
        return {"still_open": open_}


def worker_main(pipe: Pipe, index: int, compression: Compression) -> None:
    """Entry point of a load-generator process."""
    raise_nofile()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the orchestrator decides when to stop
    asyncio.run(Worker(pipe, index, compression).run())


# The orchestrator ------------------------------------------------------------------------------

_CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


@dataclass(frozen=True)
class CpuSnapshot:
    """Machine-wide busy and steal time, and the CPU time of the benchmark's processes."""

    busy: float
    steal: float
    own: float


def cpu_snapshot(pids: Sequence[int]) -> CpuSnapshot:
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, _irq, _softirq, steal = fields
    times = os.times()
    own = times.user + times.system + sum(cpu_seconds(pid) for pid in pids)
    return CpuSnapshot((user + nice + system) / _CLK_TCK, steal / _CLK_TCK, own)


def other_load_pct(before: CpuSnapshot, after: CpuSnapshot, seconds: float) -> float:
    """CPU used by processes that are not the benchmark's (plus steal), % of one core.

    Loopback networking done in softirq context is left out of both sides.
    """
    foreign = (after.busy - before.busy) - (after.own - before.own)
    steal = after.steal - before.steal
    return max(0.0, 100 * (foreign + steal) / seconds)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise BenchmarkError(f"no VmRSS for {pid}")


def http_get(port: int, path: str) -> bytes:
    """A plain HTTP/1.1 GET to 127.0.0.1 (no proxies, no environment)."""
    with socket.create_connection((LISTEN_HOST, port), timeout=10) as sock:
        request = f"GET {path} HTTP/1.1\r\nHost: {LISTEN_HOST}:{port}\r\nConnection: close\r\n\r\n"
        sock.sendall(request.encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise BenchmarkError(f"GET {path}: {head[:80]!r}")
    return body


class ServerProcess:
    """One server (ours or the bare relay) running in a subprocess of its own."""

    running: ClassVar[set[int]] = set()

    def __init__(self, kind: str, extra: Sequence[str], logdir: Path) -> None:
        self.kind = kind
        if kind == "ours":
            command = [sys.executable, "-m", "signalling_server", "--log-level", "warning"]
        else:
            command = [sys.executable, "-m", "tests.benchmarks.relay", "--serve-bare"]
        command += ["--host", LISTEN_HOST, "--port", "0", *extra]
        self.log = logdir / f"{kind}-{time.monotonic_ns()}.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                command,
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=log,
                stdin=subprocess.DEVNULL,
                preexec_fn=raise_nofile,
            )
        ServerProcess.running.add(self.proc.pid)
        self.url = loopback_url(self._await_listening(20.0))
        self.port = int(self.url.rsplit(":", 1)[1].rstrip("/"))

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _await_listening(self, seconds: float) -> str:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                line = self.proc.stdout.readline().decode()
                match = re.search(r"listening on (ws://\S+)", line)
                if match:
                    return match.group(1)
                if not line:
                    break
        self.stop()
        raise BenchmarkError(f"{self.kind} server did not start: {self.log.read_text()[-2000:]}")

    def connections(self) -> int:
        count: int = json.loads(http_get(self.port, "/healthz"))["connections"]
        return count

    def stop(self) -> None:
        ServerProcess.running.discard(self.proc.pid)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


class Workers:
    """The load-generator processes and their pipes."""

    def __init__(self, count: int, compression: Compression) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipes: list[Pipe] = []
        self.processes: list[Any] = []
        for index in range(count):
            parent, child = context.Pipe()
            process = context.Process(
                target=worker_main,
                args=(child, index, compression),
                name=f"relay-bench-worker-{index}",
                daemon=True,
            )
            process.start()
            child.close()
            self.pipes.append(parent)
            self.processes.append(process)

    def __len__(self) -> int:
        return len(self.pipes)

    def send(self, command: str, args: Sequence[dict[str, Any]]) -> None:
        for pipe, arg in zip(self.pipes, args, strict=True):
            pipe.send((command, arg))

    def collect(self, command: str, seconds: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + seconds
        replies = []
        for index, pipe in enumerate(self.pipes):
            if not pipe.poll(max(0.0, deadline - time.monotonic())):
                raise BenchmarkError(f"worker {index} did not answer {command} in {seconds:.0f} s")
            reply: dict[str, Any] = pipe.recv()
            if "error" in reply:
                raise BenchmarkError(reply["error"])
            replies.append(reply)
        return replies

    def call(
        self, command: str, args: Sequence[dict[str, Any]], seconds: float
    ) -> list[dict[str, Any]]:
        self.send(command, args)
        return self.collect(command, seconds)

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(process.pid) for process in self.processes)

    def own_pids(self) -> list[int]:
        """Every process of the benchmark but this one: workers and servers."""
        return [process.pid for process in self.processes] + sorted(ServerProcess.running)

    def close(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(OSError):
                pipe.send(("exit", {}))
        for process in self.processes:
            process.join(timeout=15)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)


PHASES = ("paced", "saturation", "memory")


@dataclass
class Settings:
    lobbies: int
    rate: float
    paced_seconds: float
    reps: int
    warmup_seconds: float
    saturation_seconds: float
    saturation_reps: int
    window: int
    idle_connections: int
    workers: int
    compression: Compression
    phases: tuple[str, ...]
    quiet_budget: float
    retries: int


@dataclass
class Plan:
    """Which worker runs which lobbies (guest counts per lobby, per worker)."""

    guest_counts: list[list[int]] = field(default_factory=list)

    @property
    def lobbies(self) -> int:
        return sum(len(counts) for counts in self.guest_counts)

    @property
    def peers(self) -> int:
        return sum(len(counts) + sum(counts) for counts in self.guest_counts)

    @property
    def pairs(self) -> int:
        return sum(sum(counts) for counts in self.guest_counts)


def make_plan(settings: Settings) -> Plan:
    plan = Plan([[] for _ in range(settings.workers)])
    for lobby in range(settings.lobbies):
        plan.guest_counts[lobby % settings.workers].append(1 + lobby % 3)
    # Every client of a worker has its own source address while there are fewer
    # than 254 per worker; past that, a few share one (still far below the limits).
    if max(len(c) + sum(c) for c in plan.guest_counts) > 4 * 254:
        raise BenchmarkError("too many clients per source address; add --workers")
    return plan


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class QuietGate:
    """Waits, within a total time budget, for other processes to leave the CPUs alone."""

    def __init__(self, workers: Workers, budget: float) -> None:
        self.workers = workers
        self.budget = budget

    def sample(self, seconds: float) -> float:
        before, started = cpu_snapshot(self.workers.own_pids()), time.monotonic()
        time.sleep(seconds)
        after = cpu_snapshot(self.workers.own_pids())
        return other_load_pct(before, after, time.monotonic() - started)

    def wait(self) -> float:
        """The other load last seen; waits while it is high and the budget lasts."""
        for _ in range(10_000):
            load = self.sample(0.25)
            self.budget -= 0.25
            if load <= OTHER_LOAD_WARNING_PCT or self.budget <= 0:
                return load
            pause = min(1.0, self.budget)
            time.sleep(pause)
            self.budget -= pause
        return math.nan

    def measure(
        self, retries: int, label: str, run: Callable[[], dict[str, Any]]
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Run a measurement; repeat it (up to ``retries`` times) if the machine was busy.

        Returns the kept result and the discarded ones.
        """
        discarded: list[dict[str, Any]] = []
        for attempt in range(retries + 1):
            self.wait()
            result = run()
            if result["other_load_pct"] <= OTHER_LOAD_WARNING_PCT or attempt == retries:
                return result, discarded
            discarded.append(result)
            log(f"  {label}: other load {result['other_load_pct']:.0f}% of a core; measuring again")
        raise AssertionError("unreachable")


def lobby_setup(workers: Workers, plan: Plan, key: str, server: ServerProcess) -> None:
    args = [{"key": key, "url": server.url, "guest_counts": counts} for counts in plan.guest_counts]
    replies = workers.call("setup", args, 240)
    peers = sum(r["peers"] for r in replies)
    if peers != plan.peers:
        raise BenchmarkError(f"{key}: {peers} clients set up, expected {plan.peers}")
    seconds = max(r["seconds"] for r in replies)
    log(f"  {key}: {plan.lobbies} lobbies, {peers} clients ready in {seconds:.1f} s")


def paced_rep(
    workers: Workers, server: ServerProcess, key: str, rate_per_peer: float, seconds: float
) -> dict[str, Any]:
    start_at = time.monotonic() + 0.3
    args = [
        {"key": key, "rate": rate_per_peer, "start_at": start_at, "duration": seconds}
        for _ in range(len(workers))
    ]
    load0, m0 = cpu_snapshot(workers.own_pids()), time.monotonic()
    cpu0, gen0 = cpu_seconds(server.pid), workers.cpu_seconds()
    replies = workers.call("paced", args, seconds + 60)
    cpu, generator_cpu = cpu_seconds(server.pid) - cpu0, workers.cpu_seconds() - gen0
    load1, m1 = cpu_snapshot(workers.own_pids()), time.monotonic()
    received = sum(r["received"] for r in replies)
    sent = sum(r["sent"] for r in replies)
    send_seconds = max(r["send_seconds"] for r in replies)
    latencies = sorted(x for r in replies for x in r["latencies_ns"])
    return {
        "sent": sent,
        "received": received,
        "lost": sum(r["outstanding"] for r in replies),
        "reordered": sum(r["reordered"] for r in replies),
        "errors": sum(r["errors"] for r in replies),
        "error_codes": _merge_counts(r["error_codes"] for r in replies),
        "offered_per_s": sent / send_seconds if send_seconds > 0 else math.nan,
        "worst_lag_ms": 1e3 * max(r["worst_lag_s"] for r in replies),
        "server_cpu_s": cpu,
        "generator_cpu_pct": 100 * generator_cpu / (m1 - m0),
        "other_load_pct": other_load_pct(load0, load1, m1 - m0),
        "cpu_us_per_msg": 1e6 * cpu / received if received else math.nan,
        "latency_p50_ms": percentile(latencies, 0.50) / 1e6,
        "latency_p99_ms": percentile(latencies, 0.99) / 1e6,
        "latency_max_ms": percentile(latencies, 1.0) / 1e6,
        "_latencies": latencies,
    }


def saturation_rep(
    workers: Workers, server: ServerProcess, key: str, settings: Settings
) -> dict[str, Any]:
    start_at = time.monotonic() + 0.3
    t1 = start_at + 0.7  # let the windows fill before measuring
    t2 = t1 + settings.saturation_seconds
    args = [
        {"key": key, "start_at": start_at, "t1": t1, "t2": t2, "window": settings.window}
        for _ in range(len(workers))
    ]
    workers.send("saturate", args)
    time.sleep(max(0.0, t1 - time.monotonic()))
    cpu1, gen1, m1 = cpu_seconds(server.pid), workers.cpu_seconds(), time.monotonic()
    load1 = cpu_snapshot(workers.own_pids())
    time.sleep(max(0.0, t2 - time.monotonic()))
    cpu2, gen2, m2 = cpu_seconds(server.pid), workers.cpu_seconds(), time.monotonic()
    load2 = cpu_snapshot(workers.own_pids())
    replies = workers.collect("saturate", settings.saturation_seconds + 60)
    count = sum(r["count"] for r in replies)
    return {
        "messages": count,
        "msgs_per_s": sum(r["count"] / r["seconds"] for r in replies),
        "server_cpu_pct": 100 * (cpu2 - cpu1) / (m2 - m1),
        "generator_cpu_pct": 100 * (gen2 - gen1) / (m2 - m1),
        "other_load_pct": other_load_pct(load1, load2, m2 - m1),
        "cpu_us_per_msg": 1e6 * (cpu2 - cpu1) / count if count else math.nan,
        "lost": sum(r["outstanding"] for r in replies),
        "reordered": sum(r["reordered"] for r in replies),
        "errors": sum(r["errors"] for r in replies),
    }


def _merge_counts(counts: Iterator[dict[str, int]]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for item in counts:
        total.update(item)
    return dict(total)


def _median(reps: list[dict[str, Any]], name: str) -> float:
    return float(statistics.median(rep[name] for rep in reps))


def _alternate(rep: int) -> tuple[str, str]:
    return ("ours", "bare") if rep % 2 == 0 else ("bare", "ours")


def run_paced(
    settings: Settings,
    workers: Workers,
    plan: Plan,
    servers: dict[str, ServerProcess],
    gate: QuietGate,
) -> dict[str, Any]:
    rate_per_peer = settings.rate / plan.peers
    if rate_per_peer > 0.8 * OUR_DEFAULT_ACTIONS_PER_SECOND:
        raise BenchmarkError(
            f"{rate_per_peer:.1f} msg/s per connection is too close to our server's budget "
            f"of {OUR_DEFAULT_ACTIONS_PER_SECOND:.0f}/s; add --lobbies"
        )
    log(f"paced run: {settings.rate:,.0f} msg/s offered, {rate_per_peer:.1f} per connection")
    kept: dict[str, list[dict[str, Any]]] = {"ours": [], "bare": []}
    every: dict[str, list[dict[str, Any]]] = {"ours": [], "bare": []}
    for key in ("ours", "bare"):
        gate.wait()
        warm = paced_rep(workers, servers[key], key, rate_per_peer, settings.warmup_seconds)
        every[key].append(warm)
    for rep in range(settings.reps):
        for key in _alternate(rep):
            label = f"paced {key} rep {rep + 1}/{settings.reps}"
            result, discarded = gate.measure(
                settings.retries,
                label,
                functools.partial(
                    paced_rep, workers, servers[key], key, rate_per_peer, settings.paced_seconds
                ),
            )
            kept[key].append(result)
            every[key] += [*discarded, result]
            log(
                f"  {label}: {result['offered_per_s']:.0f} msg/s offered, "
                f"{result['cpu_us_per_msg']:.1f} us CPU/msg, "
                f"p50 {result['latency_p50_ms']:.2f} ms, p99 {result['latency_p99_ms']:.2f} ms, "
                f"lost {result['lost']}, reordered {result['reordered']}, "
                f"errors {result['errors']}, other load {result['other_load_pct']:.0f}%"
            )
    summary: dict[str, Any] = {
        # ours/bare of the two runs of each repetition (they ran back to back).
        "paired_cpu_ratios": [
            o["cpu_us_per_msg"] / b["cpu_us_per_msg"]
            for o, b in zip(kept["ours"], kept["bare"], strict=True)
        ],
    }
    for key in ("ours", "bare"):
        runs = kept[key]
        pooled = sorted(x for run in runs for x in run["_latencies"])
        for run in every[key]:
            run.pop("_latencies", None)
        summary[key] = {
            "reps": runs,
            "all_runs": len(every[key]),
            "cpu_us_per_msg": _median(runs, "cpu_us_per_msg"),
            "cpu_us_per_msg_reps": [run["cpu_us_per_msg"] for run in runs],
            "offered_per_s": _median(runs, "offered_per_s"),
            "received": sum(run["received"] for run in every[key]),
            # Sequence numbers run on across repetitions: after the last drain,
            # whatever was sent and never arrived (warm-up included) is lost.
            "lost": every[key][-1]["lost"],
            "reordered": sum(run["reordered"] for run in every[key]),
            "errors": sum(run["errors"] for run in every[key]),
            "error_codes": every[key][-1]["error_codes"],
            "latency_p50_ms": percentile(pooled, 0.50) / 1e6,
            "latency_p99_ms": percentile(pooled, 0.99) / 1e6,
            "latency_max_ms": percentile(pooled, 1.0) / 1e6,
            "generator_cpu_pct": _median(runs, "generator_cpu_pct"),
            "other_load_pct_max": max(run["other_load_pct"] for run in runs),
        }
    return summary


def run_saturation(
    settings: Settings,
    workers: Workers,
    servers: dict[str, ServerProcess],
    gate: QuietGate,
) -> dict[str, Any]:
    log(f"saturation: {settings.window} unanswered messages per client")
    kept: dict[str, list[dict[str, Any]]] = {"ours": [], "bare": []}
    for rep in range(settings.saturation_reps):
        for key in _alternate(rep):
            label = f"saturation {key} rep {rep + 1}/{settings.saturation_reps}"
            result, _ = gate.measure(
                settings.retries,
                label,
                functools.partial(saturation_rep, workers, servers[key], key, settings),
            )
            kept[key].append(result)
            log(
                f"  {label}: {result['msgs_per_s']:.0f} msg/s, "
                f"server CPU {result['server_cpu_pct']:.0f}%, "
                f"generator CPU {result['generator_cpu_pct']:.0f}%, "
                f"{result['cpu_us_per_msg']:.1f} us CPU/msg, "
                f"other load {result['other_load_pct']:.0f}%"
            )
    summary: dict[str, Any] = {}
    for key in ("ours", "bare"):
        runs = kept[key]
        summary[key] = {
            "reps": runs,
            "msgs_per_s": _median(runs, "msgs_per_s"),
            "server_cpu_pct": _median(runs, "server_cpu_pct"),
            "generator_cpu_pct": _median(runs, "generator_cpu_pct"),
            "cpu_us_per_msg": _median(runs, "cpu_us_per_msg"),
            "lost": runs[-1]["lost"],
            "reordered": sum(run["reordered"] for run in runs),
            "errors": sum(run["errors"] for run in runs),
            "other_load_pct_max": max(run["other_load_pct"] for run in runs),
        }
    return summary


def run_traffic(
    settings: Settings, workers: Workers, plan: Plan, logdir: Path, gate: QuietGate
) -> dict[str, Any]:
    """The paced and saturation phases (the same lobbies; servers alternate per rep)."""
    results: dict[str, Any] = {}
    servers: dict[str, ServerProcess] = {}
    try:
        if "paced" in settings.phases:
            log("starting both servers (default limits) and the lobbies")
            servers["ours"] = ServerProcess("ours", [], logdir)
            servers["bare"] = ServerProcess("bare", [], logdir)
            for key in ("ours", "bare"):
                lobby_setup(workers, plan, key, servers[key])
            results["paced"] = run_paced(settings, workers, plan, servers, gate)
            workers.call("teardown", [{"key": "ours"}] * len(workers), 60)
            servers.pop("ours").stop()
        if "saturation" in settings.phases:
            # Raised so the limiter (which still runs on every frame) never says no.
            log("starting our server again with --actions-per-second/--action-burst raised")
            raised = ["--actions-per-second", str(SATURATION_LIMIT)]
            raised += ["--action-burst", str(SATURATION_LIMIT)]
            servers["ours"] = ServerProcess("ours", raised, logdir)
            lobby_setup(workers, plan, "ours", servers["ours"])
            if "bare" not in servers:
                servers["bare"] = ServerProcess("bare", [], logdir)
                lobby_setup(workers, plan, "bare", servers["bare"])
            results["saturation"] = run_saturation(settings, workers, servers, gate)
        for key in servers:
            workers.call("teardown", [{"key": key}] * len(workers), 60)
    finally:
        for server in servers.values():
            server.stop()
    return results


def run_memory(settings: Settings, workers: Workers, logdir: Path) -> dict[str, Any]:
    results: dict[str, Any] = {}
    total = settings.idle_connections
    shares = [total // len(workers) + (i < total % len(workers)) for i in range(len(workers))]
    for key in ("ours", "bare"):
        log(f"memory: {total:,} idle connections to a fresh {key} server")
        server = ServerProcess(key, [], logdir)
        try:
            time.sleep(1.0)
            before = rss_kib(server.pid)
            concurrency = max(1, 96 // len(workers))
            args = [
                {"url": server.url, "count": share, "concurrency": concurrency} for share in shares
            ]
            replies = workers.call("idle_open", args, 300)
            opened = sum(r["opened"] for r in replies)
            time.sleep(2.0)
            after = rss_kib(server.pid)
            held = server.connections()
            time.sleep(1.0)
            held_later = server.connections()
            results[key] = {
                "requested": total,
                "opened": opened,
                "held": min(held, held_later),
                "open_seconds": max(r["seconds"] for r in replies),
                "failures": _merge_counts(r["failures"] for r in replies),
                "rss_before_kib": before,
                "rss_after_kib": after,
                "kib_per_connection": (after - before) / opened if opened else math.nan,
            }
            log(
                f"  {key}: held {held:,}, RSS {before:,} -> {after:,} KiB, "
                f"{results[key]['kib_per_connection']:.1f} KiB/connection, "
                f"opened in {results[key]['open_seconds']:.1f} s"
            )
            workers.call("idle_close", [{}] * len(workers), 60)
        finally:
            server.stop()
    return results


# Report ---------------------------------------------------------------------------------------


def _ratio(ours: float, bare: float) -> str:
    if not bare or math.isnan(ours) or math.isnan(bare):
        return "-"
    return f"{ours / bare:.2f}x"


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


Row = tuple[str, str, str, str, str, str]


def _paced_rows(settings: Settings, paced: dict[str, Any]) -> list[Row]:
    o, b = paced["ours"], paced["bare"]
    cpu_ratio = o["cpu_us_per_msg"] / b["cpu_us_per_msg"]
    return [
        (
            f"server CPU per relayed message, us (paced, median of {settings.reps})",
            f"{o['cpu_us_per_msg']:.1f}",
            f"{b['cpu_us_per_msg']:.1f}",
            _ratio(o["cpu_us_per_msg"], b["cpu_us_per_msg"]),
            f"<= {TARGET_CPU_RATIO:.1f}x bare",
            _verdict(cpu_ratio <= TARGET_CPU_RATIO),
        ),
        (
            "CPU per message ours/bare, median of the paired reps",
            "",
            "",
            f"{statistics.median(paced['paired_cpu_ratios']):.2f}x",
            "",
            "",
        ),
        (
            "paced: msg/s offered (achieved)",
            f"{o['offered_per_s']:,.0f}",
            f"{b['offered_per_s']:,.0f}",
            "",
            f"{settings.rate:,.0f}",
            "",
        ),
        (
            "paced: messages relayed (all runs)",
            f"{o['received']:,}",
            f"{b['received']:,}",
            "",
            "",
            "",
        ),
        (
            "paced: messages lost",
            f"{o['lost']}",
            f"{b['lost']}",
            "",
            "0",
            _verdict(o["lost"] == 0 and o["errors"] == 0),
        ),
        (
            "paced: messages reordered",
            f"{o['reordered']}",
            f"{b['reordered']}",
            "",
            "0",
            _verdict(o["reordered"] == 0),
        ),
        (
            "paced: relay latency p50, ms",
            f"{o['latency_p50_ms']:.2f}",
            f"{b['latency_p50_ms']:.2f}",
            _ratio(o["latency_p50_ms"], b["latency_p50_ms"]),
            "",
            "",
        ),
        (
            "paced: relay latency p99, ms",
            f"{o['latency_p99_ms']:.2f}",
            f"{b['latency_p99_ms']:.2f}",
            _ratio(o["latency_p99_ms"], b["latency_p99_ms"]),
            "",
            "",
        ),
    ]


def _saturation_rows(settings: Settings, sat: dict[str, Any]) -> list[Row]:
    o, b = sat["ours"], sat["bare"]
    return [
        (
            f"max msg/s (saturation, median of {settings.saturation_reps})",
            f"{o['msgs_per_s']:,.0f}",
            f"{b['msgs_per_s']:,.0f}",
            _ratio(o["msgs_per_s"], b["msgs_per_s"]),
            "",
            "",
        ),
        (
            "saturation: server CPU, % of one core",
            f"{o['server_cpu_pct']:.0f}",
            f"{b['server_cpu_pct']:.0f}",
            "",
            "",
            "",
        ),
        (
            "saturation: server CPU per message, us",
            f"{o['cpu_us_per_msg']:.1f}",
            f"{b['cpu_us_per_msg']:.1f}",
            _ratio(o["cpu_us_per_msg"], b["cpu_us_per_msg"]),
            "",
            "",
        ),
        (
            "saturation: lost / reordered",
            f"{o['lost']} / {o['reordered']}",
            f"{b['lost']} / {b['reordered']}",
            "",
            "",
            "",
        ),
    ]


def _memory_rows(settings: Settings, mem: dict[str, Any]) -> list[Row]:
    o, b = mem["ours"], mem["bare"]
    full = settings.idle_connections >= TARGET_IDLE_CONNECTIONS
    return [
        (
            f"memory per idle connection, KiB ({settings.idle_connections:,} connections)",
            f"{o['kib_per_connection']:.1f}",
            f"{b['kib_per_connection']:.1f}",
            _ratio(o["kib_per_connection"], b["kib_per_connection"]),
            f"<= {TARGET_KIB_PER_CONNECTION:.0f} KiB",
            _verdict(o["kib_per_connection"] <= TARGET_KIB_PER_CONNECTION),
        ),
        (
            "idle connections held by one process",
            f"{o['held']:,}",
            f"{b['held']:,}",
            "",
            f"{TARGET_IDLE_CONNECTIONS:,}",
            _verdict(o["held"] >= TARGET_IDLE_CONNECTIONS) if full else "n/a (fewer asked)",
        ),
    ]


def report(settings: Settings, plan: Plan, results: dict[str, Any]) -> str:
    rows: list[Row] = []
    if "paced" in results:
        rows += _paced_rows(settings, results["paced"])
    if "saturation" in results:
        rows += _saturation_rows(settings, results["saturation"])
    if "memory" in results:
        rows += _memory_rows(settings, results["memory"])
    header = ("metric", "LobbyHost", "bare relay", "ours/bare", "target", "result")
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---", "---:", "---:", "---:", "---", "---"]) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    config = results["config"]
    intro = (
        f"{plan.peers} clients in {plan.lobbies} lobbies ({plan.pairs} host/guest pairs, "
        f"{2 * plan.pairs} streams), {config['rate_per_connection']:.1f} msg/s per connection "
        f"when paced; {settings.workers} load-generator processes; clients "
        f"{'offer permessage-deflate' if settings.compression else 'without compression'}; "
        f"{config['cpus']} CPUs, Python {config['python']}, websockets {config['websockets']}; "
        f"{config['seconds']:.0f} s."
    )
    notes = []
    loads = [
        results[phase][key]["other_load_pct_max"]
        for phase in ("paced", "saturation")
        if phase in results
        for key in ("ours", "bare")
    ]
    if loads and max(loads) > OTHER_LOAD_WARNING_PCT:
        notes.append(
            f"WARNING: other processes (or the hypervisor) used up to {max(loads):.0f}% of a "
            "core during the measurements; CPU, latency and throughput figures are not "
            "reliable. Run again on a quiet machine."
        )
    if "paced" in results:
        repeated = sum(
            results["paced"][key]["all_runs"] - settings.reps - 1 for key in ("ours", "bare")
        )
        if repeated:
            notes.append(f"{repeated} paced runs disturbed by other load were measured again.")
        for key in ("ours", "bare"):
            codes = results["paced"][key]["error_codes"]
            if codes:
                notes.append(f"{key}: error events during the paced run: {codes}")
    return "\n".join([intro, "", *lines, *(["", *notes] if notes else [])])


# Entry point ---------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks.relay",
        description="Relay benchmark: LobbyHost's server against a bare Python relay.",
    )
    parser.add_argument("--quick", action="store_true", help="a short run (about a minute)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument(
        "--phases",
        default=",".join(PHASES),
        help=f"comma-separated subset of {','.join(PHASES)} (default: all)",
    )
    parser.add_argument("--lobbies", type=int, default=128, help="lobbies (default 128)")
    parser.add_argument("--rate", type=float, default=8000, help="paced msg/s offered (8000)")
    parser.add_argument("--reps", type=int, help="paced repetitions per server (5; quick 3)")
    parser.add_argument("--paced-seconds", type=float, help="seconds per paced rep (5; quick 2)")
    parser.add_argument("--saturation-reps", type=int, help="saturation reps (3; quick 2)")
    parser.add_argument("--saturation-seconds", type=float, help="seconds measured (4; quick 2)")
    parser.add_argument("--window", type=int, default=8, help="unanswered msgs per client (8)")
    parser.add_argument(
        "--idle-connections",
        type=int,
        default=TARGET_IDLE_CONNECTIONS,
        help=f"idle connections for the memory phase ({TARGET_IDLE_CONNECTIONS})",
    )
    parser.add_argument("--workers", type=int, default=2, help="load-generator processes (2)")
    parser.add_argument(
        "--no-compression",
        action="store_true",
        help="clients do not offer permessage-deflate (they do by default, like browsers)",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        help="seconds in all to wait for other processes to leave the CPUs alone (180; quick 30)",
    )
    parser.add_argument(
        "--retries", type=int, default=2, help="repeats of a rep disturbed by other load (2)"
    )
    parser.add_argument(
        "--time-limit", type=float, default=900, help="abort after this many seconds (900)"
    )
    parser.add_argument("--serve-bare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--host", default=LISTEN_HOST, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    return parser


def _alarm(signum: int, frame: object) -> None:
    raise BenchmarkError("time limit reached")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    raise_nofile()
    if args.serve_bare:
        asyncio.run(bare_relay(args.host, args.port))
        return 0
    phases = tuple(p for p in PHASES if p in args.phases.split(","))
    if not phases or set(args.phases.split(",")) - set(PHASES):
        parser.error(f"--phases takes a comma-separated subset of {','.join(PHASES)}")
    quick = args.quick
    settings = Settings(
        lobbies=args.lobbies,
        rate=args.rate,
        reps=args.reps or (3 if quick else 5),
        paced_seconds=args.paced_seconds or (2.0 if quick else 5.0),
        warmup_seconds=1.0 if quick else 2.0,
        saturation_reps=args.saturation_reps or (2 if quick else 3),
        saturation_seconds=args.saturation_seconds or (2.0 if quick else 4.0),
        window=args.window,
        idle_connections=args.idle_connections,
        workers=args.workers,
        compression=None if args.no_compression else "deflate",
        phases=phases,
        quiet_budget=args.quiet_wait if args.quiet_wait is not None else (30 if quick else 180),
        retries=args.retries,
    )
    plan = make_plan(settings)
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(int(args.time_limit))
    started = time.monotonic()
    workers = Workers(settings.workers, settings.compression)
    results: dict[str, Any] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="relay-bench-") as tmp:
            logdir = Path(tmp)
            gate = QuietGate(workers, settings.quiet_budget)
            results.update(run_traffic(settings, workers, plan, logdir, gate))
            if "memory" in phases:
                results["memory"] = run_memory(settings, workers, logdir)
    except BenchmarkError as exc:
        log(f"benchmark failed: {exc}")
        return 1
    finally:
        signal.alarm(0)
        workers.close()
    results["config"] = {
        **settings.__dict__,
        "clients": plan.peers,
        "pairs": plan.pairs,
        "rate_per_connection": settings.rate / plan.peers,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "websockets": WEBSOCKETS_VERSION,
        "seconds": round(time.monotonic() - started, 1),
    }
    print(report(settings, plan, results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
