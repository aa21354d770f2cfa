"""Cluster nodes as separate ``lobbyhost-server`` processes on a real Redis.

A node SIGKILLed while its clients relay: its clients reconnect to other nodes
and resume with their tokens; no lobby is lost, and clients whose sockets are
on living nodes see nothing but ``*_disconnected``/``*_resumed`` notices (and,
for a relay to a peer whose node just died, the error a sender gets on one
node). And ``--workers 2``: two processes on one port sharing lobbies.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from tests.signalling_server.wsclient import EVENT_TIMEOUT, WsClient
from tests.timeouts import scaled

pytestmark = pytest.mark.asyncio

ROOT = Path(__file__).resolve().parents[2]
READY_LINE = re.compile(r"lobbyhost-server \S+ listening on (ws://127\.0\.0\.1:\d+/)")
PROCESS_TIMEOUT = scaled(15.0)
#: What a client whose socket is on a living node may see while another node dies.
NOTICES = {"guest_left", "guest_resumed", "host_disconnected", "host_resumed"}
#: Errors a sender may get for a relay to a peer whose node just died (as on one node).
RELAY_ERRORS = {"unknown_connection", "host_unavailable"}

_addresses = itertools.count(10)


@dataclass(slots=True)
class Node:
    process: asyncio.subprocess.Process
    url: str


@contextlib.asynccontextmanager
async def run_node(*args: str, read_log: bool = False) -> AsyncIterator[Node]:
    """``python -m signalling_server ARGS`` on 127.0.0.1, until the block ends (then killed).

    ``read_log``: its log (stderr) is a pipe the test reads.
    """
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "signalling_server",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--log-level",
        "warning",
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE if read_log else None,
        # Its own process group: a supervisor's workers are killed with it, so
        # none outlives the test holding the pipes open.
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(PROCESS_TIMEOUT):
            line = (await process.stdout.readline()).decode()
        match = READY_LINE.match(line.strip())
        assert match, f"unexpected first line {line!r}"
        yield Node(process, match.group(1))
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        async with asyncio.timeout(PROCESS_TIMEOUT):
            await process.communicate()


class Peer:
    """A client that reads every event in the background, keeping them for the checks."""

    def __init__(self, client: WsClient) -> None:
        self.client = client
        self.id = ""
        self.token = ""
        self.events: list[dict[str, Any]] = []
        self._arrived = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())
        self._pings = itertools.count()

    @classmethod
    async def open(cls, url: str) -> Peer:
        number = next(_addresses)  # each client its own source address (per-address budgets)
        return cls(await WsClient.open(url, f"127.0.{number // 250}.{number % 250 + 2}"))

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for frame in self.client.ws:
                async with self._arrived:
                    self.events.append(json.loads(frame))
                    self._arrived.notify_all()

    async def wait_for(self, event: str, **content: Any) -> dict[str, Any]:
        """The first event named ``event`` (with these content fields) received, now or later."""

        def find() -> dict[str, Any] | None:
            for message in self.events:
                body = message.get("content", {})
                if message.get("event") == event and all(
                    body.get(k) == v for k, v in content.items()
                ):
                    return message
            return None

        async with asyncio.timeout(EVENT_TIMEOUT), self._arrived:
            await self._arrived.wait_for(lambda: find() is not None)
        found = find()
        assert found is not None
        result: dict[str, Any] = found["content"]
        return result

    async def round_trip(self) -> None:
        """A ping answered: everything sent before it was applied."""
        t = f"p{next(self._pings)}"
        await self.client.act("ping", t=t)
        await self.wait_for("pong", t=t)

    def names(self, since: int = 0) -> list[str]:
        return [message["event"] for message in self.events[since:]]

    async def close(self) -> None:
        await self.client.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


@dataclass(slots=True)
class Lobby:
    code: str
    host: Peer
    host_node: int
    guests: list[tuple[Peer, int]] = field(default_factory=list)


async def _start_lobby(url: str, node: int) -> Lobby:
    host = await Peer.open(url)
    await host.client.act("start_lobby", display_name=f"host{node}")
    started = await host.wait_for("lobby_started")
    host.id, host.token = started["connection_id"], started["host_token"]
    return Lobby(started["lobby_id"], host, node)


async def _add_guest(lobby: Lobby, url: str, node: int) -> None:
    guest = await Peer.open(url)
    await guest.client.act("join_lobby", lobby_id=lobby.code, name=f"g{len(lobby.guests)}")
    await guest.wait_for("join_requested")
    request = await lobby.host.wait_for("request_to_join", name=f"g{len(lobby.guests)}")
    await lobby.host.client.act("accept_request", connection_id=request["connection_id"])
    accepted = await guest.wait_for("request_accepted")
    guest.id, guest.token = accepted["connection_id"], accepted["guest_token"]
    lobby.guests.append((guest, node))


async def _relay_load(guest: Peer, host_id: str, stop: asyncio.Event) -> int:
    """Messages to the host, one round trip at a time, until told to stop or the socket dies."""
    sent = 0
    with contextlib.suppress(ConnectionClosed, AssertionError, TimeoutError):
        while not stop.is_set():
            await guest.client.act("send_message", connection_id=host_id, data=sent)
            await guest.round_trip()
            sent += 1
    return sent


async def _resume(peer: Peer, url: str) -> Peer:
    """``peer``'s place taken back with its token on another node."""
    back = await Peer.open(url)
    await back.client.act("resume", token=peer.token)
    resumed = await back.wait_for("resumed")
    back.id, back.token = resumed["connection_id"], peer.token
    return back


#: What a client gets while joining and relaying (before and after the node dies).
ORDINARY = {"lobby_started", "join_requested", "request_to_join", "request_accepted"}
ORDINARY |= {"guest_accepted", "received_message", "pong", "resumed"}


def _unexpected(peer: Peer) -> list[dict[str, Any]]:
    """What a client got besides joining, relays, notices and relay errors."""
    odd = []
    for message in peer.events:
        name = message["event"]
        if name == "error" and message["content"]["code"] in RELAY_ERRORS:
            continue
        if name not in ORDINARY and name not in NOTICES:
            odd.append(message)
    return odd


async def test_a_node_killed_under_load_loses_no_lobby(redis_url: str) -> None:
    """SIGKILL one of three nodes while guests relay: everyone resumes elsewhere, no lobby lost."""
    timers = ["--node-heartbeat", str(scaled(0.2)), "--node-timeout", str(scaled(1.0))]
    timers += ["--guest-grace", str(scaled(30)), "--host-grace", str(scaled(30))]
    timers += ["--actions-per-second", "100000", "--action-burst", "100000"]  # load, not abuse
    async with contextlib.AsyncExitStack() as stack:
        nodes = [
            await stack.enter_async_context(run_node("--redis", redis_url, *timers))
            for _ in range(3)
        ]
        urls = [node.url for node in nodes]
        lobbies: list[Lobby] = []
        for index in range(6):  # hosts on every node, guests on the two others
            host_node = index % 3
            lobby = await _start_lobby(urls[host_node], host_node)
            for guest_node in range(3):
                if guest_node != host_node:
                    await _add_guest(lobby, urls[guest_node], guest_node)
            lobbies.append(lobby)
        peers = [peer for lobby in lobbies for peer in (lobby.host, *(g for g, _ in lobby.guests))]
        stack.push_async_callback(_close_all, peers)  # the ones resumed below are added to it
        stop = asyncio.Event()
        load = [
            asyncio.create_task(_relay_load(guest, lobby.host.id, stop))
            for lobby in lobbies
            for guest, _ in lobby.guests
        ]
        for lobby in lobbies:  # the load is flowing everywhere before the kill
            await lobby.host.wait_for("received_message", data=3)

        nodes[1].process.send_signal(signal.SIGKILL)
        await nodes[1].process.wait()

        # A living node finds the heartbeat stale and applies the dead node's departures.
        for lobby in lobbies:
            for guest, node in lobby.guests:
                if node == 1 and lobby.host_node != 1:
                    await lobby.host.wait_for(
                        "guest_left", connection_id=guest.id, reason="disconnected"
                    )
                if node != 1 and lobby.host_node == 1:
                    await guest.wait_for("host_disconnected", lobby_id=lobby.code)
        # Everyone whose socket was on the dead node comes back on a living one.
        survivors = [0, 2]
        for number, lobby in enumerate(lobbies):
            if lobby.host_node == 1:
                lobby.host = await _resume(lobby.host, urls[survivors[number % 2]])
                peers.append(lobby.host)
            for position, (guest, node) in enumerate(lobby.guests):
                if node == 1:
                    back = await _resume(guest, urls[survivors[(number + 1) % 2]])
                    lobby.guests[position] = (back, 0)
                    peers.append(back)
                    load.append(asyncio.create_task(_relay_load(back, lobby.host.id, stop)))
        # Every lobby lives: each guest's messages reach its host (found by its current id).
        for lobby in lobbies:
            for guest, _ in lobby.guests:
                await guest.client.act("send_message", connection_id=lobby.host.id, data="after")
                await lobby.host.wait_for("received_message", connection_id=guest.id, data="after")
                await lobby.host.client.act("send_message", connection_id=guest.id, data="ack")
                await guest.wait_for("received_message", data="ack")
        stop.set()
        await asyncio.gather(*load)
        for lobby in lobbies:
            for peer in (lobby.host, *(guest for guest, _ in lobby.guests)):
                assert not _unexpected(peer), _unexpected(peer)
        health = await _healthz(urls[0])
        assert health["status"] == "ok" and health["lobbies"] == 6


async def _close_all(peers: list[Peer]) -> None:
    for peer in peers:
        with contextlib.suppress(ConnectionClosed):
            await peer.close()


async def _healthz(url: str) -> dict[str, Any]:
    host, port = url.removeprefix("ws://").rstrip("/").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    async with asyncio.timeout(EVENT_TIMEOUT):
        reply = await reader.read()
    writer.close()
    body: dict[str, Any] = json.loads(reply.split(b"\r\n\r\n", 1)[1])
    return body


async def _log_line(node: Node, text: str) -> str:
    """The next line of the node's log that contains ``text``."""
    assert node.process.stderr is not None
    async with asyncio.timeout(PROCESS_TIMEOUT):
        while True:
            line = (await node.process.stderr.readline()).decode()
            assert line, f"the log ended before a line with {text!r}"
            if text in line:
                return line


def _child_pids(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children]


async def test_two_workers_share_lobbies_on_one_port(redis_url: str) -> None:
    """--workers 2: two processes on one port share a lobby; a killed worker is started again."""
    workers = ("--workers", "2", "--redis", redis_url, "--log-level", "info")
    async with run_node(*workers, read_log=True) as supervisor:
        hosts: dict[str, Peer] = {}
        opened: list[Peer] = []
        try:
            while len(hosts) < 2:
                lobby = await _start_lobby(supervisor.url, 0)
                opened.append(lobby.host)
                hosts.setdefault(lobby.host.id.split(".")[0], lobby.host)
                assert len(opened) < 40, "every connection went to one worker"
            first = next(iter(hosts.values()))
            code = (await first.wait_for("lobby_started"))["lobby_id"]
            lobby = Lobby(code, first, 0)
            worker_of_host = first.id.split(".")[0]
            while not any(g.id.split(".")[0] != worker_of_host for g, _ in lobby.guests):
                await _add_guest(lobby, supervisor.url, 0)
                opened.append(lobby.guests[-1][0])
            guest = next(g for g, _ in lobby.guests if g.id.split(".")[0] != worker_of_host)
            await guest.client.act("send_message", connection_id=first.id, data="across")
            await first.wait_for("received_message", connection_id=guest.id, data="across")
        finally:
            await _close_all(opened)
        victim = _child_pids(supervisor.process.pid)[0]
        os.kill(victim, signal.SIGKILL)
        assert f"(pid {victim}) ended with -9" in await _log_line(supervisor, "ended with")
        await _log_line(supervisor, "is serving")
        assert len(_child_pids(supervisor.process.pid)) == 2
        again = await _start_lobby(supervisor.url, 0)  # the port still serves
        await again.host.close()
        supervisor.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(PROCESS_TIMEOUT):
            assert await supervisor.process.wait() == 0
