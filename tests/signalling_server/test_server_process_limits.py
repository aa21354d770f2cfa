"""``lobbyhost-server`` as a real process at its limits: open files, and SIGTERM under load.

Each test starts the server as a subprocess on 127.0.0.1 port 0, reads its
log from stderr as it comes, and waits on what the process says or does
(a log line, an answer, its exit), each with a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import re
import resource
import signal
import struct
import sys
import termios
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.exceptions import InvalidHandshake, InvalidStatus

from tests.signalling_server.test_http_and_cli import PROCESS_TIMEOUT, READY_LINE, ROOT
from tests.signalling_server.wsclient import EVENT_TIMEOUT, WsClient
from tests.timeouts import scaled

#: Runs the CLI with ``RLIMIT_NOFILE`` lowered to ``argv[1]`` (soft and hard) first.
_LIMITED_CLI = (
    "import resource, sys\n"
    "limit = int(sys.argv.pop(1))\n"
    "resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))\n"
    "from signalling_server.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


class ServerProcess:
    """A running ``lobbyhost-server`` and the log lines it has written so far."""

    def __init__(self, process: asyncio.subprocess.Process, url: str) -> None:
        self.process = process
        self.url = url
        self.log: list[str] = []
        self._logged = asyncio.Condition()
        self._reader = asyncio.create_task(self._read_log())

    async def _read_log(self) -> None:
        stderr = self.process.stderr
        assert stderr is not None
        while line := await stderr.readline():
            async with self._logged:
                self.log.append(line.decode(errors="replace").rstrip())
                self._logged.notify_all()

    async def wait_for_log(self, pattern: str) -> str:
        """The first log line matching ``pattern``, once the server has written it."""
        regex = re.compile(pattern)
        async with asyncio.timeout(EVENT_TIMEOUT), self._logged:
            while True:
                for line in self.log:
                    if regex.search(line):
                        return line
                await self._logged.wait()

    async def finish(self) -> None:
        """Kill the process if it still runs, and read the rest of its log."""
        if self.process.returncode is None:
            self.process.kill()
        await self.process.wait()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(PROCESS_TIMEOUT):
                await self._reader


@contextlib.asynccontextmanager
async def server_process(*args: str, open_files: int | None = None) -> AsyncIterator[ServerProcess]:
    """``lobbyhost-server --host 127.0.0.1 --port 0 ARGS``, with at most ``open_files`` if given."""
    launcher = ["-m", "signalling_server"]
    if open_files is not None:
        launcher = ["-c", _LIMITED_CLI, str(open_files)]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *launcher,
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    async with asyncio.timeout(PROCESS_TIMEOUT):
        line = (await process.stdout.readline()).decode()
    match = READY_LINE.fullmatch(line.strip())
    running = ServerProcess(process, match.group(2) if match else "")
    try:
        assert match, f"unexpected first line {line!r}"
        yield running
    finally:
        await running.finish()


async def open_or_refused(url: str, address: str) -> WsClient | int:
    """A client from ``address``, or the HTTP status the server refused it with."""
    try:
        return await WsClient.open(url, address)
    except InvalidStatus as exc:
        return exc.response.status_code


async def close_all(clients: list[WsClient]) -> None:
    for client in clients:
        await client.close()


def source_address(index: int) -> str:
    """Loopback source addresses 127.0.1.1, 127.0.1.2 ... (one connection each)."""
    return f"127.0.{1 + index // 250}.{1 + index % 250}"


async def test_near_the_open_file_limit_clients_get_503_and_are_served_again_later() -> None:
    """With few descriptors the server answers 503 instead of failing, and serves once some close."""
    # 160 descriptors: the server keeps 64 in reserve, so it serves at most 96 connections.
    clients: list[WsClient] = []
    async with server_process(open_files=160) as server:
        try:
            status = None
            for index in range(200):
                opened = await open_or_refused(server.url, source_address(index))
                if isinstance(opened, int):
                    status = opened
                    break
                clients.append(opened)
            assert status == 503, f"{len(clients)} clients served, then {status}"
            assert len(clients) == 96
            # Everyone already in is still served.
            await clients[0].act("start_lobby")
            await clients[0].expect("lobby_started")

            await close_all(clients[-5:])
            del clients[-5:]
            async with asyncio.timeout(EVENT_TIMEOUT):
                while isinstance(newcomer := await open_or_refused(server.url, "127.0.9.1"), int):
                    assert newcomer == 503, newcomer  # its closes are not all seen yet
            clients.append(newcomer)
            await newcomer.act("start_lobby")
            await newcomer.expect("lobby_started")
        finally:
            await close_all(clients)
        assert not any("Traceback" in line for line in server.log), server.log


def lowest_free_descriptor(pid: int) -> int:
    """The lowest descriptor number process ``pid`` has not open (the next one it gets)."""
    taken = {int(name) for name in os.listdir(f"/proc/{pid}/fd")}
    return next(number for number in range(len(taken) + 1) if number not in taken)


async def test_accept_failing_with_emfile_pauses_logs_once_and_recovers() -> None:
    """When accept() runs out of descriptors the server logs once, keeps serving, and accepts again."""
    # This is asyncio's selector loop at work (it stops accepting for a second and
    # retries; the listener turns its reports into one warning). uvloop behaves
    # otherwise: see the next test.
    clients: list[WsClient] = []
    async with server_process("--loop", "asyncio") as server:
        pid = server.process.pid
        _, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        try:
            for index in range(3):
                clients.append(await WsClient.open(server.url, source_address(index)))
            # As if something else had taken every descriptor: the next accept() fails.
            resource.prlimit(pid, resource.RLIMIT_NOFILE, (lowest_free_descriptor(pid), hard))
            waiting = asyncio.create_task(WsClient.open(server.url, "127.0.9.2"))
            await server.wait_for_log(r"cannot accept connections \(.*Too many open files")
            # Those already in are served while accepting is paused.
            await clients[0].act("start_lobby")
            await clients[0].expect("lobby_started")

            await clients.pop().close()  # frees a descriptor below the limit
            async with asyncio.timeout(EVENT_TIMEOUT):
                newcomer = await waiting
            clients.append(newcomer)
            await newcomer.act("start_lobby")
            await newcomer.expect("lobby_started")
            await server.wait_for_log("accepting connections again")
        finally:
            await close_all(clients)
        warnings = [line for line in server.log if "cannot accept connections" in line]
        assert len(warnings) == 1, server.log
        assert not any("Traceback" in line for line in server.log), server.log


async def test_on_uvloop_accept_failing_with_emfile_turns_the_newcomer_away_and_serves_on() -> None:
    """On uvloop, a connection that arrives with no descriptor left is closed at once; those in are served, and a newcomer once one left."""
    # libuv accepts it with a spare descriptor and closes it, reporting nothing.
    clients: list[WsClient] = []
    async with server_process("--loop", "uvloop") as server:
        pid = server.process.pid
        _, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        try:
            for index in range(3):
                clients.append(await WsClient.open(server.url, source_address(index)))
            resource.prlimit(pid, resource.RLIMIT_NOFILE, (lowest_free_descriptor(pid), hard))
            with pytest.raises((OSError, InvalidHandshake, TimeoutError)):
                await WsClient.open(server.url, "127.0.9.2")
            await clients[0].act("start_lobby")
            await clients[0].expect("lobby_started")

            await clients.pop().close()  # frees a descriptor below the limit
            newcomer = await WsClient.open(server.url, "127.0.9.3")
            clients.append(newcomer)
            await newcomer.act("start_lobby")
            await newcomer.expect("lobby_started")
        finally:
            await close_all(clients)
        assert not any("Traceback" in line for line in server.log), server.log


def unread_bytes(client: WsClient) -> int:
    """Bytes waiting in the kernel's receive buffer of ``client``'s socket."""
    sock = client.ws.transport.get_extra_info("socket")
    answer = fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0")
    unread: int = struct.unpack("i", answer)[0]
    return unread


async def relay_until_buffers_fill(host: WsClient, guest_ids: list[str], megabytes: int) -> None:
    """Send each guest ``megabytes`` of chat data; return once the server has taken it all."""
    data = "x" * 60_000
    for _ in range(megabytes * 1_000_000 // len(data)):
        for guest_id in guest_ids:
            await host.act("send_message", connection_id=guest_id, data=data)
    await host.assert_silent()  # the server has read and relayed every frame before it


async def test_sigterm_under_load_ends_within_close_timeout_despite_clients_that_do_not_read() -> (
    None
):
    """Guests that stopped reading, with full socket buffers, cannot hold a shutdown past close_timeout."""
    close_timeout = scaled(1.0)
    args: list[Any] = [
        "--close-timeout",
        close_timeout,
        "--send-buffer-bytes",
        512 * 1024 * 1024,
        "--actions-per-second",
        100_000,
        "--action-burst",
        100_000,
    ]
    host: WsClient | None = None
    guests: list[WsClient] = []
    async with server_process(*map(str, args)) as server:
        try:
            host = await WsClient.open(server.url, "127.0.2.1")
            await host.act("start_lobby")
            lobby_id = (await host.expect("lobby_started"))["lobby_id"]
            for index in range(4):
                guest = await WsClient.open(server.url, f"127.0.2.{10 + index}")
                guests.append(guest)
                await guest.act("join_lobby", lobby_id=lobby_id, name=f"g{index}")
                await guest.expect("join_requested")
                guest.id = (await host.expect("request_to_join"))["connection_id"]
                await host.act("accept_request", connection_id=guest.id)
                await guest.expect("request_accepted")
                await host.expect("guest_accepted")
            # From here on the guests never read: their queues, the kernel's buffers
            # and the server's write buffers fill up (16 MB each, more than loopback buffers hold).
            await relay_until_buffers_fill(host, [guest.id for guest in guests], megabytes=16)
            assert all(unread_bytes(guest) > 0 for guest in guests)

            server.process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(close_timeout + scaled(3.0)):
                returncode = await server.process.wait()
            assert returncode == 0
            assert (await host.expect("lobby_closed"))["reason"] == "server_shutdown"
            await host.expect_closed(1001)
        finally:
            for client in (host, *guests):
                if client is not None:
                    client.ws.transport.abort()
