"""Game forwards and snapshots across a migration, with the real CLIs as processes.

A ``lobbyhost --headless --migratable --forward`` host and two
``lobbyhost-guest`` processes on loopback; the guest that takes over shares
its own game's port (``--forward``) and the other guest's listeners follow.
"""

from __future__ import annotations

import asyncio
from typing import Any

from signalling_server import Limits, ServerConfig, Timeouts, serve
from tests.timeouts import scaled

from .test_headless_and_guest_cli import START_TIMEOUT, connect_guest, guest, headless_host


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Bob's game server: sends back all it read, then closes."""
    writer.write(await reader.read())
    await writer.drain()
    writer.close()


async def old_game(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"the old host's game")
    writer.close()


async def echoed_at(forward_line: dict[str, Any], payload: bytes) -> bytes:
    """What Bob's echo server sends back through the listener a ``forward`` line names."""
    local_host, _, local_port = str(forward_line["local"]).rpartition(":")
    reader, writer = await asyncio.open_connection(local_host, int(local_port))
    writer.write(payload)
    writer.write_eof()
    async with asyncio.timeout(START_TIMEOUT):
        answer = await reader.read()
    writer.close()
    return answer


async def test_a_promoted_guest_cli_shares_its_forward_port_with_the_other_guest() -> None:
    """The --migratable --forward host is killed; the promoted guest shares its --forward port and the other guest's forward follows."""
    old_server = await asyncio.start_server(old_game, "127.0.0.1", 0)
    bob_server = await asyncio.start_server(echo, "127.0.0.1", 0)
    old_port = old_server.sockets[0].getsockname()[1]
    bob_port = bob_server.sockets[0].getsockname()[1]
    config = ServerConfig(
        port=0,
        limits=Limits(password_hash_iterations=1),
        timeouts=Timeouts(host_grace=scaled(0.5), close_timeout=1),
    )
    try:
        async with (
            serve(config) as server,
            headless_host(
                "--server",
                server.url,
                "--migratable",
                "--auto-accept",
                "--forward",
                f"{old_port}/tcp=Old game",
            ) as host,
            guest(
                server.url,
                host.started["lobby_id"],
                "Bob",
                "--forward",
                f"{bob_port}/tcp=Bob's game",
            ) as bob,
        ):
            # Bob is accepted first, so he is the one promoted.
            await bob.expect("status", within=START_TIMEOUT, phase="connected")
            async with guest(server.url, host.started["lobby_id"], "Cid") as cid:
                await cid.expect("forward", within=START_TIMEOUT, port=old_port)

                host.process.kill()

                await bob.expect("status", phase="promoted")
                hosting = await bob.expect("hosting")
                assert hosting["forwards"] == [f"{bob_port}/tcp=Bob's game"]
                await cid.expect("host_changed", name="Bob")
                await cid.expect("forward_closed", proto="tcp", port=old_port)
                forward = await cid.expect("forward", port=bob_port)
                assert (forward["proto"], forward["label"]) == ("tcp", "Bob's game")
                assert await echoed_at(forward, b"through Bob") == b"through Bob"
    finally:
        old_server.close()
        bob_server.close()


async def test_a_lobby_moved_to_a_guest_cli_brings_its_snapshot_and_its_forwards() -> None:
    """An embedded host hands over: the successor CLI prints the snapshot, saves the next, and shares its --forward port."""
    bob_server = await asyncio.start_server(echo, "127.0.0.1", 0)
    bob_port = bob_server.sockets[0].getsockname()[1]
    try:
        async with (
            headless_host("--migratable") as host,
            guest(
                host.started["url"],
                host.started["lobby_id"],
                "Bob",
                "--host-listen",
                "127.0.0.1:0",
                "--forward",
                f"{bob_port}/tcp",
            ) as bob,
        ):
            bob_id = await connect_guest(host, bob)
            async with guest(host.started["url"], host.started["lobby_id"], "Cid") as cid:
                request = await host.expect("request_to_join", name="Cid")
                await host.send({"accept": request["connection_id"]})
                await cid.expect("status", within=START_TIMEOUT, phase="connected")
                await host.send({"snapshot": {"map": "dm4", "frags": [3, 1]}})
                await host.expect("snapshot_saved")

                await host.send({"hand_over": bob_id})

                await bob.expect("status", phase="promoted")
                assert (await bob.expect("hosting"))["forwards"] == [f"{bob_port}/tcp"]
                snapshot = await bob.expect("snapshot")
                assert (snapshot["seq"], snapshot["data"]) == (1, {"map": "dm4", "frags": [3, 1]})
                forward = await cid.expect("forward", port=bob_port)
                assert await echoed_at(forward, b"moved") == b"moved"
                await bob.send({"snapshot": {"map": "dm4", "frags": [4, 1]}})
                assert (await bob.expect("snapshot_saved"))["seq"] == 2
    finally:
        bob_server.close()
