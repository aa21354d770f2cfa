"""The server's front door: stock ``websockets.asyncio.server.serve`` against the h11 front.

Run: ``.venv/bin/python -m tests.benchmarks.http_front [--quick] [--reps N] [--json PATH]``

Both fronts serve the same trivial application, each in a subprocess of its
own on 127.0.0.1: a websocket at ``/`` that echoes text frames, and
``GET /healthz`` answering a small JSON body. The stock front is websockets'
asyncio server with ``process_request`` (as ``signalling_server`` used it);
the h11 front is :class:`signalling_server.transport.Listener` with an echo
node. Measured in the same run, repetitions interleaved (A B B A ...):

* handshakes: connect, websocket handshake, close frame, server closes TCP;
* healthz: connect, ``GET /healthz``, read the answer to the end;
* echo: round trips of a 100-byte text frame on open connections.

Each repetition gives operations per second (wall clock, the client in this
process) and the server's CPU microseconds per operation (from /proc); the
report shows medians over repetitions and the ratio h11 / stock. Client and
server run on a core each (when there are two): the client, one Python
process, is then often the limit of ops/s, so the server's CPU per operation
is the figure that compares the fronts.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path

from tests.benchmarks.relay.process_resources import cpu_seconds, raise_nofile

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
FRONTS = ("stock", "h11")
HEALTH_BODY = b'{"status":"ok","connections":0,"lobbies":0,"version":"bench"}'
#: A fixed key is fine: the server only checks that it is 16 bytes of base64.
KEY = base64.b64encode(b"0123456789abcdef").decode()
MASK = b"\x01\x02\x03\x04"


# The servers (run as subprocesses) --------------------------------------------------------


async def serve_stock(ready: Callable[[int], None]) -> None:
    """websockets' asyncio server: a task per connection, ``process_request`` for HTTP."""
    from websockets.asyncio.server import ServerConnection, serve
    from websockets.datastructures import Headers
    from websockets.exceptions import ConnectionClosed
    from websockets.http11 import Request, Response

    from signalling_server.frame_log import redacted_frame_logger

    async def echo(ws: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):  # the echo clients abort at the end
            async for message in ws:
                await ws.send(message)

    def process_request(connection: ServerConnection, request: Request) -> Response | None:
        if request.path == "/healthz":
            headers = Headers(
                [
                    ("Content-Type", "application/json"),
                    ("Content-Length", str(len(HEALTH_BODY))),
                    ("Connection", "close"),
                ]
            )
            return Response(200, "OK", headers, HEALTH_BODY)
        return None

    async with serve(
        echo,
        HOST,
        0,
        compression=None,
        process_request=process_request,
        server_header="lobbyhost/bench",
        logger=redacted_frame_logger("websockets.server"),
    ) as server:
        ready(next(iter(server.sockets)).getsockname()[1])
        await asyncio.Future()


async def serve_h11(ready: Callable[[int], None]) -> None:
    """The h11 front of :mod:`signalling_server.transport` with an echoing node."""
    from signalling_server.config import ServerConfig
    from signalling_server.http_routes import HttpReply, HttpRequest
    from signalling_server.ids import ConnectionId
    from signalling_server.node import Outlet
    from signalling_server.protocol.events import Event
    from signalling_server.protocol.native import Decoded
    from signalling_server.transport import HttpRouter, Listener, WebsocketRoutes

    class UnusedCodec:
        name = "bench"

        def decode(self, frame: str | bytes) -> Decoded:
            raise NotImplementedError

        def encode(self, event: Event, ref: str | None = None) -> bytes:
            raise NotImplementedError

    class EchoNode:
        def __init__(self) -> None:
            self.outlets: dict[ConnectionId, Outlet] = {}

        def attach(self, address: str, codec: object, outlet: Outlet) -> ConnectionId:
            connection_id = ConnectionId(str(len(self.outlets)) + address)
            self.outlets[connection_id] = outlet
            return connection_id

        def receive(self, connection_id: ConnectionId, frame: str | bytes) -> None:
            if isinstance(frame, str):
                self.outlets[connection_id].send(frame.encode())

        def detach(self, connection_id: ConnectionId) -> None:
            self.outlets.pop(connection_id, None)

    def health(request: HttpRequest) -> HttpReply:
        return HttpReply(HTTPStatus.OK, "application/json", HEALTH_BODY)

    router = HttpRouter()
    router.add("GET", "/healthz", health)
    websocket_routes = WebsocketRoutes()
    websocket_routes.add("/", lambda _request: UnusedCodec())
    listener = Listener(
        ServerConfig(host=HOST, port=0, web_root=None),
        sink=EchoNode(),
        router=router,
        websocket_routes=websocket_routes,
        server_header="lobbyhost/bench",
    )
    await listener.start()
    ready(listener.port)
    await asyncio.Future()


def run_server(front: str) -> None:
    """Serve until killed, printing the port on the first line."""
    serve = serve_stock if front == "stock" else serve_h11
    with_port: Callable[[int], None] = lambda port: print(port, flush=True)  # noqa: E731
    asyncio.run(serve(with_port))


@dataclass
class ServerProcess:
    front: str
    process: subprocess.Popen[bytes]
    port: int

    @classmethod
    def start(cls, front: str) -> ServerProcess:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.benchmarks.http_front", "--serve", front],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            preexec_fn=lambda: _server_process_setup(),
        )
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.strip().isdigit():
            process.kill()
            raise RuntimeError(f"the {front} server did not start: {line!r}")
        return cls(front, process, int(line))

    def cpu(self) -> float:
        return cpu_seconds(self.process.pid)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _cpus() -> tuple[set[int], set[int]]:
    """(client CPUs, server CPUs): one core each when there are two or more, else shared."""
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        return set(available), set(available)
    return {available[0]}, {available[1]}


def _server_process_setup() -> None:
    raise_nofile()
    # The client and the server on cores of their own: neither steals the
    # other's time slices, so a front's cost is not blurred by the client's.
    os.sched_setaffinity(0, _cpus()[1])


# The client (lean on purpose, so the servers are what is measured) -----------------------


def handshake_request(port: int) -> bytes:
    """The handshake as Chromium sends it (the browser guest page is the common client)."""
    return (
        f"GET / HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: Upgrade\r\n"
        "Pragma: no-cache\r\nCache-Control: no-cache\r\n"
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36\r\n"
        f"Upgrade: websocket\r\nOrigin: http://{HOST}:{port}\r\nSec-WebSocket-Version: 13\r\n"
        "Accept-Encoding: gzip, deflate, br\r\nAccept-Language: en-GB,en;q=0.9\r\n"
        f"Sec-WebSocket-Key: {KEY}\r\n"
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
    ).encode()


def masked_frame(opcode: int, payload: bytes) -> bytes:
    assert len(payload) < 126
    masked = bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + MASK + masked


CLOSE_FRAME = masked_frame(0x8, (1000).to_bytes(2, "big"))
ECHO_PAYLOAD = b"x" * 100
ECHO_FRAME = masked_frame(0x1, ECHO_PAYLOAD)
ECHO_REPLY_BYTES = 2 + len(ECHO_PAYLOAD)


class OneExchange(asyncio.Protocol):
    """Writes a request, optionally a close frame after the 101, and reads until the server closes."""

    def __init__(self, request: bytes, after_upgrade: bytes | None) -> None:
        self.request = request
        self.after_upgrade = after_upgrade
        self.buffer = bytearray()
        self.done: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        first = not self.buffer
        self.buffer += data
        if first and self.after_upgrade is not None and self.transport is not None:
            if not self.buffer.startswith(b"HTTP/1.1 101"):
                raise RuntimeError(f"handshake refused: {bytes(self.buffer[:40])!r}")
            self.transport.write(self.after_upgrade)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(bytes(self.buffer))


class EchoConnection(asyncio.Protocol):
    """An open websocket sending one frame at a time and waiting for its echo."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.pending = 0
        self.upgraded = False
        self.waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if not self.upgraded:
            head, sep, rest = data.partition(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 101") or not sep:
                raise RuntimeError(f"handshake refused: {data[:40]!r}")
            self.upgraded = True
            data = rest
            self.waiter.set_result(None)
        self.pending -= len(data)
        if self.pending <= 0 and not self.waiter.done():
            self.waiter.set_result(None)

    async def round_trip(self) -> None:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.pending = ECHO_REPLY_BYTES
        self.transport.write(ECHO_FRAME)
        await self.waiter


def source_address(worker: int) -> tuple[str, int]:
    """Spread clients over 127.0.0.2-201 so ephemeral ports and TIME_WAIT never run short."""
    return (f"127.0.0.{2 + worker % 200}", 0)


async def run_workers(total: int, concurrency: int, one: Callable[[int], Awaitable[None]]) -> None:
    async def worker(index: int) -> None:
        for _ in range(total // concurrency):
            await one(index)

    await asyncio.gather(*(worker(index) for index in range(concurrency)))


async def handshakes(port: int, total: int, concurrency: int) -> int:
    loop = asyncio.get_running_loop()
    request = handshake_request(port)

    async def one(worker: int) -> None:
        _, exchange = await loop.create_connection(
            lambda: OneExchange(request, CLOSE_FRAME), HOST, port, local_addr=source_address(worker)
        )
        answer = await exchange.done
        if not answer.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(f"handshake: {answer[:40]!r}")

    await run_workers(total, concurrency, one)
    return total // concurrency * concurrency


async def healthz(port: int, total: int, concurrency: int) -> int:
    loop = asyncio.get_running_loop()
    request = (
        f"GET /healthz HTTP/1.1\r\nHost: {HOST}:{port}\r\nUser-Agent: curl/7.88.1\r\n"
        "Accept: */*\r\nConnection: close\r\n\r\n"
    ).encode()

    async def one(worker: int) -> None:
        _, exchange = await loop.create_connection(
            lambda: OneExchange(request, None), HOST, port, local_addr=source_address(worker)
        )
        answer = await exchange.done
        if not answer.startswith(b"HTTP/1.1 200") or not answer.endswith(HEALTH_BODY):
            raise RuntimeError(f"healthz: {answer[:40]!r}")

    await run_workers(total, concurrency, one)
    return total // concurrency * concurrency


async def echoes(port: int, connections: int, rounds: int) -> int:
    loop = asyncio.get_running_loop()
    opened = []
    for index in range(connections):
        transport, echo = await loop.create_connection(
            EchoConnection, HOST, port, local_addr=source_address(index)
        )
        transport.write(handshake_request(port))
        await echo.waiter
        opened.append(echo)

    async def talk(echo: EchoConnection) -> None:
        for _ in range(rounds):
            await echo.round_trip()

    await asyncio.gather(*(talk(echo) for echo in opened))
    for echo in opened:
        assert echo.transport is not None
        echo.transport.abort()
    return connections * rounds


# Measurement ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    per_second: float
    server_cpu_us: float


async def measure(server: ServerProcess, run: Callable[[int], Awaitable[int]]) -> Sample:
    cpu_before = server.cpu()
    start = time.perf_counter()
    async with asyncio.timeout(300):
        operations = await run(server.port)
    elapsed = time.perf_counter() - start
    cpu = server.cpu() - cpu_before
    return Sample(operations / elapsed, cpu / operations * 1e6)


async def benchmark(reps: int, size: int, concurrency: int) -> dict[str, dict[str, list[Sample]]]:
    workloads: dict[str, Callable[[int], Awaitable[int]]] = {
        "handshakes": lambda port: handshakes(port, size, concurrency),
        "healthz": lambda port: healthz(port, size, concurrency),
        "echo": lambda port: echoes(port, concurrency, max(1, size * 2 // concurrency)),
    }
    servers = {front: ServerProcess.start(front) for front in FRONTS}
    results: dict[str, dict[str, list[Sample]]] = {
        name: {front: [] for front in FRONTS} for name in workloads
    }
    try:
        for name, run in workloads.items():
            for server in servers.values():  # warm-up: imports, first allocations
                await measure(server, run)
            for rep in range(reps):
                order = FRONTS if rep % 2 == 0 else FRONTS[::-1]
                for front in order:
                    results[name][front].append(await measure(servers[front], run))
    finally:
        for server in servers.values():
            server.stop()
    return results


def summarise(results: dict[str, dict[str, list[Sample]]]) -> dict[str, dict[str, float]]:
    summary: dict[str, dict[str, float]] = {}
    for name, by_front in results.items():
        row: dict[str, float] = {}
        for front, samples in by_front.items():
            row[f"{front}_per_s"] = statistics.median(s.per_second for s in samples)
            row[f"{front}_cpu_us"] = statistics.median(s.server_cpu_us for s in samples)
        row["ratio_per_s"] = row["h11_per_s"] / row["stock_per_s"]
        row["ratio_cpu"] = row["h11_cpu_us"] / row["stock_cpu_us"]
        summary[name] = row
    return summary


def table(summary: dict[str, dict[str, float]], reps: int) -> str:
    lines = [
        f"medians of {reps} interleaved repetitions; ratio = h11 / stock",
        "| workload | stock ops/s | h11 ops/s | ratio | stock server CPU us/op "
        "| h11 server CPU us/op | ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in summary.items():
        lines.append(
            f"| {name} | {row['stock_per_s']:,.0f} | {row['h11_per_s']:,.0f} "
            f"| {row['ratio_per_s']:.2f} | {row['stock_cpu_us']:.0f} | {row['h11_cpu_us']:.0f} "
            f"| {row['ratio_cpu']:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", choices=FRONTS, help=argparse.SUPPRESS)
    parser.add_argument("--reps", type=int, default=7, help="repetitions per front (7)")
    parser.add_argument("--size", type=int, default=3000, help="operations per repetition")
    parser.add_argument("--concurrency", type=int, default=50, help="clients at once (50)")
    parser.add_argument("--quick", action="store_true", help="3 repetitions of 1000 operations")
    parser.add_argument("--json", type=Path, help="also write the medians here")
    args = parser.parse_args()
    if args.serve:
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
        run_server(args.serve)
        return
    if args.quick:
        args.reps, args.size = 3, 1000
    raise_nofile()
    os.sched_setaffinity(0, _cpus()[0])
    summary = summarise(asyncio.run(benchmark(args.reps, args.size, args.concurrency)))
    print(table(summary, args.reps))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
