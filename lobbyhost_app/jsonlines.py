"""JSON lines on stdout and stdin, for the headless host and the guest CLI."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from typing import Any


def emit(event: str, **fields: Any) -> None:
    """Print one ``{"event": ..., ...}`` object on its own line, flushed."""
    sys.stdout.write(json.dumps({"event": event, **fields}, separators=(",", ":")) + "\n")
    sys.stdout.flush()


async def stdin_lines() -> AsyncIterator[str]:
    """Lines from stdin as they come, without blocking the event loop; ends at EOF."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        text = line.decode("utf-8", "replace").strip()
        if text:
            yield text
