"""One TCP connection carried over one data channel, both ways, with flow control.

A :class:`TcpPipe` joins a local socket (an ``asyncio.Protocol``) to one
reliable, ordered ``fwd/tcp/<port>`` channel. On the channel, binary messages
are the stream's bytes, in chunks of at most :data:`CHUNK`; text messages
control it:

* ``eof``: the other side's socket sent its last byte (half-close): this side
  shuts its socket's writing half once the bytes before it are written;
* ``rst``: the other side's connection was reset or failed: this side resets
  its own (an RST, not a FIN) and the channel closes;
* ``ack N``: N more bytes were written to the other side's socket.

Nothing is buffered without bound. Sending, the pipe stops reading its socket
while more than :data:`WINDOW` bytes are unacknowledged or the channel's
``bufferedAmount`` is above :data:`HIGH_WATER` (it resumes on ``ack`` and on
``bufferedamountlow``). Receiving, it acknowledges only what its socket took
while the socket's own write buffer is below its high-water mark; a peer that
sends more than the window it was given is reset.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections.abc import Callable
from typing import Final

from aiortc import RTCDataChannel

from .link import PeerLink, close_channel

logger = logging.getLogger(__name__)

#: Bytes per channel message (every WebRTC stack takes 64 KiB messages).
CHUNK: Final = 65536
#: Unacknowledged bytes a sender may have in flight on one connection: also what a
#: receiver may have to hold for a socket that does not read (64 connections per peer).
WINDOW: Final = 1024 * 1024
#: Above this ``bufferedAmount`` a sender stops reading its socket ...
HIGH_WATER: Final = 512 * 1024
#: ... and starts again below this one.
LOW_WATER: Final = 128 * 1024
#: A receiver acknowledges once this much was written to its socket.
ACK_EVERY: Final = WINDOW // 8
EOF: Final = "eof"
RESET: Final = "rst"
_ACK_PREFIX: Final = "ack "

Traffic = Callable[[int, int], None]


class TcpPipe(asyncio.Protocol):
    """A local TCP connection and its ``fwd/tcp/<port>`` channel, joined.

    Made with the channel; :meth:`connection_made` (a listener's accepted socket
    or a connection to the shared port) starts the socket side. Bytes the other
    side sends before the socket exists wait, within the window. ``on_traffic(in,
    out)`` counts bytes from and to the other side; ``on_closed`` runs once, when
    both the socket and the channel are done.
    """

    def __init__(
        self,
        link: PeerLink,
        channel: RTCDataChannel,
        *,
        on_traffic: Traffic,
        on_closed: Callable[[TcpPipe], None],
    ) -> None:
        self.link = link
        self.channel = channel
        self._on_traffic = on_traffic
        self._on_closed = on_closed
        self._transport: asyncio.Transport | None = None
        self._waiting: list[bytes] = []  # from the channel, before the socket exists
        self._unacked = 0  # sent, not yet acknowledged
        self._received_unacked = 0  # received, not yet acknowledged
        self._to_ack = 0  # written to the socket, not yet acknowledged
        self._socket_paused = False  # our socket's write buffer is full: hold acks
        self._reading = True
        self._sent_eof = False
        self._got_eof = False
        self._socket_done = False
        self._finished = False
        channel.bufferedAmountLowThreshold = LOW_WATER
        channel.on("message", self._on_channel_message)
        channel.on("bufferedamountlow", self._update_reading)
        channel.on("close", self._on_channel_close)
        if channel.readyState != "open":
            channel.on("open", self._update_reading)

    # Socket side (asyncio.Protocol) --------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        if self._finished:
            self._abort_socket()
            return
        for data in self._waiting:
            transport.write(data)
            self._to_ack += len(data)
        self._waiting.clear()
        if self._got_eof and transport.can_write_eof():
            transport.write_eof()
        self._send_ack()
        self._update_reading()

    def data_received(self, data: bytes) -> None:
        for start in range(0, len(data), CHUNK):
            chunk = data[start : start + CHUNK]
            if not self.link.send(self.channel, chunk):
                self.reset()
                return
            self._unacked += len(chunk)
            self._on_traffic(0, len(chunk))
        self._update_reading()

    def eof_received(self) -> bool:
        self._sent_eof = self.link.send(self.channel, EOF)
        self._close_if_done()
        return True  # keep the writing half: the other side may still send

    def connection_lost(self, exc: Exception | None) -> None:
        self._socket_done = True
        if self._finished:
            return
        if exc is not None or not self._sent_eof:
            # Reset, or closed without a FIN we passed on: the other side's socket is reset too.
            logger.debug("forwarded connection lost (%r): resetting the other side", exc)
            self.reset()
            return
        self._close_if_done()

    def pause_writing(self) -> None:
        self._socket_paused = True

    def resume_writing(self) -> None:
        self._socket_paused = False
        self._send_ack()

    # Channel side ------------------------------------------------------------------------

    def _on_channel_message(self, data: str | bytes) -> None:
        if self._finished:
            return  # what was in flight when this side reset it
        if isinstance(data, bytes):
            self._received_unacked += len(data)
            if self._received_unacked > WINDOW + CHUNK:
                logger.info("the other side overran its TCP window: resetting the connection")
                self.reset()
                return
            self._on_traffic(len(data), 0)
            if self._transport is None:
                self._waiting.append(data)
                return
            if not self._transport.is_closing():
                self._transport.write(data)
            self._to_ack += len(data)
            if self._to_ack >= ACK_EVERY:
                self._send_ack()
        elif data == EOF:
            self._got_eof = True
            if self._transport is not None and self._transport.can_write_eof():
                self._transport.write_eof()
            self._close_if_done()
        elif data == RESET:
            self._finish(reset_socket=True)
        elif data.startswith(_ACK_PREFIX):
            self._on_ack(data.removeprefix(_ACK_PREFIX))
        else:
            logger.info("ignoring an unknown control message on a TCP bridge channel")

    def _on_ack(self, text: str) -> None:
        try:
            acked = int(text)
        except ValueError:
            acked = -1
        if not 0 < acked <= self._unacked:
            logger.info("the other side acknowledged bytes never sent: resetting the connection")
            self.reset()
            return
        self._unacked -= acked
        self._update_reading()

    def _send_ack(self) -> None:
        if self._to_ack and not self._socket_paused and self.channel.readyState == "open":
            self.link.send(self.channel, f"{_ACK_PREFIX}{self._to_ack}")
            self._received_unacked -= self._to_ack
            self._to_ack = 0

    def _on_channel_close(self) -> None:
        # Closed by the other side (or its link) with our socket still going: that is a reset.
        # Later, not from inside aiortc's teardown: closing channels while it walks them breaks it.
        reset = not (self._got_eof and self._sent_eof)
        asyncio.get_running_loop().call_soon(lambda: self._finish(reset_socket=reset))

    def _update_reading(self) -> None:
        transport = self._transport
        if transport is None or self._finished or transport.is_closing():
            return
        want = (
            self.channel.readyState == "open"
            and self._unacked < WINDOW
            and self.channel.bufferedAmount <= HIGH_WATER
        )
        if want != self._reading:
            self._reading = want
            if want:
                transport.resume_reading()
            else:
                transport.pause_reading()

    # Ending --------------------------------------------------------------------------------

    def reset(self) -> None:
        """End this connection both ways as a reset (the other side is told ``rst``)."""
        if not self._finished:
            self.link.send(self.channel, RESET)
        self._finish(reset_socket=True)

    def _close_if_done(self) -> None:
        """Both halves ended by EOF: close the channel and the socket, in order."""
        if self._got_eof and self._sent_eof and not self._finished:
            self._finish(reset_socket=False)

    def _finish(self, *, reset_socket: bool) -> None:
        if self._finished:
            return
        self._finished = True
        self._waiting.clear()
        if self._transport is not None:
            if reset_socket:
                self._abort_socket()
            else:
                self._transport.close()  # writes what is buffered, then FIN
        close_channel(self.channel)
        self._on_closed(self)

    def _abort_socket(self) -> None:
        transport = self._transport
        if transport is None:
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):  # linger 0: close with an RST, not a FIN
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()


__all__ = ["CHUNK", "EOF", "RESET", "WINDOW", "TcpPipe"]
