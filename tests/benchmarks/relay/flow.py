"""The client side of the flow: a worker's lobbies on one server and what they receive."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import random
import time
from collections import Counter
from collections.abc import Coroutine
from typing import Any, Literal

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from .addresses import loopback, loopback_url, source_address
from .candidates import Stream
from .contenders import Dialect
from .errors import BenchmarkError

Compression = Literal["deflate"] | None

#: PeerJS's client library sends a heartbeat this often (its default, 5 s); its
#: server drops a client it has not heard from for 90 s.
PEERJS_HEARTBEAT_SECONDS = 5.0
PEERJS_HEARTBEAT = '{"type":"HEARTBEAT"}'


def peerjs_path(peer_id: str) -> str:
    """The websocket path and query a PeerJS client opens (key, id, token)."""
    return f"peerjs?key=peerjs&id={peer_id}&token=t{peer_id}"


async def open_client(
    url: str, address: str, compression: Compression, path: str = ""
) -> ClientConnection:
    """A websocket connection to ``url`` + ``path`` from the loopback source ``address``."""
    return await connect(
        loopback_url(url) + path,
        local_addr=(loopback(address), 0),
        proxy=None,
        compression=compression,
        ping_interval=None,
        open_timeout=30,
        close_timeout=2,
    )


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

    def __init__(self, worker: int, compression: Compression, dialect: Dialect) -> None:
        self.worker = worker
        self.compression: Compression = compression
        self.dialect: Dialect = dialect
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
        """Candidates sent so far by all the clients."""
        return sum(stream.seq for peer in self.peers for stream in peer.streams)

    async def connect(self, url: str, address: str, path: str = "") -> Peer:
        """Open a client and start reading what it receives."""
        peer = Peer(await open_client(url, address, self.compression, path))
        self._start(self._read_peerjs(peer) if self.dialect == "peerjs" else self._read(peer))
        return peer

    def _start(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._readers.add(task)
        task.add_done_callback(self._readers.discard)

    def _count(self, peer: Peer, sender: str, line: str, now: int) -> None:
        # The candidate line ends with "x-seq N x-ts T" (see candidates.Stream).
        parts = line.rsplit(" ", 4)
        seq = int(parts[2])
        if seq > peer.last.get(sender, -1):
            peer.last[sender] = seq
        else:
            self.reordered += 1
        self.received += 1
        if self.latencies is not None:
            self.latencies.append(now - int(parts[4]))
        if self.windows is not None:
            self.windows[sender].release()

    async def _read_peerjs(self, peer: Peer) -> None:
        loads = json.loads
        clock = time.monotonic_ns
        count = self._count
        with contextlib.suppress(ConnectionClosed):
            async for raw in peer.ws:
                now = clock()
                message = loads(raw)
                if message.get("type") == "CANDIDATE":
                    count(peer, message["src"], message["payload"]["candidate"]["candidate"], now)
                elif message.get("type") == "ERROR":
                    self.errors[str(message["payload"].get("msg"))] += 1
                elif self.setting_up:
                    peer.inbox.put_nowait(message)

    async def _heartbeat(self, peer: Peer) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.sleep(PEERJS_HEARTBEAT_SECONDS)
                await peer.ws.send(PEERJS_HEARTBEAT)

    async def _read(self, peer: Peer) -> None:
        loads = json.loads
        clock = time.monotonic_ns
        count = self._count
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
                count(peer, content["connection_id"], content["candidate"]["candidate"], now)

    @staticmethod
    async def expect(peer: Peer, event: str) -> dict[str, Any]:
        """The content of the next ``event`` the peer receives (setup only)."""
        async with asyncio.timeout(30):
            while True:
                message = await peer.inbox.get()
                if message.get("type") == event:  # PeerJS: OPEN
                    return message
                if message.get("event") == event:
                    content: dict[str, Any] = message["content"]
                    return content
                if message.get("event") == "error":
                    raise BenchmarkError(f"expected {event}, got {message}")

    async def setup(self, url: str, guest_counts: list[int], seed: int) -> None:
        """Start the lobbies, join and accept every guest, build the streams."""
        if self.dialect == "peerjs":
            await self._setup_peerjs(url, guest_counts, seed)
            return
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

    async def _setup_peerjs(self, url: str, guest_counts: list[int], seed: int) -> None:
        """PeerJS has no lobbies: every client opens with its own id and knows its pair's."""
        rng = random.Random(seed)
        self.setting_up = True
        limit = asyncio.Semaphore(16)
        bases = list(itertools.accumulate((1 + n for n in guest_counts), initial=0))
        kinds = itertools.count()

        async def one_peer(index: int) -> Peer:
            peer_id = f"w{self.worker}p{index}"
            async with limit:
                address = source_address(self.worker, index)
                peer = await self.connect(url, address, peerjs_path(peer_id))
                await self.expect(peer, "OPEN")
            peer.cid = peer_id
            self._start(self._heartbeat(peer))
            return peer

        async def one_group(index: int, guests: int) -> None:
            base = bases[index]
            peers = await asyncio.gather(*(one_peer(base + i) for i in range(1 + guests)))
            host = peers[0]
            self.peers.append(host)
            for guest in peers[1:]:
                host.streams.append(Stream(guest.cid, next(kinds), rng, "peerjs"))
                guest.streams.append(Stream(host.cid, next(kinds), rng, "peerjs"))
                self.peers.append(guest)

        async with asyncio.timeout(180):
            await asyncio.gather(*(one_group(i, n) for i, n in enumerate(guest_counts)))
        self.setting_up = False

    async def drain(self, seconds: float) -> None:
        """Wait until everything sent has arrived, or ``seconds`` have passed."""
        target = self.sent()
        for _ in range(math.ceil(seconds / 0.01)):
            if self.received >= target:
                return
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        """Close every client and stop reading."""

        async def close_one(peer: Peer) -> None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await peer.ws.close()
            peer.ws.transport.abort()

        await asyncio.gather(*(close_one(peer) for peer in self.peers))
        for task in list(self._readers):
            task.cancel()
        self.peers.clear()
