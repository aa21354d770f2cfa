"""Frames for many connections, each connection's written with one ``write()``.

A profile at saturation spent about a third of the server's CPU in one
``transport.write()`` (one ``send()`` system call) per outgoing frame. When one
read carries several frames, or one loop iteration relays several messages to
the same client, the frames of each destination are queued on its session and
written together: at the end of the read that produced them, or, for frames
sent outside any read (timers, a cluster's deliveries, HTTP routes), once the
loop gets to the callback scheduled with the first of them.

The sessions keep their own order and limits (see
:class:`~.websocket.WebsocketSession`); the coalescer only knows which of them
have something queued and when to write it.
"""

from __future__ import annotations

import asyncio
from typing import Protocol


class QueuedWrites(Protocol):
    """A connection with frames queued: the coalescer tells it when to write them."""

    def write_queued(self) -> None:
        """Write what is queued in one ``write()`` (nothing when it is gone or empty)."""
        ...


class WriteCoalescer:
    """Which connections have frames queued, written at the end of a read or loop turn."""

    __slots__ = ("_queued", "_reading", "_scheduled")

    def __init__(self) -> None:
        # May hold a connection twice (it wrote its frames itself, then queued
        # more): writing an empty queue costs nothing.
        self._queued: list[QueuedWrites] = []
        self._reading = False
        self._scheduled = False

    def queued(self, connection: QueuedWrites) -> None:
        """``connection`` has just queued its first frame since its last write."""
        self._queued.append(connection)
        if not self._reading and not self._scheduled:
            self._scheduled = True
            # Rare (frames from timers and the like): the running loop is looked up then.
            asyncio.get_running_loop().call_soon(self._write_scheduled)

    def start_read(self) -> bool:
        """A connection is handling what it read; ``False`` when another one already is."""
        if self._reading:
            return False
        self._reading = True
        return True

    def end_read(self) -> None:
        """The read is handled: write every connection's queued frames."""
        self._reading = False
        self.write_all()

    def write_all(self) -> None:
        """Write every queued connection's frames, each in one ``write()``."""
        queued = self._queued
        if queued:
            self._queued = []
            for connection in queued:
                connection.write_queued()

    def _write_scheduled(self) -> None:
        self._scheduled = False
        if not self._reading:
            self.write_all()
