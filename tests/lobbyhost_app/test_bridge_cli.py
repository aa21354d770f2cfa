"""The game bridge's command line: ``--forward``, ``--forward-port``, ``--share``, and the JSON lines."""

from __future__ import annotations

import asyncio
import socket

import pytest

from lobbyhost_app import cli, guest_cli
from lobbyhost_app.net.forwards import SharedPort, Transport

from .test_headless_and_guest_cli import LOOPBACK_ICE, START_TIMEOUT, headless_host, running

GUEST_REQUIRED = ["ws://127.0.0.1:1/", "C"]


def test_forward_options_are_read_as_shared_ports() -> None:
    """Repeated --forward options become the host's shared ports, labels kept; the target defaults to 127.0.0.1."""
    args = cli.build_parser().parse_args(
        ["--headless", "--forward", "25565/tcp=Minecraft", "--forward", "27960/udp"]
    )
    assert args.forward == [
        SharedPort(25565, Transport.TCP, "Minecraft"),
        SharedPort(27960, Transport.UDP),
    ]
    assert args.forward_target == "127.0.0.1"


def test_the_guest_reads_forward_options_as_ports_to_share_once_it_hosts() -> None:
    """lobbyhost-guest --forward takes the same PORT/PROTO=LABEL as the headless host, repeatable."""
    args = guest_cli.build_parser().parse_args(
        [*GUEST_REQUIRED, "--forward", "27960/udp=OpenArena", "--forward", "25565/tcp"]
    )
    assert args.forward == [
        SharedPort(27960, Transport.UDP, "OpenArena"),
        SharedPort(25565, Transport.TCP),
    ]


@pytest.mark.parametrize(
    ("program", "argv", "words"),
    [
        ("lobbyhost", ["--headless", "--forward", "25565"], "write PORT/tcp or PORT/udp"),
        ("lobbyhost", ["--headless", "--forward", "25565/icmp"], "must be tcp or udp"),
        ("lobbyhost-guest", [*GUEST_REQUIRED, "--forward-port", "25565"], "HOSTPORT=LOCALPORT"),
        ("lobbyhost-guest", [*GUEST_REQUIRED, "--share", "99999/udp"], "from 1 to 65535"),
        ("lobbyhost-guest", [*GUEST_REQUIRED, "--forward", "27960"], "write PORT/tcp or PORT/udp"),
    ],
)
def test_a_bad_forward_is_a_usage_error_naming_the_problem(
    program: str, argv: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Both CLIs exit 2 with usage and a sentence saying what is wrong with the port given."""
    parser = cli.build_parser() if program == "lobbyhost" else guest_cli.build_parser()
    with pytest.raises(SystemExit) as exited:
        parser.parse_args(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: ") and words in err


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_the_guest_prints_a_forward_line_at_the_local_port_asked_for() -> None:
    """lobbyhost-guest --forward-port HOSTPORT=LOCALPORT listens there, prints it, and the game's bytes reach the host's server."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"you reached " + await reader.read())
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    local = free_port()
    try:
        async with headless_host("--auto-accept", "--forward", f"{port}/tcp=Echo") as host:
            started = host.started
            assert started["forwards"] == [f"{port}/tcp=Echo"]
            command = (
                started["url"],
                started["lobby_id"],
                "--name",
                "Bob",
                *LOOPBACK_ICE,
                "--forward-port",
                f"{port}={local}",
            )
            async with running("guest Bob", "lobbyhost_app.guest_cli", *command) as bob:
                line = await bob.expect("forward", within=START_TIMEOUT)
                assert line == {
                    "event": "forward",
                    "proto": "tcp",
                    "port": port,
                    "local": f"127.0.0.1:{local}",
                    "label": "Echo",
                }
                reader, writer = await asyncio.open_connection("127.0.0.1", local)
                writer.write(b"the host")
                writer.write_eof()
                async with asyncio.timeout(START_TIMEOUT):
                    assert await reader.read() == b"you reached the host"
                writer.close()
    finally:
        server.close()


async def test_a_guest_sharing_a_port_gives_the_headless_host_a_forward_line() -> None:
    """lobbyhost-guest --share PORT/tcp: the headless host prints a forward line, and its local address reaches the guest's server."""

    async def hello(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"hello from Bob's server")
        writer.close()

    server = await asyncio.start_server(hello, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with headless_host("--auto-accept") as host:
            started = host.started
            command = (
                started["url"],
                started["lobby_id"],
                "--name",
                "Bob",
                *LOOPBACK_ICE,
                "--share",
                f"{port}/tcp=Listen server",
            )
            async with running("guest Bob", "lobbyhost_app.guest_cli", *command):
                line = await host.expect("forward", within=START_TIMEOUT, port=port)
                assert line["proto"] == "tcp" and line["connection_id"]
                local_host, _, local_port = str(line["local"]).rpartition(":")
                reader, writer = await asyncio.open_connection(local_host, int(local_port))
                async with asyncio.timeout(START_TIMEOUT):
                    assert await reader.read() == b"hello from Bob's server"
                writer.close()
    finally:
        server.close()
