"""``lobbyhost-server`` runs on uvloop when it is installed, and on asyncio's loop without it."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from signalling_server.errors import ConfigError
from signalling_server.event_loop import LoopChoice, loop_factory
from tests.ci import cannot_run
from tests.signalling_server.wsclient import WsClient
from tests.timeouts import scaled

ROOT = Path(__file__).resolve().parents[2]
PROCESS_TIMEOUT = scaled(15.0)
READY_LINE = re.compile(r"lobbyhost-server \S+ listening on (ws://127\.0\.0\.1:\d+/)")
LOOP_LINE = re.compile(r"running on the (\w+) event loop")
#: Runs the CLI in a Python where ``import uvloop`` fails, as if it were not installed.
WITHOUT_UVLOOP = (
    "import sys; sys.modules['uvloop'] = None; "
    "from signalling_server.cli import main; raise SystemExit(main())"
)


def _require_uvloop() -> None:
    if importlib.util.find_spec("uvloop") is None:
        cannot_run("uvloop is not installed (the uvloop extra)")


@contextlib.asynccontextmanager
async def _served(python_args: list[str], *args: str) -> AsyncIterator[tuple[str, str]]:
    """Run the CLI on port 0 at log level info; yield its URL and the loop it reported."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *python_args,
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--log-level",
        "info",
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None and process.stderr is not None
        async with asyncio.timeout(PROCESS_TIMEOUT):
            ready = READY_LINE.search((await process.stdout.readline()).decode())
            assert ready, "the server did not print its URL"
            while not (found := LOOP_LINE.search((await process.stderr.readline()).decode())):
                pass
        yield ready.group(1), found.group(1)
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(PROCESS_TIMEOUT):
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
        await process.communicate()


async def _lobby_starts(url: str, address: str) -> None:
    client = await WsClient.open(url, address)
    try:
        await client.act("start_lobby")
        await client.expect("lobby_started")
    finally:
        await client.close()


async def test_cli_runs_on_uvloop_when_installed() -> None:
    """With uvloop installed, the standalone server picks it and serves lobbies on it."""
    _require_uvloop()
    async with _served(["-m", "signalling_server"]) as (url, loop):
        assert loop == "uvloop"
        await _lobby_starts(url, "127.0.0.41")


async def test_cli_runs_on_asyncio_without_uvloop() -> None:
    """Where uvloop cannot be imported, the server runs on asyncio's loop just the same."""
    async with _served(["-c", WITHOUT_UVLOOP]) as (url, loop):
        assert loop == "asyncio"
        await _lobby_starts(url, "127.0.0.42")


async def test_cli_loop_asyncio_keeps_asyncio_even_with_uvloop() -> None:
    """``--loop asyncio`` runs on asyncio's own loop even where uvloop is installed."""
    _require_uvloop()
    async with _served(["-m", "signalling_server"], "--loop", "asyncio") as (url, loop):
        assert loop == "asyncio"
        await _lobby_starts(url, "127.0.0.43")


async def test_cli_loop_uvloop_without_uvloop_is_a_usage_error() -> None:
    """``--loop uvloop`` where uvloop is missing exits 2 and says how to install it."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        WITHOUT_UVLOOP,
        "--port",
        "0",
        "--loop",
        "uvloop",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(PROCESS_TIMEOUT):
        out, err = await process.communicate()
    assert process.returncode == 2
    assert out == b""
    assert b"lobbyhost[uvloop]" in err


def test_loop_factory_falls_back_to_asyncio(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without uvloop, auto means asyncio's loop and an explicit uvloop is a config error."""
    monkeypatch.setitem(sys.modules, "uvloop", None)
    name, factory = loop_factory(LoopChoice.AUTO)
    assert name == "asyncio"
    assert factory is asyncio.new_event_loop
    with pytest.raises(ConfigError, match="uvloop is not installed"):
        loop_factory(LoopChoice.UVLOOP)
