"""A guest that speaks the bridge's channels badly gets nothing and breaks nothing."""

from __future__ import annotations

import asyncio
import socket
import struct

from aiortc import RTCDataChannel

from lobbyhost_app.net.bridge_udp import HEADER, IDLE_TIMEOUT, MAX_FLOWS
from lobbyhost_app.net.forwards import SharedPort, Transport, channel_label
from lobbyhost_app.net.link import PeerLink
from lobbyhost_app.session_values import ChatReceived, LinkState
from signalling_server import SignallingServer
from signalling_server.clock import ManualClock

from .bridge_peers import WAIT, bridge_server, bridged, close_peers, wait_closed

__all__ = ["bridge_server"]


class Accepting:
    """A TCP server on 127.0.0.1 that keeps every connection and never reads from it."""

    def __init__(self) -> None:
        self.accepted: asyncio.Queue[socket.socket] = asyncio.Queue()

    async def start(self) -> int:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fills up soon
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        self.listener = listener
        self.task = asyncio.create_task(self._accept())
        return int(listener.getsockname()[1])

    async def _accept(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            conn, _ = await loop.sock_accept(self.listener)
            await self.accepted.put(conn)

    def close(self) -> None:
        self.task.cancel()
        self.listener.close()
        while not self.accepted.empty():
            self.accepted.get_nowait().close()


async def open_raw(link: PeerLink, label: str) -> tuple[RTCDataChannel, asyncio.Event]:
    """A channel the guest opens by hand, once open; its close, as an event."""
    channel = link.create_channel(label)
    opened, closed = asyncio.Event(), asyncio.Event()
    channel.on("open", opened.set)
    channel.on("close", closed.set)
    async with asyncio.timeout(WAIT):
        await opened.wait()
    return channel, closed


async def test_acknowledging_bytes_never_sent_resets_only_that_connection(
    bridge_server: SignallingServer,
) -> None:
    """A bogus ``ack`` on a TCP channel resets that connection; the link and the host carry on."""
    server = Accepting()
    port = await server.start()
    peers = await bridged(bridge_server, [SharedPort(port, Transport.TCP)])
    try:
        assert peers.guest.link is not None
        channel, closed = await open_raw(peers.guest.link, channel_label(Transport.TCP, port))
        conn = await asyncio.wait_for(server.accepted.get(), WAIT)
        channel.send("ack 1000000")
        async with asyncio.timeout(WAIT):
            await closed.wait()
        conn.setblocking(False)
        reader, writer = await asyncio.open_connection(sock=conn)
        assert await wait_closed(reader) in (b"", b"<reset>")
        writer.close()
        assert peers.guest.link.state is LinkState.CONNECTED
    finally:
        server.close()
        await close_peers(peers)


async def test_a_guest_overrunning_its_window_is_reset(bridge_server: SignallingServer) -> None:
    """A guest pushing far past the flow-control window to a server that does not read is reset, not buffered."""
    server = Accepting()
    port = await server.start()
    peers = await bridged(bridge_server, [SharedPort(port, Transport.TCP)])
    try:
        assert peers.guest.link is not None
        channel, closed = await open_raw(peers.guest.link, channel_label(Transport.TCP, port))
        chunk = b"\x00" * 65536
        drained = asyncio.Event()
        channel.bufferedAmountLowThreshold = 256 * 1024
        channel.on("bufferedamountlow", drained.set)
        async with asyncio.timeout(WAIT * 3):
            for _ in range(32 * 1024 * 1024 // len(chunk)):
                if channel.readyState != "open":  # the host reset it: closing
                    break
                if channel.bufferedAmount > 1 << 20:  # the hostile side paces itself, no more
                    drained.clear()
                    await asyncio.wait(
                        [asyncio.create_task(drained.wait()), asyncio.create_task(closed.wait())],
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                    continue
                channel.send(chunk)
            await closed.wait()
        assert peers.guest.link.state is LinkState.CONNECTED
    finally:
        server.close()
        await close_peers(peers)


async def test_udp_garbage_and_a_flood_of_flows_are_dropped(
    bridge_server: SignallingServer,
) -> None:
    """Text, short and headerless messages on a UDP channel are ignored; flows past the limit are dropped."""
    loop = asyncio.get_running_loop()
    sources: set[tuple[str, int]] = set()

    all_flows, done = asyncio.Event(), asyncio.Event()

    class Count(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            sources.add(addr)
            if len(sources) == MAX_FLOWS:
                all_flows.set()
            if data == b"done":
                done.set()

    transport, _ = await loop.create_datagram_endpoint(Count, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    shared = SharedPort(port, Transport.UDP)
    peers = await bridged(bridge_server, [shared])
    try:
        assert peers.guest.link is not None
        await peers.forward(shared)  # the guest's own channel first: the newest one is served
        channel, _closed = await open_raw(peers.guest.link, channel_label(Transport.UDP, port))
        for junk in ("text", b"", b"ab"):
            channel.send(junk)
        for flow in range(MAX_FLOWS * 2):
            channel.send(HEADER.pack(flow) + b"x")
        async with asyncio.timeout(WAIT):
            await all_flows.wait()
            # After the flood, on a flow already open: once it is through, so is the flood.
            while not done.is_set():
                channel.send(HEADER.pack(0) + b"done")
                await asyncio.wait([asyncio.create_task(done.wait())], timeout=1.0)
        assert len(sources) == MAX_FLOWS
        assert peers.guest.link.state is LinkState.CONNECTED
    finally:
        transport.close()
        await close_peers(peers)


async def test_idle_udp_flows_expire_and_a_new_source_socket_follows(
    bridge_server: SignallingServer,
) -> None:
    """After IDLE_TIMEOUT of silence a flow's host socket closes; the client's next datagram comes from a new one."""
    loop = asyncio.get_running_loop()
    arrivals: asyncio.Queue[tuple[str, int]] = asyncio.Queue()

    class Record(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            arrivals.put_nowait(addr)

    transport, _ = await loop.create_datagram_endpoint(Record, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    clock = ManualClock()
    shared = SharedPort(port, Transport.UDP)
    peers = await bridged(bridge_server, [shared], local_ports={port: 0}, clock=clock.monotonic)
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        forward = await peers.forward(shared)
        client.connect((forward.local_host, forward.local_port))
        client.setblocking(False)
        first = await resend_until_arrival(client, arrivals)
        bridge = peers.host_ports.bridge(peers.guest_id)
        assert bridge is not None
        assert bridge.expire_idle() == 0
        clock.advance(IDLE_TIMEOUT + 1)
        assert bridge.expire_idle() == 1
        second = await resend_until_arrival(client, arrivals)
        assert second != first
    finally:
        client.close()
        transport.close()
        await close_peers(peers)


async def resend_until_arrival(
    client: socket.socket, arrivals: asyncio.Queue[tuple[str, int]]
) -> tuple[str, int]:
    """Send a datagram (again, if the unreliable channel lost it) until one arrives; its source."""
    while not arrivals.empty():
        arrivals.get_nowait()
    async with asyncio.timeout(WAIT):
        while True:
            client.send(struct.pack("!I", 7))
            try:
                return await asyncio.wait_for(arrivals.get(), 1.0)
            except TimeoutError:
                continue


async def test_a_guest_opening_its_own_lobby_channel_is_refused(
    bridge_server: SignallingServer,
) -> None:
    """Now that the host takes channels a guest opens, a guest's own ``lobby`` or ``game`` is closed, and chat still works."""
    peers = await bridged(bridge_server, [])
    try:
        assert peers.guest.link is not None
        for label in ("lobby", "game"):
            closed = asyncio.Event()
            channel = peers.guest.link.create_channel(label)
            channel.on("close", closed.set)
            async with asyncio.timeout(WAIT):
                await closed.wait()
        peers.guest.send_chat("still here")
        chat = await peers.lobby.events.wait_for(lambda e: isinstance(e, ChatReceived))
        assert isinstance(chat, ChatReceived) and chat.text == "still here"
    finally:
        await close_peers(peers)
