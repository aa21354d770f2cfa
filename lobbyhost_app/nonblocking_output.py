"""Lines out to a reader that may stall, without ever blocking the program that writes them.

The headless host prints its events on stdout while its event loop also runs
the embedded signalling server and every peer link. A consumer that stops
reading fills the pipe, and a plain ``write`` would then freeze all of that.
:class:`NonBlockingLineWriter` hands lines to a thread that does the blocking
writes; at most a bounded amount waits for the reader, lines beyond it are
dropped and counted, and when the reader has caught up a line
``{"event":"output_dropped","count":N}`` stands where they were (stderr, through
logging, says so too).
"""

from __future__ import annotations

import atexit
import errno
import functools
import json
import logging
import math
import os
import select
import sys
import threading
from collections import deque
from typing import Any, Final

logger = logging.getLogger(__name__)

#: Output that may wait for a slow reader before lines are dropped (~1,500 event lines).
MAX_BUFFERED_BYTES: Final = 256 * 1024
#: At exit, how long to wait for a reader that takes nothing more.
EXIT_DRAIN_S: Final = 2.0


def json_line(obj: dict[str, Any]) -> bytes:
    """``obj`` as one line of strict JSON: a float that is not finite becomes ``null``."""
    return json.dumps(_finite(obj), separators=(",", ":"), allow_nan=False).encode() + b"\n"


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


class NonBlockingLineWriter:
    """Writes lines to a file descriptor from its own thread; :meth:`write` never blocks.

    At most ``max_buffered_bytes`` wait for the reader. A line that does not fit
    is dropped and counted; once the backlog is down to half, new lines are
    taken again, preceded by ``{"event":"output_dropped","count":N}``. A reader
    that went away (a broken pipe) ends the writing: later lines are dropped
    without a word.
    """

    def __init__(self, fd: int, *, max_buffered_bytes: int = MAX_BUFFERED_BYTES) -> None:
        self._fd = fd
        self._max_buffered = max_buffered_bytes
        self._resume_at = max_buffered_bytes // 2
        self._lines: deque[bytes] = deque()
        self._buffered = 0
        self._dropped = 0
        self._broken = False
        self._closed = False
        self._condition = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="line-writer", daemon=True)
        self._thread.start()

    @property
    def dropped(self) -> int:
        """Lines dropped since the last ``output_dropped`` line was queued."""
        with self._condition:
            return self._dropped

    def write(self, line: bytes) -> None:
        """Queue ``line`` (ending in a newline) or, when the backlog is full, drop and count it."""
        with self._condition:
            if self._broken or self._closed:
                return
            reported = self._report_dropped_if_caught_up()
            first_drop = False
            if self._dropped or self._buffered + len(line) > self._max_buffered:
                first_drop = self._dropped == 0
                self._dropped += 1
            else:
                self._queue(line)
        # Logged outside the lock: stderr may be slow too, and the writer needs the lock.
        if first_drop:
            logger.warning("stdout is not being read: dropping output lines until it is")
        if reported:
            logger.warning("dropped %d output lines while stdout was not read", reported)

    def drain(self, idle_timeout: float = EXIT_DRAIN_S) -> bool:
        """Wait until every queued line is written, or ``idle_timeout`` s pass without progress.

        ``True`` when everything was written (or the reader is gone).
        """
        with self._condition:
            while self._lines and not self._broken:
                if not self._condition.wait(idle_timeout):
                    left = len(self._lines)
                    logger.warning("%d output lines were not written: stdout was not read", left)
                    return False
            return True

    def close(self) -> None:
        """Let the thread end once what is queued is written; later lines are dropped."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()

    # The writer thread ----------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._lines:
                    if self._closed:
                        return
                    self._condition.wait()
                line = self._lines[0]
            try:
                _write_all(self._fd, line)
            except OSError as exc:
                with self._condition:
                    self._broken = True
                    self._lines.clear()
                    self._buffered = 0
                    self._condition.notify_all()
                if exc.errno != errno.EPIPE:
                    logger.warning("cannot write output lines any more: %s", exc)
                return
            with self._condition:
                self._lines.popleft()
                self._buffered -= len(line)
                reported = self._report_dropped_if_caught_up()
                self._condition.notify_all()
            if reported:
                logger.warning("dropped %d output lines while stdout was not read", reported)

    # Under the lock ------------------------------------------------------------------------

    def _queue(self, line: bytes) -> None:
        self._lines.append(line)
        self._buffered += len(line)
        self._condition.notify_all()

    def _report_dropped_if_caught_up(self) -> int:
        """Queue the ``output_dropped`` line where the dropped ones were, once there is room."""
        if not self._dropped or self._buffered > self._resume_at:
            return 0
        count, self._dropped = self._dropped, 0
        self._queue(json_line({"event": "output_dropped", "count": count}))
        return count


def _write_all(fd: int, data: bytes) -> None:
    """Write all of ``data``, blocking; a descriptor set non-blocking is waited on with select."""
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            select.select([], [fd], [])
            continue
        view = view[written:]


@functools.cache
def stdout_writer() -> NonBlockingLineWriter:
    """The process's writer for stdout, made on first use; at exit it drains what it can."""
    writer = NonBlockingLineWriter(sys.stdout.fileno())
    sys.stdout.flush()  # anything printed before goes first
    atexit.register(writer.drain)
    return writer


__all__ = ["MAX_BUFFERED_BYTES", "NonBlockingLineWriter", "json_line", "stdout_writer"]
