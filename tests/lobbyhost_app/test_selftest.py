"""``lobbyhost --self-test``: one line and an exit code, no display, loopback only."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from lobbyhost_app.net.ice import IceSettings
from lobbyhost_app.selftest import run_self_test
from tests.timeouts import scaled

from .fake_clock import HeldClock

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = (
    "import sys; from lobbyhost_app.cli import main; code = main(['--self-test']); "
    "print('qt loaded' if 'PySide6' in sys.modules else 'no qt'); sys.exit(code)"
)


async def test_self_test_passes_without_a_display_and_prints_one_line() -> None:
    """The self-test exits 0 with one line naming each step, and never loads Qt."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "QT_QPA_PLATFORM")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        PROGRAM,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(scaled(60)):
        out, err = await process.communicate()
    lines = out.decode().splitlines()
    assert process.returncode == 0, err.decode()
    assert len(lines) == 2, lines
    assert lines[0].startswith("self-test passed in "), lines[0]
    for step in ("server started", "lobby opened", "connected over 127.0.0.1", "chat both ways"):
        assert step in lines[0]
    assert lines[1] == "no qt"


async def test_self_test_failure_names_the_step_that_failed() -> None:
    """When ICE may use no address at all, the connection step times out: one plain FAILED line naming it."""
    clock = HeldClock()
    nowhere = IceSettings(allowed_addresses=("127.0.0.2",))
    running = asyncio.create_task(run_self_test(ice=nowhere, step_timeout=3, clock=clock))
    await clock.wait_for_sleeper()  # the first step with a deadline: the WebRTC connection
    clock.advance(3)
    async with asyncio.timeout(scaled(10)):
        result = await running
    assert not result.ok
    assert result.line == "self-test FAILED: the WebRTC connection did not happen within 3 s"
