"""The game bridge: TCP throughput and UDP latency through it, against baselines in the same run.

Run: ``.venv/bin/python -m tests.benchmarks.bridge [--rounds N] [--megabytes M] [--seconds S]``

The host is its own process (this module's ``host`` command: a hosting service
with auto-accept sharing a TCP and a UDP port), so its CPU time can be read
from /proc; the guests, the game-side sinks and clients run in this process.
All on loopback, ICE restricted to 127.0.0.1, no ICE servers.

* TCP: M MB written to the guest's listener, half-closed; the sink behind the
  host's shared port answers with the count. Baseline: the same M MB sent by
  the same guest on a bare aiortc data channel to the same host (64 KB
  messages, paced on ``bufferedAmount`` with the bridge's marks), answered
  with the count. Rounds alternate; medians.
* UDP: 8 guests, each sending 60 datagrams/s of 200 bytes for S seconds to its
  listener; the sink records one-way latency (same clock). Baseline: the same
  clients sending straight to the sink on loopback.
* Host CPU (utime + stime of the host process) per MB and per datagram.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import struct
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCDataChannel

from lobbyhost_app.net.bridge_tcp import HIGH_WATER, LOW_WATER
from lobbyhost_app.net.channels import LobbyChannel
from lobbyhost_app.net.forwards import Forward, SharedPort, Transport
from lobbyhost_app.net.game_ports import GuestGamePorts
from lobbyhost_app.net.guest import GuestPhase, GuestSession, GuestStatus
from lobbyhost_app.net.hosting import HostingOptions, HostingService
from lobbyhost_app.net.ice import IceSettings, install_address_allow_list
from lobbyhost_app.net.link import PeerLink
from lobbyhost_app.net.signalling import SignallingClient
from signalling_server import Limits

from .relay.process_resources import cpu_seconds

LOOPBACK = IceSettings(allowed_addresses=("127.0.0.1",))
BENCH_CHANNEL = "bench"
CHUNK = 65536
GUESTS = 8
RATE = 60
DATAGRAM = 200
_STAMP = struct.Struct("!BIq")  # guest, sequence, send time (ns)


# The host process -------------------------------------------------------------------------


async def run_host(tcp_port: int, udp_port: int) -> None:
    """Host a lobby sharing the sinks' ports; count ``bench`` channels' bytes; until stdin ends."""
    install_address_allow_list(LOOPBACK.allowed_addresses)
    shared = (SharedPort(tcp_port, Transport.TCP), SharedPort(udp_port, Transport.UDP))
    limits = Limits(joins_per_address_per_minute=100_000, password_hash_iterations=1)
    hosting = HostingService(
        HostingOptions(
            listen_host="127.0.0.1",
            listen_port=0,
            limits=limits,
            ice=LOOPBACK,
            auto_accept=True,
            forwards=shared,
        )
    )
    await hosting.start()

    def bench_sink(_connection_id: str, link: PeerLink, _lobby: LobbyChannel) -> None:
        def attach(channel: RTCDataChannel) -> None:
            received = 0

            def on_message(data: str | bytes) -> None:
                nonlocal received
                if isinstance(data, bytes):
                    received += len(data)
                else:
                    link.send(channel, str(received))
                    received = 0

            channel.on("message", on_message)

        link.on_channel(BENCH_CHANNEL, attach)

    hosting.session.add_link_listener(bench_sink)
    opened = await hosting.open_lobby(lobby_id="BENCH1")
    print(json.dumps({"url": hosting.client_url, "code": opened.lobby_id}), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    await hosting.stop()


# Game-side sinks (this process) ------------------------------------------------------------


async def tcp_sink() -> asyncio.Server:
    """Reads each connection to its end, then answers with the byte count."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        count = 0
        while chunk := await reader.read(1 << 18):
            count += len(chunk)
        writer.write(str(count).encode())
        await writer.drain()
        writer.close()

    return await asyncio.start_server(serve, "127.0.0.1", 0)


@dataclass
class UdpSink(asyncio.DatagramProtocol):
    """Records each datagram's one-way latency (ms)."""

    latencies: list[float] = field(default_factory=list)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        _guest, _seq, sent = _STAMP.unpack_from(data)
        self.latencies.append((time.perf_counter_ns() - sent) / 1e6)


# Measurements ------------------------------------------------------------------------------


async def tcp_through(address: tuple[str, int], payload: bytes) -> float:
    """MB/s writing ``payload`` through ``address`` until the sink's count comes back."""
    start = time.perf_counter()
    reader, writer = await asyncio.open_connection(*address)
    view = memoryview(payload)
    for offset in range(0, len(payload), CHUNK):
        writer.write(view[offset : offset + CHUNK])
        await writer.drain()
    writer.write_eof()
    answer = await reader.read()
    elapsed = time.perf_counter() - start
    writer.close()
    assert int(answer) == len(payload), answer
    return len(payload) / 1e6 / elapsed


async def bare_channel(channel: RTCDataChannel, payload: bytes) -> float:
    """MB/s sending ``payload`` on a bare channel, paced like the bridge, until the count comes back."""
    loop = asyncio.get_running_loop()
    answered: asyncio.Future[str] = loop.create_future()
    drained = asyncio.Event()
    channel.bufferedAmountLowThreshold = LOW_WATER

    def on_message(data: str | bytes) -> None:
        if isinstance(data, str) and not answered.done():
            answered.set_result(data)

    channel.on("message", on_message)
    channel.on("bufferedamountlow", drained.set)
    start = time.perf_counter()
    for offset in range(0, len(payload), CHUNK):
        if channel.bufferedAmount > HIGH_WATER:
            drained.clear()
            await drained.wait()
        channel.send(payload[offset : offset + CHUNK])
    channel.send("end")
    count = await answered
    elapsed = time.perf_counter() - start
    channel.remove_listener("message", on_message)
    assert int(count) == len(payload), count
    return len(payload) / 1e6 / elapsed


async def udp_phase(
    targets: list[tuple[str, int]], seconds: float, *, in_step: bool = False
) -> int:
    """Each target gets RATE datagrams/s from its own socket for ``seconds``; how many were sent.

    The guests are independent players, not in step: each one's ticks are offset
    by an equal share of the tick period; ``in_step`` sends all of them at once
    (the worst case: each tick is a burst of 8 datagrams at the host).
    """
    loop = asyncio.get_running_loop()
    total = int(RATE * seconds)
    start = loop.time() + 0.05
    padding = b"\x00" * (DATAGRAM - _STAMP.size)

    async def player(index: int, target: tuple[str, int]) -> None:
        transport, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, remote_addr=target
        )
        offset = 0.0 if in_step else index / (RATE * len(targets))
        for seq in range(total):
            # The sending rate itself.
            await asyncio.sleep(max(0.0, start + offset + seq / RATE - loop.time()))
            transport.sendto(_STAMP.pack(index, seq, time.perf_counter_ns()) + padding)
        transport.close()

    await asyncio.gather(*(player(i, target) for i, target in enumerate(targets)))
    return total * len(targets)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# The run -----------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def host_process(tcp_port: int, udp_port: int) -> AsyncIterator[tuple[int, str, str]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.benchmarks.bridge",
        "host",
        str(tcp_port),
        str(udp_port),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None and process.stdin is not None
    try:
        line = json.loads(await asyncio.wait_for(process.stdout.readline(), 60))
        yield process.pid, line["url"], line["code"]
    finally:
        process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 20)
        except TimeoutError:
            process.kill()
            await process.wait()


async def join_guest(
    url: str, code: str, name: str, udp_port: int
) -> tuple[GuestSession, list[Forward]]:
    signalling = SignallingClient(url)
    await signalling.connect()
    guest = GuestSession(signalling, LOOPBACK)
    ports = GuestGamePorts(guest, local_ports={udp_port: 0})
    forwards: list[Forward] = []
    both = asyncio.get_running_loop().create_future()

    def opened(forward: Forward) -> None:
        forwards.append(forward)
        if len(forwards) == 2 and not both.done():
            both.set_result(None)

    ports.add_forward_listener(opened)
    connected: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_event(event: object) -> None:
        is_connected = isinstance(event, GuestStatus) and event.phase is GuestPhase.CONNECTED
        if is_connected and not connected.done():
            connected.set_result(None)

    guest.add_listener(on_event)
    await guest.join(code, name)
    await asyncio.wait_for(connected, 30)
    await asyncio.wait_for(both, 30)
    return guest, forwards


async def run(rounds: int, megabytes: int, seconds: float) -> dict[str, Any]:
    install_address_allow_list(LOOPBACK.allowed_addresses)
    tcp_server = await tcp_sink()
    tcp_port = tcp_server.sockets[0].getsockname()[1]
    loop = asyncio.get_running_loop()
    sink = UdpSink()
    udp_transport, _ = await loop.create_datagram_endpoint(
        lambda: sink, local_addr=("127.0.0.1", 0)
    )
    udp_port = udp_transport.get_extra_info("sockname")[1]
    payload = os.urandom(megabytes * 1_000_000)
    result: dict[str, Any] = {"megabytes": megabytes, "rounds": rounds, "seconds": seconds}
    async with host_process(tcp_port, udp_port) as (host_pid, url, code):
        guests = [await join_guest(url, code, f"G{i}", udp_port) for i in range(GUESTS)]
        first, forwards = guests[0]
        assert first.link is not None
        tcp_forward = next(f for f in forwards if f.shared.transport is Transport.TCP)
        channel = first.link.create_channel(BENCH_CHANNEL)
        opened = loop.create_future()
        channel.on("open", lambda: None if opened.done() else opened.set_result(None))
        await asyncio.wait_for(opened, 10)

        bridge_mbps, bare_mbps, bridge_cpu, bare_cpu = [], [], [], []
        for _ in range(rounds):
            before = cpu_seconds(host_pid)
            bare_mbps.append(await bare_channel(channel, payload))
            bare_cpu.append((cpu_seconds(host_pid) - before) / megabytes)
            before = cpu_seconds(host_pid)
            bridge_mbps.append(
                await tcp_through((tcp_forward.local_host, tcp_forward.local_port), payload)
            )
            bridge_cpu.append((cpu_seconds(host_pid) - before) / megabytes)
        result["tcp"] = {
            "bare_mb_s": statistics.median(bare_mbps),
            "bridge_mb_s": statistics.median(bridge_mbps),
            "ratio": statistics.median(bridge_mbps) / statistics.median(bare_mbps),
            # Each round's two runs are back to back: their ratio drifts less with load.
            "ratio_per_round": statistics.median(
                bridge / bare for bridge, bare in zip(bridge_mbps, bare_mbps, strict=True)
            ),
            "host_cpu_ms_per_mb_bare": statistics.median(bare_cpu) * 1000,
            "host_cpu_ms_per_mb_bridge": statistics.median(bridge_cpu) * 1000,
        }

        udp_targets = [
            next((f.local_host, f.local_port) for f in fw if f.shared.transport is Transport.UDP)
            for _, fw in guests
        ]
        for mode in ("independent", "in_step"):
            in_step = mode == "in_step"
            sink.latencies.clear()
            await udp_phase([("127.0.0.1", udp_port)] * GUESTS, seconds, in_step=in_step)
            await asyncio.sleep(0.5)  # stragglers of the baseline
            direct = list(sink.latencies)
            sink.latencies.clear()
            before = cpu_seconds(host_pid)
            sent = await udp_phase(udp_targets, seconds, in_step=in_step)
            await asyncio.sleep(0.5)  # stragglers through the bridge
            host_cpu = cpu_seconds(host_pid) - before
            bridged = list(sink.latencies)
            result[f"udp_{mode}"] = {
                "sent": sent,
                "direct_received": len(direct),
                "bridge_received": len(bridged),
                "direct_p50_ms": percentile(direct, 0.5),
                "direct_p99_ms": percentile(direct, 0.99),
                "bridge_p50_ms": percentile(bridged, 0.5),
                "bridge_p99_ms": percentile(bridged, 0.99),
                "added_p50_ms": percentile(bridged, 0.5) - percentile(direct, 0.5),
                "added_p99_ms": percentile(bridged, 0.99) - percentile(direct, 0.99),
                "host_cpu_us_per_datagram": host_cpu / max(1, len(bridged)) * 1e6,
            }
        for guest, _ in guests:
            await guest.leave()
    tcp_server.close()
    udp_transport.close()
    return result


def table(result: dict[str, Any]) -> str:
    tcp = result["tcp"]
    lines = [
        f"| measure ({result['rounds']} rounds of {result['megabytes']} MB; "
        f"UDP {GUESTS} guests x {RATE}/s x {result['seconds']:.0f} s) | value |",
        "|---|---|",
        f"| TCP bulk, bare aiortc data channel (median) | {tcp['bare_mb_s']:.1f} MB/s |",
        f"| TCP bulk through the bridge (median) | {tcp['bridge_mb_s']:.1f} MB/s |",
        f"| ratio bridge / bare, of the medians (target >= 0.8) | {tcp['ratio']:.2f}x |",
        f"| ratio bridge / bare, median of each round's | {tcp['ratio_per_round']:.2f}x |",
        f"| host CPU per MB, bare channel | {tcp['host_cpu_ms_per_mb_bare']:.1f} ms |",
        f"| host CPU per MB, bridge | {tcp['host_cpu_ms_per_mb_bridge']:.1f} ms |",
    ]
    for mode, words in (("independent", "guests independent"), ("in_step", "guests in step")):
        udp = result[f"udp_{mode}"]
        lines += [
            f"| UDP, {words}: direct loopback p50 / p99 "
            f"| {udp['direct_p50_ms']:.3f} / {udp['direct_p99_ms']:.3f} ms |",
            f"| UDP, {words}: through the bridge p50 / p99 "
            f"| {udp['bridge_p50_ms']:.3f} / {udp['bridge_p99_ms']:.3f} ms |",
            f"| UDP, {words}: added p50 / p99 (target < 2 / < 10 ms) "
            f"| {udp['added_p50_ms']:.3f} / {udp['added_p99_ms']:.3f} ms |",
            f"| UDP, {words}: received direct / bridge (of {udp['sent']}) "
            f"| {udp['direct_received']} / {udp['bridge_received']} |",
            f"| UDP, {words}: host CPU per datagram | {udp['host_cpu_us_per_datagram']:.0f} us |",
        ]
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "host":
        asyncio.run(run_host(int(sys.argv[2]), int(sys.argv[3])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--megabytes", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    result = asyncio.run(run(args.rounds, args.megabytes, args.seconds))
    print(table(result))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(result, out, indent=2)


if __name__ == "__main__":
    main()
