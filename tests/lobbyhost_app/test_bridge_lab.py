"""Real programs through the game bridge, between two network namespaces, via the real CLIs.

``lobbyhost --headless --forward ...`` runs in the host's namespace next to the
game server (bound to that namespace's 127.0.0.1, out of the guest's reach);
``lobbyhost-guest`` runs in the guest's namespace and prints where its
listeners are; the game's own client, in the guest's namespace, uses them.
ICE gathers only on the lab's documentation addresses.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import sys
import tempfile
from collections.abc import AsyncIterator

from tests.timeouts import scaled

from .netns_lab import GUEST_ADDRESS, HOST_ADDRESS, Lab, lab, require_programs
from .test_headless_and_guest_cli import ROOT, START_TIMEOUT, JsonLinesProcess, running

RUN_TIMEOUT = scaled(20.0)
OPENARENA = "/usr/games/openarena-server"


class ServerProcess:
    """A game server's process, its console on stdin, and its output read line by line."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[bytes] = []

    async def wait_line(self, wanted: bytes) -> bytes:
        """The next line of output containing ``wanted``."""
        assert self.process.stdout is not None
        async with asyncio.timeout(RUN_TIMEOUT):
            while wanted not in (line := await self.process.stdout.readline()):
                if not line:
                    raise AssertionError(f"the server ended: {b''.join(self.lines)!r}")
                self.lines.append(line)
        return line

    async def command(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text.encode() + b"\n")
        await self.process.stdin.drain()


@contextlib.asynccontextmanager
async def server_process(command: list[str], ready: bytes) -> AsyncIterator[ServerProcess]:
    """A game server; yielded once a line of its output contains ``ready``; stopped afterwards."""
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    server = ServerProcess(process)
    try:
        await server.wait_line(ready)
        yield server
    finally:
        if process.returncode is None:
            process.terminate()
        await process.communicate()


async def run(command: list[str], stdin: bytes = b"") -> tuple[int, bytes]:
    """Run a client program to its end; its exit code and output."""
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with asyncio.timeout(RUN_TIMEOUT):
            out, _ = await process.communicate(stdin)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, out


@contextlib.asynccontextmanager
async def bridged_lobby(
    made: Lab, *forwards: str
) -> AsyncIterator[tuple[JsonLinesProcess, JsonLinesProcess]]:
    """The headless host sharing ``forwards`` and a guest connected to it, across the lab."""
    host_args = (
        "--headless",
        "--listen",
        f"{HOST_ADDRESS}:0",
        "--ice-address",
        HOST_ADDRESS,
        "--auto-accept",
        *(arg for spec in forwards for arg in ("--forward", spec)),
    )
    async with running("host", "lobbyhost_app.cli", *host_args, under=made.host()) as host:
        started = await host.expect("lobby_started", within=START_TIMEOUT)
        guest_args = (started["url"], started["lobby_id"], "--ice-address", GUEST_ADDRESS)
        async with running(
            "guest", "lobbyhost_app.guest_cli", *guest_args, under=made.guest()
        ) as guest:
            await guest.expect("status", within=START_TIMEOUT, phase="connected")
            yield host, guest


def address(line: dict[str, object]) -> tuple[str, str]:
    host, _, port = str(line["local"]).rpartition(":")
    return host, port


async def test_redis_cli_on_the_guest_reaches_redis_server_on_the_host() -> None:
    """redis-cli in the guest's namespace SETs and GETs (a 2 MB value too) on the host's redis-server, through the bridge only."""
    require_programs("redis-server", "redis-cli")
    with lab() as made:
        redis = made.host(
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
        )
        async with server_process(redis, b"Ready to accept connections"):
            # No way around the bridge: the host's redis is not reachable from the guest side.
            code, _ = await run(made.guest("redis-cli", "-h", HOST_ADDRESS, "-p", "6379", "PING"))
            assert code != 0
            async with bridged_lobby(made, "6379/tcp=Redis") as (_host, guest):
                forward = await guest.expect("forward", port=6379)
                assert forward == {
                    "event": "forward",
                    "proto": "tcp",
                    "port": 6379,
                    "local": "127.0.0.1:6379",
                    "label": "Redis",
                }
                host, port = address(forward)
                redis_cli = made.guest("redis-cli", "-h", host, "-p", port)
                assert await run([*redis_cli, "SET", "greeting", "hello"]) == (0, b"OK\n")
                assert await run([*redis_cli, "GET", "greeting"]) == (0, b"hello\n")
                big = secrets.token_hex(1024 * 1024).encode()  # 2 MB
                assert await run([*redis_cli, "-x", "SET", "big"], stdin=big) == (0, b"OK\n")
                assert await run([*redis_cli, "STRLEN", "big"]) == (0, b"2097152\n")
                code, out = await run([*redis_cli, "--raw", "GET", "big"])
                assert code == 0 and out == big + b"\n"


async def test_quakestat_on_the_guest_reads_the_openarena_server_on_the_host() -> None:
    """quakestat in the guest's namespace reads the host's OpenArena server's status (name, map, players) over the UDP bridge."""
    require_programs("quakestat")
    if not os.access(OPENARENA, os.X_OK):
        require_programs("openarena-server")
    with lab() as made, tempfile.TemporaryDirectory() as home:
        openarena = [
            "env",
            f"HOME={home}",
            *made.host(
                OPENARENA,
                "+set", "dedicated", "1",
                "+set", "net_ip", "127.0.0.1",
                "+set", "net_port", "27960",
                "+set", "sv_master1", "",
                "+set", "sv_hostname", "LabArena",
                "+set", "sv_maxclients", "12",
                "+set", "bot_enable", "1",
                "+map", "oa_dm1",
            ),
        ]  # fmt: skip
        async with server_process(openarena, b"AAS initialized") as arena:
            await arena.command("addbot Angelyss 1")
            await arena.wait_line(b"entered the game")
            async with bridged_lobby(made, "27960/udp=OpenArena") as (_host, guest):
                forward = await guest.expect("forward", port=27960)
                assert forward["proto"] == "udp"
                assert forward["local"] == "127.0.0.1:27960"
                query = made.guest("quakestat", "-q3s", str(forward["local"]), "-raw", ",")
                code, out = await run(query)
                assert code == 0, out
                fields = out.decode().strip().split(",")
                # Q3S,address,name,map,max players,players,...
                assert fields[:5] == ["Q3S", "127.0.0.1:27960", "LabArena", "oa_dm1", "12"], out
                assert fields[5] == "1", out  # the bot is a player


async def test_udp_over_a_lossy_link_loses_datagrams_without_stalling_or_damaging_them() -> None:
    """With 15 % of the lab's packets dropped each way, forwarded UDP loses some datagrams, never repeats or damages one, and later ones still arrive."""
    require_programs("iptables")
    with lab() as made:
        echo = made.host(
            sys.executable, "-m", "tests.lobbyhost_app.lab_programs", "udp-echo", "5000"
        )
        async with (
            server_process(echo, b"ready"),
            bridged_lobby(made, "5000/udp=Echo") as (_, guest),
        ):
            forward = await guest.expect("forward", port=5000)
            for ns in (made.host, made.guest):
                drop = ["iptables", "-A", "INPUT", "-p", "udp", "-m", "statistic"]
                drop += ["--mode", "random", "--probability", "0.15", "-j", "DROP"]
                code, out = await run(ns(*drop))
                assert code == 0, out
            burst = made.guest(
                sys.executable,
                "-m",
                "tests.lobbyhost_app.lab_programs",
                "udp-burst",
                str(forward["local"]),
                "400",
                "900",
            )
            code, out = await run(burst)
            assert code == 0, out
            result = json.loads(out)
            echoed = result["echoed"]
            assert result["damaged"] == 0 and result["twice"] == 0
            assert 0 < len(echoed) < 400  # some lost, and not retransmitted
            lost = sorted(set(range(400)) - set(echoed))
            assert max(echoed) > lost[0]  # a loss holds nothing up: later datagrams still came
