"""A UDP port carried over one unordered, no-retransmit data channel, datagrams kept whole.

One ``fwd/udp/<port>`` channel per shared UDP port and link. Each message is
one datagram behind a 4-byte header: the *flow*, a number the listening side
gives each local source address (a game client's socket). The serving side
opens one UDP socket per flow, connected to the shared port, so the game
server sees each remote client as a distinct source; what that server answers
goes back under the same flow, to the same client. Like UDP itself, a lost
datagram stays lost and order is not kept. Flows idle for
:data:`IDLE_TIMEOUT` seconds expire; at most :data:`MAX_FLOWS` per channel.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, cast

from aiortc import RTCDataChannel

from .link import PeerLink, close_channel

logger = logging.getLogger(__name__)

HEADER: Final = struct.Struct("!I")
#: Local sources (listening side) or sockets (serving side) per channel.
MAX_FLOWS: Final = 64
#: Seconds a flow may stay silent both ways before it is forgotten (its socket closed).
IDLE_TIMEOUT: Final = 120.0
#: Datagrams kept while a channel or a flow's socket is not ready yet; more are dropped.
MAX_WAITING: Final = 64

Traffic = Callable[[int, int], None]
Clock = Callable[[], float]


def _frame(flow: int, payload: bytes) -> bytes:
    return HEADER.pack(flow) + payload


def _unframe(data: str | bytes) -> tuple[int, bytes] | None:
    if not isinstance(data, bytes) or len(data) < HEADER.size:
        return None
    (flow,) = HEADER.unpack_from(data)
    return flow, data[HEADER.size :]


class UdpListener(asyncio.DatagramProtocol):
    """Listening side: a local UDP socket whose sources become flows on the channel."""

    def __init__(
        self, link: PeerLink, channel: RTCDataChannel, *, on_traffic: Traffic, clock: Clock
    ) -> None:
        self.link = link
        self.channel = channel
        self._on_traffic = on_traffic
        self._clock = clock
        self._transport: asyncio.DatagramTransport | None = None
        self._flows: dict[tuple[str, int], int] = {}
        self._sources: dict[int, tuple[str, int]] = {}
        self._last_seen: dict[int, float] = {}
        self._next_flow = 1
        self._waiting: list[bytes] = []
        channel.on("message", self._on_channel_message)
        channel.on("open", self._flush)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        source = (str(addr[0]), int(str(addr[1])))
        flow = self._flows.get(source)
        if flow is None:
            if len(self._flows) >= MAX_FLOWS:
                logger.info("too many UDP sources on one forwarded port: dropping a datagram")
                return
            flow = self._next_flow
            self._next_flow += 1
            self._flows[source] = flow
            self._sources[flow] = source
        self._last_seen[flow] = self._clock()
        framed = _frame(flow, data)
        if self.channel.readyState != "open":
            if len(self._waiting) < MAX_WAITING:
                self._waiting.append(framed)
            return
        if self.link.send(self.channel, framed):
            self._on_traffic(0, len(data))

    def _flush(self) -> None:
        for framed in self._waiting:
            if self.link.send(self.channel, framed):
                self._on_traffic(0, len(framed) - HEADER.size)
        self._waiting.clear()

    def _on_channel_message(self, data: str | bytes) -> None:
        unframed = _unframe(data)
        if unframed is None or self._transport is None:
            return
        flow, payload = unframed
        source = self._sources.get(flow)
        if source is None:
            return  # expired, or a flow this side never gave out
        self._last_seen[flow] = self._clock()
        self._on_traffic(len(payload), 0)
        self._transport.sendto(payload, source)

    def expire_idle(self) -> int:
        """Forget sources silent for :data:`IDLE_TIMEOUT`; how many were forgotten."""
        cutoff = self._clock() - IDLE_TIMEOUT
        idle = [flow for flow, seen in self._last_seen.items() if seen < cutoff]
        for flow in idle:
            del self._last_seen[flow]
            del self._flows[self._sources.pop(flow)]
        return len(idle)

    @property
    def flow_count(self) -> int:
        return len(self._flows)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        close_channel(self.channel)


@dataclass(eq=False)
class _Flow(asyncio.DatagramProtocol):
    """Serving side: one socket connected to the shared port, for one remote source."""

    owner: UdpServing
    flow: int
    transport: asyncio.DatagramTransport | None = None
    waiting: list[bytes] = field(default_factory=list)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        for payload in self.waiting:
            self.transport.sendto(payload)
        self.waiting.clear()

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.owner.reply(self.flow, data)

    def error_received(self, exc: Exception) -> None:
        # Nothing listens on the shared port (ICMP port unreachable): like UDP, just lost.
        logger.debug("forwarded UDP datagram not delivered: %r", exc)

    def send(self, payload: bytes) -> None:
        if self.transport is not None:
            self.transport.sendto(payload)
        elif len(self.waiting) < MAX_WAITING:
            self.waiting.append(payload)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class UdpServing:
    """Serving side: the channel's flows, each a UDP socket connected to ``target``."""

    def __init__(
        self,
        link: PeerLink,
        channel: RTCDataChannel,
        target: tuple[str, int],
        *,
        on_traffic: Traffic,
        clock: Clock,
    ) -> None:
        self.link = link
        self.channel = channel
        self.target = target
        self._on_traffic = on_traffic
        self._clock = clock
        self._flows: dict[int, _Flow] = {}
        self._last_seen: dict[int, float] = {}
        self._opening: set[asyncio.Task[None]] = set()
        self._closed = False
        channel.on("message", self._on_channel_message)

    def _on_channel_message(self, data: str | bytes) -> None:
        unframed = _unframe(data)
        if unframed is None or self._closed:
            return
        flow_id, payload = unframed
        flow = self._flows.get(flow_id)
        if flow is None:
            if len(self._flows) >= MAX_FLOWS:
                logger.info("too many UDP flows from one peer on a shared port: dropping")
                return
            flow = self._flows[flow_id] = _Flow(self, flow_id)
            task = asyncio.create_task(self._open(flow))
            self._opening.add(task)
            task.add_done_callback(self._opening.discard)
        self._last_seen[flow_id] = self._clock()
        self._on_traffic(len(payload), 0)
        flow.send(payload)

    async def _open(self, flow: _Flow) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.create_datagram_endpoint(lambda: flow, remote_addr=self.target)
        except OSError as exc:
            logger.info("cannot open a UDP socket to the shared port: %s", exc)
            self._flows.pop(flow.flow, None)
            return
        if self._closed or self._flows.get(flow.flow) is not flow:
            flow.close()

    def reply(self, flow: int, payload: bytes) -> None:
        if flow in self._last_seen:
            self._last_seen[flow] = self._clock()
        if self.link.send(self.channel, _frame(flow, payload)):
            self._on_traffic(0, len(payload))

    def expire_idle(self) -> int:
        """Close the sockets of flows silent for :data:`IDLE_TIMEOUT`; how many were closed."""
        cutoff = self._clock() - IDLE_TIMEOUT
        idle = [flow for flow, seen in self._last_seen.items() if seen < cutoff]
        for flow_id in idle:
            del self._last_seen[flow_id]
            flow = self._flows.pop(flow_id, None)
            if flow is not None:
                flow.close()
        return len(idle)

    @property
    def flow_count(self) -> int:
        return len(self._flows)

    def close(self) -> None:
        self._closed = True
        for flow in self._flows.values():
            flow.close()
        self._flows.clear()
        for task in self._opening:
            task.cancel()
        close_channel(self.channel)


__all__ = ["HEADER", "IDLE_TIMEOUT", "MAX_FLOWS", "UdpListener", "UdpServing"]
