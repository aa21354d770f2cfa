"""The game bridge end to end in one process: real server, real aiortc peers, real sockets.

The host shares ports of small servers on 127.0.0.1; the guest's game side is
plain sockets connecting to the listeners the guest's bridge opened.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
from collections.abc import AsyncIterator

import pytest

from lobbyhost_app.net.bridge import BridgeLimits
from lobbyhost_app.net.forwards import SharedPort, Transport, channel_label
from lobbyhost_app.session_values import GuestPhase, PeerGone
from signalling_server import SignallingServer
from tests.timeouts import scaled

from .bridge_peers import WAIT, bridge_server, bridged, close_peers, wait_closed

__all__ = ["bridge_server"]


class TcpGameServer:
    """A TCP server that answers each connection with the SHA-256 of all it read, after EOF."""

    def __init__(self) -> None:
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        digest = hashlib.sha256()
        while chunk := await reader.read(1 << 16):
            digest.update(chunk)
        writer.write(digest.hexdigest().encode())
        await writer.drain()
        writer.close()

    def close(self) -> None:
        assert self.server is not None
        self.server.close()


@pytest.fixture
async def game_server() -> AsyncIterator[TcpGameServer]:
    server = TcpGameServer()
    await server.start()
    yield server
    server.close()


def tcp_port(server: TcpGameServer) -> SharedPort:
    assert server.server is not None
    return SharedPort(server.server.sockets[0].getsockname()[1], Transport.TCP, "Hash")


async def hash_through(address: tuple[str, int], payload: bytes) -> bytes:
    """Send ``payload``, half-close, read the answer to the end."""
    reader, writer = await asyncio.open_connection(*address)
    writer.write(payload)
    await writer.drain()
    writer.write_eof()
    answer = await wait_closed(reader)
    writer.close()
    return answer


def local(forward_address: str) -> tuple[str, int]:
    host, _, port = forward_address.rpartition(":")
    return host, int(port)


async def test_a_large_transfer_arrives_whole_after_a_half_close(
    bridge_server: SignallingServer, game_server: TcpGameServer
) -> None:
    """8 MiB sent through the bridge, then a half-close, reach the host's server whole (by hash) and its answer comes back."""
    shared = tcp_port(game_server)
    peers = await bridged(bridge_server, [shared])
    try:
        forward = await peers.forward(shared)
        assert forward.local_port != shared.port  # the same port was taken: another one
        payload = os.urandom(8 * 1024 * 1024)
        answer = await hash_through(local(forward.address), payload)
        assert answer == hashlib.sha256(payload).hexdigest().encode()
        traffic = peers.host_ports.traffic(shared)
        assert traffic.bytes_in == len(payload)
    finally:
        await close_peers(peers)


async def test_many_parallel_connections_each_get_their_own_answer(
    bridge_server: SignallingServer, game_server: TcpGameServer
) -> None:
    """40 connections at once through one forward each reach the server and get their own answer."""
    shared = tcp_port(game_server)
    peers = await bridged(bridge_server, [shared])
    try:
        address = local((await peers.forward(shared)).address)
        payloads = [os.urandom(1000 + i * 997) for i in range(40)]
        answers = await asyncio.gather(*(hash_through(address, p) for p in payloads))
        assert answers == [hashlib.sha256(p).hexdigest().encode() for p in payloads]
        assert game_server.connections == 40
    finally:
        await close_peers(peers)


async def test_a_reset_on_the_server_side_resets_the_guest_side(
    bridge_server: SignallingServer,
) -> None:
    """A server that resets its connection makes the game's connection on the guest reset too."""

    async def reset_at_once(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        writer.transport.abort()

    server = await asyncio.start_server(reset_at_once, "127.0.0.1", 0)
    shared = SharedPort(server.sockets[0].getsockname()[1], Transport.TCP)
    peers = await bridged(bridge_server, [shared])
    try:
        reader, writer = await asyncio.open_connection(
            *local((await peers.forward(shared)).address)
        )
        assert await wait_closed(reader) == b"<reset>"
        writer.close()
    finally:
        server.close()
        await close_peers(peers)


async def test_a_connection_to_a_closed_shared_port_is_reset(
    bridge_server: SignallingServer,
) -> None:
    """With nothing listening on the shared port, the game's connection ends at once, not hangs."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    shared = SharedPort(free, Transport.TCP)
    peers = await bridged(bridge_server, [shared], local_ports={free: 0})
    try:
        reader, writer = await asyncio.open_connection(
            *local((await peers.forward(shared)).address)
        )
        assert await wait_closed(reader) in (b"", b"<reset>")
        writer.close()
    finally:
        await close_peers(peers)


async def test_udp_datagrams_keep_their_boundaries_and_sources(
    bridge_server: SignallingServer,
) -> None:
    """Datagrams of many sizes come back whole, each to the client that sent it, seen as distinct sources."""
    loop = asyncio.get_running_loop()
    sources: set[tuple[str, int]] = set()

    class Echo(asyncio.DatagramProtocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport

        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            sources.add(addr)
            self.transport.sendto(data, addr)  # type: ignore[attr-defined]

    echo_transport, _ = await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", 0))
    shared = SharedPort(echo_transport.get_extra_info("sockname")[1], Transport.UDP, "Echo")
    peers = await bridged(bridge_server, [shared])
    try:
        forward = await peers.forward(shared)
        clients = []
        for _ in range(3):
            client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            client.setblocking(False)
            client.connect(local(forward.address))
            clients.append(client)
        sizes = [1, 100, 1200, 8000, 30000]
        for client in clients:
            for size in sizes:
                # Unreliable channel: a datagram lost on loopback is retried, as a game would.
                payload = os.urandom(size)
                got = await udp_round_trip(client, payload)
                assert got == payload
        assert len(sources) == 3  # one socket on the host per guest-side source
        for client in clients:
            client.close()
    finally:
        echo_transport.close()
        await close_peers(peers)


async def udp_round_trip(client: socket.socket, payload: bytes) -> bytes:
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(WAIT):
        while True:
            await loop.sock_sendall(client, payload)
            try:
                async with asyncio.timeout(scaled(1.0)):
                    return await loop.sock_recv(client, 65536)
            except TimeoutError:
                continue


async def test_a_channel_to_a_port_not_shared_is_closed_and_reaches_nothing(
    bridge_server: SignallingServer, game_server: TcpGameServer
) -> None:
    """A guest opening fwd/tcp/<a port the host did not share> gets its channel closed; the server sees nothing."""
    shared = tcp_port(game_server)
    peers = await bridged(bridge_server, [])
    try:
        link = peers.guest.link
        assert link is not None
        for label in (channel_label(Transport.TCP, shared.port), "fwd/tcp/0080", "fwd/x/1"):
            closed = asyncio.Event()
            channel = link.create_channel(label)
            channel.on("close", closed.set)
            async with asyncio.timeout(WAIT):
                await closed.wait()
        assert game_server.connections == 0
        assert peers.lobby.host.peer(peers.guest_id) is not None  # the host is fine
    finally:
        await close_peers(peers)


async def test_kicking_a_guest_closes_its_forwards_at_once(
    bridge_server: SignallingServer,
) -> None:
    """A kicked guest's open forwarded connection ends and its listener stops taking connections."""
    opened = asyncio.Event()

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        opened.set()
        await reader.read()
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    shared = SharedPort(server.sockets[0].getsockname()[1], Transport.TCP)
    peers = await bridged(bridge_server, [shared])
    try:
        address = local((await peers.forward(shared)).address)
        reader, writer = await asyncio.open_connection(*address)
        writer.write(b"hello")
        async with asyncio.timeout(WAIT):
            await opened.wait()
        await peers.lobby.host.kick(peers.guest_id, "bye")
        await peers.lobby.events.wait_for(lambda e: isinstance(e, PeerGone))
        assert await wait_closed(reader) in (b"", b"<reset>")
        writer.close()
        await peers.guest.wait_ended()
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection(*address)
        assert peers.guest.status.phase is GuestPhase.KICKED
    finally:
        server.close()
        await close_peers(peers)


async def test_connections_past_the_limit_are_refused(
    bridge_server: SignallingServer,
) -> None:
    """Past max_tcp_connections, another connection is refused while the open ones keep working."""
    release = asyncio.Event()

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await release.wait()
        writer.write(b"ok")
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    shared = SharedPort(server.sockets[0].getsockname()[1], Transport.TCP)
    peers = await bridged(bridge_server, [shared], limits=BridgeLimits(max_tcp_connections=2))
    try:
        address = local((await peers.forward(shared)).address)
        held = [await asyncio.open_connection(*address) for _ in range(2)]
        extra_reader, extra_writer = await asyncio.open_connection(*address)
        assert await wait_closed(extra_reader) in (b"", b"<reset>")
        release.set()
        for reader, writer in held:
            assert await wait_closed(reader) == b"ok"
            writer.close()
        extra_writer.close()
    finally:
        server.close()
        await close_peers(peers)


async def test_the_shared_list_updates_live(
    bridge_server: SignallingServer, game_server: TcpGameServer
) -> None:
    """A port the host shares after the guest connected gets a guest listener; an unshared one loses it."""
    shared = tcp_port(game_server)
    peers = await bridged(bridge_server, [])
    try:
        peers.host_ports.set_shared([shared])
        forward = await peers.forward(shared)
        assert forward.shared.label == "Hash"
        payload = b"x" * 100
        answer = await hash_through(local(forward.address), payload)
        assert answer == hashlib.sha256(payload).hexdigest().encode()
        closed = asyncio.get_running_loop().create_future()
        peers.guest_ports.add_forward_listener(lambda _f: None, closed.set_result)
        peers.host_ports.set_shared([])
        async with asyncio.timeout(WAIT):
            assert await closed == forward
    finally:
        await close_peers(peers)


async def test_a_udp_port_relabelled_by_the_host_keeps_working(
    bridge_server: SignallingServer,
) -> None:
    """A new label for a shared UDP port gives the guest a new listener, and datagrams flow through it."""
    loop = asyncio.get_running_loop()

    class Echo(asyncio.DatagramProtocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport

        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            self.transport.sendto(data, addr)  # type: ignore[attr-defined]

    echo_transport, _ = await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", 0))
    port = echo_transport.get_extra_info("sockname")[1]
    peers = await bridged(bridge_server, [SharedPort(port, Transport.UDP, "Old")])
    try:
        await peers.forwards.wait_for(lambda f: f.shared.label == "Old")
        peers.host_ports.set_shared([SharedPort(port, Transport.UDP, "New")])
        forward = await peers.forwards.wait_for(lambda f: f.shared.label == "New")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.setblocking(False)
            client.connect(local(forward.address))
            assert await udp_round_trip(client, b"still there") == b"still there"
    finally:
        echo_transport.close()
        await close_peers(peers)
