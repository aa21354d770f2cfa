"""JSON lines on stdout and stdin, for the headless host and the guest CLI."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
from collections.abc import AsyncIterator
from typing import Any


def emit(event: str, **fields: Any) -> None:
    """Print one ``{"event": ..., ...}`` object on its own line, flushed."""
    sys.stdout.write(json.dumps({"event": event, **fields}, separators=(",", ":")) + "\n")
    sys.stdout.flush()


async def stdin_lines() -> AsyncIterator[str]:
    """Lines from stdin as they come, without blocking the event loop; ends at EOF.

    Pipes and terminals are read by the event loop; a regular file (``< commands.txt``),
    which asyncio cannot watch, is read in a thread: it always reaches its end.
    """
    if stat.S_ISREG(os.fstat(sys.stdin.fileno()).st_mode):
        while line := await asyncio.to_thread(sys.stdin.buffer.readline):
            if text := line.decode("utf-8", "replace").strip():
                yield text
        return
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        if text := line.decode("utf-8", "replace").strip():
            yield text
