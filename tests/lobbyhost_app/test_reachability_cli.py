"""``lobbyhost-guest`` telling why it cannot connect: a host that could not reach it, a private address.

Real processes on loopback, as in test_headless_and_guest_cli.py; the
private-address case runs the guest in a network namespace of its own with
only ``lo`` (``unshare --net``), so its connection attempt goes nowhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from lobbyhost_app.net.host import HostSession
from lobbyhost_app.net.signalling import SignallingClient
from signalling_server import Limits, ServerConfig, serve
from tests.ci import cannot_run

from .loopback import LOOPBACK
from .test_headless_and_guest_cli import (
    ENTRY,
    EXIT_TIMEOUT,
    ROOT,
    START_TIMEOUT,
    guest,
)


async def test_guest_cli_says_the_host_could_not_reach_it_and_exits_1() -> None:
    """A host that gives up on the handshake: lobbyhost-guest prints status failed, reason unreachable, and a sentence with the NAT/TURN hint."""
    config = ServerConfig(port=0, limits=Limits(password_hash_iterations=1))
    async with serve(config) as server:
        signalling = SignallingClient(server.url, reconnect=False)
        await signalling.connect()
        host = HostSession(signalling, LOOPBACK, auto_accept=True, handshake_timeout=0.0)
        try:
            opened = await host.start(display_name="Ann")
            async with guest(server.url, opened.lobby_id) as bob:
                status = await bob.expect(
                    "status", within=START_TIMEOUT, phase="failed", reason="unreachable"
                )
                assert status["message"].startswith("The host could not reach you: ")
                assert "NAT" in status["message"] and "TURN server" in status["message"]
                assert await bob.exit_code() == 1
        finally:
            await host.close()


def test_guest_cli_explains_that_a_private_address_only_works_on_the_hosts_network() -> None:
    """An invite link with a private address that cannot be reached: the error says it only works on the host's own network."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        cannot_run("needs root and unshare for a network namespace with only lo")
    command = [
        "unshare",
        "--net",
        "--",
        "sh",
        "-c",
        'ip link set lo up && exec "$@"',
        "sh",
        sys.executable,
        "-c",
        ENTRY.format(module="lobbyhost_app.guest_cli"),
        "http://192.168.1.20:8765/join/K7QX2M",
        "--name",
        "Bob",
        "--ice-address",
        "127.0.0.1",
    ]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=EXIT_TIMEOUT, check=False
    )
    assert done.returncode == 1, done.stderr
    assert "192.168.1.20 is a private address: it only works on the host's own network" in (
        done.stdout
    ), done.stdout + done.stderr
