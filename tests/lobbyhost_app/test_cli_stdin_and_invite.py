"""Both CLIs as services run them (stdin at /dev/null or closed), and ``lobbyhost-guest`` given the invite link alone.

Real processes on loopback: ``lobbyhost --headless`` listening on 127.0.0.1
port 0, ``lobbyhost-guest`` gathering ICE candidates on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from typing import Any

import pytest

from .test_headless_and_guest_cli import (
    ENTRY,
    LOOPBACK_ICE,
    ROOT,
    START_TIMEOUT,
    JsonLinesProcess,
    connect_guest,
    headless_host,
)

#: How stdin is given to the program: /dev/null, or no descriptor 0 at all.
STDIN_KINDS = ("devnull", "closed")


@contextlib.asynccontextmanager
async def running_without_input(
    label: str, module: str, *args: str, stdin: str
) -> AsyncIterator[JsonLinesProcess]:
    """``main(args)`` of ``module`` in a child Python whose stdin is /dev/null or closed."""
    command: tuple[str, ...] = (sys.executable, "-c", ENTRY.format(module=module), *args)
    if stdin == "closed":
        command = ("/bin/sh", "-c", 'exec "$@" <&-', "sh", *command)
    with tempfile.TemporaryFile() as stderr:
        process = await asyncio.create_subprocess_exec(
            *command,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )
        try:
            yield JsonLinesProcess(label, process, stderr)
        finally:
            if process.returncode is None:
                process.kill()
            await process.communicate()


def invite_link(started: dict[str, Any]) -> str:
    return f"http://127.0.0.1:{started['port']}/join/{started['lobby_id']}"


@pytest.mark.parametrize("stdin", STDIN_KINDS)
async def test_both_clis_without_stdin_keep_running_until_signalled(stdin: str) -> None:
    """With stdin at /dev/null or closed, the host keeps serving and the guest keeps waiting; SIGTERM ends both cleanly."""
    host_args = ("--headless", "--listen", "127.0.0.1:0", *LOOPBACK_ICE, "--name", "Alice")
    async with running_without_input("host", "lobbyhost_app.cli", *host_args, stdin=stdin) as host:
        started = await host.expect("lobby_started", within=START_TIMEOUT)
        guest_args = (invite_link(started), "--name", "Bob", *LOOPBACK_ICE)
        async with running_without_input(
            "guest Bob", "lobbyhost_app.guest_cli", *guest_args, stdin=stdin
        ) as bob:
            request = await host.expect("request_to_join", within=START_TIMEOUT, name="Bob")
            await bob.expect("status", within=START_TIMEOUT, phase="waiting")

            bob.process.send_signal(signal.SIGTERM)
            await bob.expect("status", phase="left")
            assert await bob.exit_code() == 0
            await host.expect(
                "request_removed", connection_id=request["connection_id"], reason="cancelled"
            )
            assert "Traceback" not in bob.transcript()

        host.process.send_signal(signal.SIGTERM)
        await host.expect("lobby_closed")
        assert await host.exit_code() == 0
        assert "Traceback" not in host.transcript()


async def test_guest_given_only_the_invite_link_joins_chats_and_sees_members() -> None:
    """lobbyhost-guest http://…/join/CODE (no code argument, stdin at /dev/null) connects, hears chat and the member list."""
    async with headless_host() as host:
        guest_args = (invite_link(host.started), "--name", "Bob", *LOOPBACK_ICE)
        async with running_without_input(
            "guest Bob", "lobbyhost_app.guest_cli", *guest_args, stdin="devnull"
        ) as bob:
            await connect_guest(host, bob)
            members = await bob.expect("members")
            assert members["members"] == [
                {"name": "Alice", "peer_id": 1, "host": True},
                {"name": "Bob", "peer_id": 2, "host": False},
            ]
            await host.send({"chat": "hi Bob"})
            assert await bob.expect("chat") == {"event": "chat", "text": "hi Bob"}

            host.process.send_signal(signal.SIGTERM)
            await bob.expect("status", phase="lobby_closed")
            assert await bob.exit_code() == 0
            assert "Traceback" not in bob.transcript()


async def test_guest_without_any_code_says_so_and_exits_2() -> None:
    """A server address with no code and no /join/CODE in it is a readable error, exit 2."""
    async with running_without_input(
        "guest Bob", "lobbyhost_app.guest_cli", "ws://127.0.0.1:9/", stdin="devnull"
    ) as bob:
        error = await bob.expect("error", within=START_TIMEOUT)
        assert "invite link" in error["message"]
        assert await bob.exit_code() == 2
