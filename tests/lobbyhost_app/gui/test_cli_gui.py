"""``lobbyhost`` without ``--headless`` starts the desktop app."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

from tests.timeouts import scaled

ROOT = Path(__file__).resolve().parents[3]
PROGRAM = "import sys; from lobbyhost_app.cli import main; sys.exit(main(sys.argv[1:]))"


async def test_lobbyhost_opens_the_window_and_reports_when_it_is_shown(tmp_path: Path) -> None:
    """The real app starts through the CLI, paints its window, says when, and quits with 0."""
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        PROGRAM,
        "--quit-when-shown",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(scaled(60)):
        out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    assert re.fullmatch(r"window shown \d+ ms after the process started\n", out.decode()), out
