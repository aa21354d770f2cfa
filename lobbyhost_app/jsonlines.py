"""JSON lines on stdout and stdin, for the headless host and the guest CLI."""

from __future__ import annotations

import asyncio
import os
import stat
import sys
from collections.abc import AsyncIterator
from typing import Any

from .nonblocking_output import json_line, stdout_writer


def emit(event: str, **fields: Any) -> None:
    """Print one ``{"event": ..., ...}`` object on its own line, without ever blocking.

    The line is strict JSON (a float that is not finite is ``null``). It waits in a
    bounded buffer for a slow reader; what does not fit is dropped and counted, and
    an ``output_dropped`` line says how many once the reader catches up
    (:mod:`.nonblocking_output`).
    """
    stdout_writer().write(json_line({"event": event, **fields}))


async def stdin_lines() -> AsyncIterator[str]:
    """Lines from stdin as they come, without blocking the event loop; ends at EOF.

    Pipes, sockets and terminals are read by the event loop; a regular file
    (``< commands.txt``), which asyncio cannot watch, is read in a thread: it
    always reaches its end. A stdin with nothing behind it (closed, or a device
    such as ``/dev/null``, as services start programs) yields nothing and never
    ends: no input is not the end of the commands, so the program runs until
    it is stopped.
    """
    mode = _stdin_mode()
    if mode is None or not (
        stat.S_ISREG(mode)
        or stat.S_ISFIFO(mode)
        or stat.S_ISSOCK(mode)
        or (stat.S_ISCHR(mode) and sys.stdin.isatty())
    ):
        await asyncio.get_running_loop().create_future()  # until cancelled
        return
    if stat.S_ISREG(mode):
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


def _stdin_mode() -> int | None:
    """The file type of stdin, or ``None`` when there is none (closed, or not a file)."""
    if sys.stdin is None:  # Python started with descriptor 0 closed
        return None
    try:
        return os.fstat(sys.stdin.fileno()).st_mode
    except (OSError, ValueError):  # closed since, or replaced by something without a descriptor
        return None
