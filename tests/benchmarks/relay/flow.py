"""The client side of the flow: a worker's lobbies on one server and what they receive."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import json
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any, Literal

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from .addresses import loopback, loopback_url, source_address
from .candidates import Stream
from .contenders import Dialect
from .errors import BenchmarkError
from .raw_client import LinkClosed, RawClient, open_raw

Compression = Literal["deflate"] | None
#: The load generator's client: ``raw`` (``raw_client.py``: an asyncio.Protocol
#: per connection, frames written straight to the transport, a small msgspec
#: decode per relayed frame) or ``websockets`` (its asyncio client: a reader
#: task, a message queue and ``json.loads`` per message; the one used before).
Generator = Literal["raw", "websockets"]
GENERATORS: tuple[Generator, ...] = ("raw", "websockets")

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


class WebsocketsLink:
    """A client of websockets' asyncio implementation, as the flow drives it."""

    __slots__ = ("send", "ws")

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.send = ws.send

    async def close(self) -> None:
        """Close the websocket (the closing handshake, bounded by its close_timeout)."""
        await self.ws.close()

    def abort(self) -> None:
        """Drop the connection at once."""
        self.ws.transport.abort()


class _CandidateLine(msgspec.Struct):
    candidate: str


class _RelayedContent(msgspec.Struct):
    connection_id: str
    candidate: _CandidateLine


class _EventHead(msgspec.Struct):
    """The two fields of our protocol's events the raw generator looks at first."""

    event: str
    content: msgspec.Raw = msgspec.Raw(b"null")


class _PeerjsCandidatePayload(msgspec.Struct):
    candidate: _CandidateLine


class _PeerjsHead(msgspec.Struct):
    """The fields of a PeerJS server message the raw generator looks at first."""

    type: str
    src: str = ""
    payload: msgspec.Raw = msgspec.Raw(b"null")


_decode_event_head = msgspec.json.Decoder(_EventHead).decode
_decode_relayed = msgspec.json.Decoder(_RelayedContent).decode
_decode_peerjs_head = msgspec.json.Decoder(_PeerjsHead).decode
_decode_peerjs_candidate = msgspec.json.Decoder(_PeerjsCandidatePayload).decode


class Peer:
    """One client connection of the flow (a host or a guest)."""

    __slots__ = ("cid", "inbox", "last", "link", "next_stream", "streams")

    def __init__(self, link: RawClient | WebsocketsLink) -> None:
        self.link = link
        self.cid = ""
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.last: dict[str, int] = {}
        self.streams: list[Stream] = []
        self.next_stream = 0  # the raw generator's saturation: round robin over streams

    def send_next(self) -> None:
        """Send the next candidate of the peer's streams now (raw generator only)."""
        link = self.link
        assert isinstance(link, RawClient)
        streams = self.streams
        index = self.next_stream
        self.next_stream = index + 1
        link.write(streams[index % len(streams)].frame())


class Flow:
    """A worker's lobbies on one server, and what its clients have received."""

    def __init__(
        self,
        worker: int,
        compression: Compression,
        dialect: Dialect,
        generator: Generator = "websockets",
    ) -> None:
        self.worker = worker
        self.compression: Compression = compression
        self.dialect: Dialect = dialect
        self.generator: Generator = generator
        self.peers: list[Peer] = []
        self.received = 0
        self.reordered = 0
        self.errors: Counter[str] = Counter()
        self.latencies: list[int] | None = None
        self.windows: dict[str, asyncio.Semaphore] | None = None
        #: The raw generator's saturation: a delivered candidate makes its sender
        #: send the next one at once (a window of unanswered messages per client).
        self.refills: dict[str, Callable[[], None]] | None = None
        self.stopped = False
        self.setting_up = False
        self._readers: set[asyncio.Task[None]] = set()

    def sent(self) -> int:
        """Candidates sent so far by all the clients."""
        return sum(stream.seq for peer in self.peers for stream in peer.streams)

    async def connect(self, url: str, address: str, path: str = "") -> Peer:
        """Open a client and start reading what it receives."""
        if self.generator == "raw":
            client = await open_raw(url, address, self.compression is not None, path)
            peer = Peer(client)
            deliver = self._deliver_peerjs if self.dialect == "peerjs" else self._deliver
            client.attach(functools.partial(deliver, peer), self._link_failed)
            return peer
        peer = Peer(WebsocketsLink(await open_client(url, address, self.compression, path)))
        self._start(self._read_peerjs(peer) if self.dialect == "peerjs" else self._read(peer))
        return peer

    def _link_failed(self, exc: BaseException) -> None:
        self.errors[f"{type(exc).__name__}: {exc}"] += 1

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
        elif self.refills is not None and not self.stopped:
            self.refills[sender]()

    def _deliver(self, peer: Peer, payload: bytes, now: int) -> None:
        """A message of our protocol, read by the raw generator."""
        try:
            head = _decode_event_head(payload)
            if head.event == "received_ice_candidate":
                content = _decode_relayed(head.content)
                self._count(peer, content.connection_id, content.candidate.candidate, now)
                return
            message = json.loads(payload)
        except (msgspec.DecodeError, ValueError, IndexError) as exc:
            self.errors[f"undecodable message: {exc}"] += 1
            return
        if message.get("event") == "error":
            self.errors[str(message["content"].get("code"))] += 1
        if self.setting_up:
            peer.inbox.put_nowait(message)

    def _deliver_peerjs(self, peer: Peer, payload: bytes, now: int) -> None:
        """A PeerJS server message, read by the raw generator."""
        try:
            head = _decode_peerjs_head(payload)
            if head.type == "CANDIDATE":
                line = _decode_peerjs_candidate(head.payload).candidate.candidate
                self._count(peer, head.src, line, now)
                return
            message = json.loads(payload)
        except (msgspec.DecodeError, ValueError, IndexError) as exc:
            self.errors[f"undecodable message: {exc}"] += 1
            return
        if message.get("type") == "ERROR":
            self.errors[str(message["payload"].get("msg"))] += 1
        elif self.setting_up:
            peer.inbox.put_nowait(message)

    async def _read_peerjs(self, peer: Peer) -> None:
        assert isinstance(peer.link, WebsocketsLink)
        loads = json.loads
        clock = time.monotonic_ns
        count = self._count
        with contextlib.suppress(ConnectionClosed):
            async for raw in peer.link.ws:
                now = clock()
                message = loads(raw)
                if message.get("type") == "CANDIDATE":
                    count(peer, message["src"], message["payload"]["candidate"]["candidate"], now)
                elif message.get("type") == "ERROR":
                    self.errors[str(message["payload"].get("msg"))] += 1
                elif self.setting_up:
                    peer.inbox.put_nowait(message)

    async def _heartbeat(self, peer: Peer) -> None:
        with contextlib.suppress(ConnectionClosed, LinkClosed):
            while True:
                await asyncio.sleep(PEERJS_HEARTBEAT_SECONDS)
                await peer.link.send(PEERJS_HEARTBEAT)

    async def _read(self, peer: Peer) -> None:
        assert isinstance(peer.link, WebsocketsLink)
        loads = json.loads
        clock = time.monotonic_ns
        count = self._count
        with contextlib.suppress(ConnectionClosed):
            async for raw in peer.link.ws:
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
                await host.link.send(json.dumps({"action": "start_lobby", "content": start}))
                started = await self.expect(host, "lobby_started")
                host.cid = started["connection_id"]
                self.peers.append(host)
                for g in range(guests):
                    guest = await self.connect(url, source_address(self.worker, base + 1 + g))
                    join = {"lobby_id": started["lobby_id"], "name": f"Guest {g + 1}"}
                    await guest.link.send(json.dumps({"action": "join_lobby", "content": join}))
                    request = await self.expect(host, "request_to_join")
                    await self.expect(guest, "join_requested")
                    accept = {"connection_id": request["connection_id"]}
                    await host.link.send(
                        json.dumps({"action": "accept_request", "content": accept})
                    )
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
                    await peer.link.close()
            peer.link.abort()

        await asyncio.gather(*(close_one(peer) for peer in self.peers))
        for task in list(self._readers):
            task.cancel()
        self.peers.clear()
