"""The game bridge over one peer link: game ports shared on one side, reached from the other.

The bridge is the same on host and guest. A side *shares* ports (its game
server listens on them, at the target address it chose: 127.0.0.1 unless told
otherwise) and lists them to the other side on the ``lobby`` channel
(``ports``). The other side opens a local listener for each (on 127.0.0.1;
the same port number when it is free, another when not) and carries what its
game sends there over the link:

* TCP: one channel ``fwd/tcp/<port>`` per connection (:mod:`.bridge_tcp`);
* UDP: one channel ``fwd/udp/<port>`` per port (:mod:`.bridge_udp`).

The side that shares decides what is reached: a channel naming a port it does
not share (or a malformed label, or past the limits of :class:`BridgeLimits`)
is closed at once and reaches nothing; only the target address it chose is ever
connected to. When the link ends (a kick, a leave, a failure) every listener,
connection and socket of its bridge closes with it.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from aiortc import RTCDataChannel

from ..session_values import LinkState
from .bridge_tcp import TcpPipe
from .bridge_udp import IDLE_TIMEOUT, UdpListener, UdpServing
from .channels import LobbyChannel
from .forwards import (
    CHANNEL_PREFIX,
    Forward,
    PortTraffic,
    SharedPort,
    Transport,
    channel_label,
    parse_channel_label,
    parse_ports,
    ports_message,
    unique_ports,
)
from .link import PeerLink, close_channel

logger = logging.getLogger(__name__)

LOOPBACK: Final = "127.0.0.1"


@dataclass(frozen=True, slots=True, kw_only=True)
class BridgeLimits:
    """What one peer may use of the ports a side shares."""

    #: Open TCP connections from the other side at once; more are refused.
    max_tcp_connections: int = 64


ForwardListener = Callable[[Forward], None]


@dataclass(eq=False)
class _Listening:
    forward: Forward
    server: asyncio.Server | None = None
    udp: UdpListener | None = None
    traffic: PortTraffic = field(default_factory=PortTraffic)


class _Refused(asyncio.Protocol):
    """A local connection past the limits: closed as soon as it is made."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.abort()


class PortBridge:
    """Serves this side's shared ports to one peer and listens for the ports it shares.

    Callbacks (optional): ``on_forward(forward)`` when a local listener opens,
    ``on_forward_closed(forward)`` when it closes.
    """

    def __init__(
        self,
        link: PeerLink,
        lobby: LobbyChannel,
        *,
        shared: Iterable[SharedPort] = (),
        target_host: str = LOOPBACK,
        listen_host: str = LOOPBACK,
        local_ports: Mapping[int, int] | None = None,
        limits: BridgeLimits | None = None,
        served: dict[tuple[Transport, int], PortTraffic] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``local_ports`` maps a port the other side shares to the local port wanted for it;
        ``served`` is where the shared ports' traffic is counted (shared by several bridges)."""
        self.link = link
        self.lobby = lobby
        self.target_host = target_host
        self.listen_host = listen_host
        self.limits = limits or BridgeLimits()
        self.on_forward: ForwardListener | None = None
        self.on_forward_closed: ForwardListener | None = None
        self._shared = unique_ports(shared)
        self._local_ports = dict(local_ports or {})
        self._clock = clock
        #: Traffic of the ports this side shares, by port, for this peer.
        self.served = served if served is not None else {}
        self._pipes: set[TcpPipe] = set()
        self._pipe_ports: dict[TcpPipe, tuple[Transport, int]] = {}
        self._udp_served: dict[int, UdpServing] = {}
        self._listening: dict[tuple[Transport, int], _Listening] = {}
        self._peer_ports: tuple[SharedPort, ...] = ()
        self._reconcile_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        link.on_channel_family(CHANNEL_PREFIX, self._on_peer_channel)
        link.accept_channels()
        link.add_state_listener(self._on_link_state)
        lobby.on_ports = self._on_peer_ports
        if link.state is LinkState.CONNECTED:
            self._on_link_state(link)

    # This side's shared ports ------------------------------------------------------------

    @property
    def shared(self) -> tuple[SharedPort, ...]:
        return self._shared

    def set_shared(self, ports: Iterable[SharedPort]) -> None:
        """Share these ports from now on (told to the peer); those dropped close their traffic."""
        self._shared = unique_ports(ports)
        keys = {p.key for p in self._shared}
        for pipe, key in list(self._pipe_ports.items()):
            if key not in keys:
                pipe.reset()
        for port, serving in list(self._udp_served.items()):
            if (Transport.UDP, port) not in keys:
                del self._udp_served[port]
                serving.close()
        self._announce()

    def _announce(self) -> None:
        if self.link.state is LinkState.CONNECTED:
            self.lobby.send_message(ports_message(self._shared))

    def _on_peer_channel(self, channel: RTCDataChannel) -> None:
        """The peer opened a bridge channel: serve it if it names a shared port, else close it."""
        named = parse_channel_label(channel.label)
        shared = {p.key for p in self._shared}
        if self._closed or named is None or named not in shared:
            logger.info("refusing a bridge channel to a port not shared: %r", channel.label[:40])
            close_channel(channel)
            return
        transport, port = named
        traffic = self.served.setdefault(named, PortTraffic())
        if transport is Transport.UDP:
            previous = self._udp_served.pop(port, None)
            if previous is not None:
                # The peer's listener was opened again (a new label): its new channel can
                # come before the old one's close. One channel per port: the newest.
                logger.info("a new UDP bridge channel for port %d replaces the old one", port)
                previous.close()
            serving = UdpServing(
                self.link,
                channel,
                (self.target_host, port),
                on_traffic=traffic.count,
                clock=self._clock,
            )
            self._udp_served[port] = serving
            channel.on("close", lambda: self._udp_channel_closed(port, serving))
            return
        if len(self._pipes) >= self.limits.max_tcp_connections:
            logger.info("refusing a TCP bridge connection: the peer has too many open")
            close_channel(channel)
            return
        pipe = self._new_pipe(channel, named, traffic)
        self._spawn(self._connect(pipe, port))

    def _udp_channel_closed(self, port: int, serving: UdpServing) -> None:
        """The peer closed its UDP channel (it may open a new one): its sockets close."""
        if self._udp_served.get(port) is serving:
            del self._udp_served[port]
        # Later, not from inside aiortc's teardown (see _on_link_state).
        asyncio.get_running_loop().call_soon(serving.close)

    async def _connect(self, pipe: TcpPipe, port: int) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.create_connection(lambda: pipe, self.target_host, port)
        except OSError as exc:
            logger.info("cannot reach shared port %s:%d: %s", self.target_host, port, exc)
            pipe.reset()

    def _new_pipe(
        self, channel: RTCDataChannel, key: tuple[Transport, int], traffic: PortTraffic
    ) -> TcpPipe:
        traffic.connections += 1

        def closed(pipe: TcpPipe) -> None:
            traffic.connections -= 1
            self._pipes.discard(pipe)
            self._pipe_ports.pop(pipe, None)

        pipe = TcpPipe(self.link, channel, on_traffic=traffic.count, on_closed=closed)
        self._pipes.add(pipe)
        self._pipe_ports[pipe] = key
        return pipe

    # The peer's shared ports: local listeners --------------------------------------------

    @property
    def forwards(self) -> tuple[Forward, ...]:
        """The local listeners open now, one per port the other side shares."""
        return tuple(listening.forward for listening in self._listening.values())

    def forward_traffic(self) -> dict[Forward, PortTraffic]:
        return {listening.forward: listening.traffic for listening in self._listening.values()}

    def _on_peer_ports(self, listed: object) -> None:
        self._peer_ports = parse_ports(listed)
        self._spawn(self._reconcile())

    async def _reconcile(self) -> None:
        async with self._reconcile_lock:
            if self._closed:
                return
            wanted = {p.key: p for p in self._peer_ports}
            for key, listening in list(self._listening.items()):
                if key not in wanted or wanted[key].label != listening.forward.shared.label:
                    self._stop_listening(key)
            for key, shared in wanted.items():
                if key not in self._listening and not self._closed:
                    await self._listen(shared)

    async def _listen(self, shared: SharedPort) -> None:
        wanted = self._local_ports.get(shared.port, shared.port)
        try:
            listening = await self._bind(shared, wanted)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                logger.warning("cannot listen for shared port %s: %s", shared, exc)
                return
            logger.info("local port %d is taken: listening for %s on another", wanted, shared)
            try:
                listening = await self._bind(shared, 0)
            except OSError as again:
                logger.warning("cannot listen for shared port %s: %s", shared, again)
                return
        if self._closed:
            self._close_listening(listening)
            return
        self._listening[shared.key] = listening
        if self.on_forward is not None:
            self.on_forward(listening.forward)

    async def _bind(self, shared: SharedPort, local_port: int) -> _Listening:
        loop = asyncio.get_running_loop()
        label = channel_label(shared.transport, shared.port)
        if shared.transport is Transport.TCP:
            listening = _Listening(Forward(shared, self.listen_host, local_port))

            def accepted() -> asyncio.Protocol:
                return self._accept_local(listening, label)

            server = await loop.create_server(accepted, self.listen_host, local_port)
            bound = server.sockets[0].getsockname()[1]
            listening.server = server
            listening.forward = Forward(shared, self.listen_host, bound)
            return listening
        channel = self.link.create_channel(label, ordered=False, max_retransmits=0)
        traffic = PortTraffic()
        udp = UdpListener(self.link, channel, on_traffic=traffic.count, clock=self._clock)
        try:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: udp, local_addr=(self.listen_host, local_port)
            )
        except OSError:
            close_channel(channel)
            raise
        bound = transport.get_extra_info("sockname")[1]
        return _Listening(Forward(shared, self.listen_host, bound), udp=udp, traffic=traffic)

    def _accept_local(self, listening: _Listening, label: str) -> asyncio.Protocol:
        """A local game connected to a listener: one new channel to the peer's port."""
        if self._closed or len(self._pipes) >= self.limits.max_tcp_connections:
            logger.warning("refusing a local connection: too many forwarded connections open")
            return _Refused()
        channel = self.link.create_channel(label, ordered=True)
        return self._new_pipe(channel, listening.forward.shared.key, listening.traffic)

    def _stop_listening(self, key: tuple[Transport, int]) -> None:
        listening = self._listening.pop(key, None)
        if listening is not None:
            self._close_listening(listening)
            if self.on_forward_closed is not None:
                self.on_forward_closed(listening.forward)

    @staticmethod
    def _close_listening(listening: _Listening) -> None:
        if listening.server is not None:
            listening.server.close()
        if listening.udp is not None:
            listening.udp.close()

    # Life ------------------------------------------------------------------------------------

    def expire_idle(self) -> int:
        """Forget UDP flows idle past their timeout, both roles; how many went."""
        expired = sum(serving.expire_idle() for serving in self._udp_served.values())
        for listening in self._listening.values():
            if listening.udp is not None:
                expired += listening.udp.expire_idle()
        return expired

    async def _expire_forever(self) -> None:
        while not self._closed:
            await asyncio.sleep(IDLE_TIMEOUT / 4)  # the sweep period itself
            self.expire_idle()

    def _on_link_state(self, link: PeerLink) -> None:
        if link.state is LinkState.CONNECTED:
            self._announce()
            self._spawn(self._expire_forever())
        elif link.state in (LinkState.CLOSED, LinkState.FAILED):
            # Not from inside aiortc's teardown: closing channels while it walks them breaks it.
            asyncio.get_running_loop().call_soon(self.close)

    def close(self) -> None:
        """Close every listener, connection and socket of this bridge, at once."""
        if self._closed:
            return
        self._closed = True
        for key in list(self._listening):
            self._stop_listening(key)
        for pipe in list(self._pipes):
            pipe.reset()
        for serving in self._udp_served.values():
            serving.close()
        self._udp_served.clear()
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


__all__ = [
    "BridgeLimits",
    "Forward",
    "PortBridge",
    "PortTraffic",
]
