"""The HTTP routes on the websocket port, and ``lobbyhost-server`` run as a real process."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import http.client
import json
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from signalling_server import Limits, Timeouts, __version__
from tests.signalling_server.wsclient import EVENT_TIMEOUT, Lab, WsClient
from tests.timeouts import scaled

ROOT = Path(__file__).resolve().parents[2]
#: Starting a Python process that imports the server takes a moment on a slow machine.
PROCESS_TIMEOUT = scaled(15.0)
READY_LINE = re.compile(r"lobbyhost-server (\S+) listening on (ws://127\.0\.0\.1:(\d+)/)")


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    status: int
    content_type: str
    body: bytes


def _fetch(port: int, path: str, method: str) -> HttpAnswer:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=EVENT_TIMEOUT)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return HttpAnswer(response.status, response.getheader("Content-Type", ""), response.read())
    finally:
        connection.close()


async def fetch(port: int, path: str, method: str = "GET") -> HttpAnswer:
    """One HTTP request to the server on 127.0.0.1 (stdlib client, run in a thread)."""
    return await asyncio.to_thread(_fetch, port, path, method)


async def health(port: int) -> dict[str, object]:
    answer = await fetch(port, "/healthz")
    assert answer.status == 200, answer
    assert answer.content_type.startswith("application/json"), answer
    body: dict[str, object] = json.loads(answer.body)
    return body


async def metrics(port: int) -> dict[str, float]:
    """The samples of /metrics as ``{'name{labels}': value}``."""
    answer = await fetch(port, "/metrics")
    assert answer.status == 200, answer
    assert answer.content_type.startswith("text/plain; version=0.0.4"), answer
    samples = {}
    for line in answer.body.decode().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


# HTTP ----------------------------------------------------------------------------------


async def test_healthz_counts_connections_and_lobbies(lab: Lab) -> None:
    """/healthz answers 200 JSON with status, version and live connection and lobby counts."""
    port = lab.server.port
    assert await health(port) == {
        "status": "ok",
        "connections": 0,
        "lobbies": 0,
        "version": __version__,
    }
    client = await lab.client()
    await client.assert_silent()  # the server has surely registered it once it answers
    assert await health(port) == {
        "status": "ok",
        "connections": 1,
        "lobbies": 0,
        "version": __version__,
    }
    await client.act("start_lobby")
    await client.expect("lobby_started")
    other = await lab.client()
    await other.assert_silent()
    body = await health(port)
    assert (body["connections"], body["lobbies"]) == (2, 1)
    await client.act("close_lobby")
    await client.expect("lobby_closed")
    assert (await health(port))["lobbies"] == 0


async def test_metrics_report_relays_errors_and_join_latency(lab: Lab) -> None:
    """/metrics is Prometheus text with connections, relays, errors by code and join latency."""
    port = lab.server.port
    before = await metrics(port)
    assert before["lobbyhost_connections"] == 0
    assert before["lobbyhost_relayed_messages_total"] == 0
    assert not any(name.startswith("lobbyhost_errors_total") for name in before)

    host, started = await lab.host()
    guest, _ = await lab.guest(host, started["lobby_id"], "Bob")
    await host.act("send_message", connection_id=guest.id, data="hi")
    await guest.expect("received_message")
    stranger = await lab.client()
    await stranger.act("join_lobby", lobby_id="ZZZZZZ", name="Eve")
    await stranger.expect_error("lobby_not_found")

    after = await metrics(port)
    assert after["lobbyhost_connections"] == 3
    assert after["lobbyhost_lobbies"] == 1
    assert after["lobbyhost_relayed_messages_total"] == 1
    assert after['lobbyhost_errors_total{code="lobby_not_found"}'] == 1
    assert after["lobbyhost_join_to_accept_seconds_count"] == 1
    assert after['lobbyhost_join_to_accept_seconds_bucket{le="+Inf"}'] == 1
    assert after['lobbyhost_join_to_accept_seconds_bucket{le="0.5"}'] == 1  # accepted at once


async def test_unknown_path_is_404(lab: Lab) -> None:
    """A GET for a path the server doesn't serve answers 404."""
    answer = await fetch(lab.server.port, "/no/such/page")
    assert answer.status == 404


@pytest.mark.parametrize("path", ["/healthz", "/metrics"])
async def test_http_routes_answer_get_only(lab: Lab, path: str) -> None:
    """The HTTP routes are GET only (protocol v1): another method gets 405."""
    answer = await fetch(lab.server.port, path, method="POST")
    assert answer.status == 405, answer


# CLI -----------------------------------------------------------------------------------


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "signalling_server", *args]


@dataclass(slots=True)
class RunningServer:
    process: asyncio.subprocess.Process
    url: str


@contextlib.asynccontextmanager
async def run_cli(*args: str) -> AsyncIterator[RunningServer]:
    """``lobbyhost-server --host 127.0.0.1 --port 0 ARGS`` until the block ends."""
    process = await asyncio.create_subprocess_exec(
        *cli_command("--host", "127.0.0.1", "--port", "0", *args),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(PROCESS_TIMEOUT):
            line = (await process.stdout.readline()).decode()
        match = READY_LINE.fullmatch(line.strip())
        assert match, f"unexpected first line {line!r}"
        assert match.group(1) == __version__
        yield RunningServer(process, match.group(2))
    finally:
        if process.returncode is None:
            process.kill()
        await process.communicate()


async def test_cli_serves_and_stops_gracefully_on_sigterm() -> None:
    """The CLI prints its URL, serves clients, and on SIGTERM closes lobbies and exits 0."""
    async with run_cli() as server:
        host = await WsClient.open(server.url, "127.0.0.21")
        guest = await WsClient.open(server.url, "127.0.0.22")
        try:
            await host.act("start_lobby")
            started = await host.expect("lobby_started")
            await guest.act("join_lobby", lobby_id=started["lobby_id"], name="Bob")
            await guest.expect("join_requested")
            await host.expect("request_to_join")

            server.process.send_signal(signal.SIGTERM)
            closed = {"lobby_id": started["lobby_id"], "reason": "server_shutdown"}
            for client in (host, guest):
                assert await client.expect("lobby_closed") == closed
                await client.expect_closed(1001)
            async with asyncio.timeout(PROCESS_TIMEOUT):
                assert await server.process.wait() == 0
        finally:
            await host.close()
            await guest.close()


async def test_cli_config_file_sets_limits_and_flags_override(tmp_path: Path) -> None:
    """Limits come from the TOML file, and a command-line flag beats the file."""
    config = tmp_path / "server.toml"
    config.write_text("[limits]\nmax_frame_bytes = 1000\nhard_frame_bytes = 3000\n")
    async with run_cli("--config", str(config), "--max-frame-bytes", "2000") as server:
        client = await WsClient.open(server.url, "127.0.0.23")
        try:
            await client.act("ping", t="x" * 1500)  # over the file's 1000, under the flag's 2000
            assert await client.expect("pong") == {"t": "x" * 1500}
            await client.act("ping", t="x" * 2500)  # over the flag's 2000
            await client.expect_error("message_too_large")
            await client.act("ping", t="x" * 3500)  # over the file's hard limit
            await client.expect_closed(1009)
        finally:
            await client.close()


@pytest.mark.parametrize(
    ("config_text", "flags", "complaint"),
    [
        ("[limits]\nmax_frame_bytes = -1\n", [], "max_frame_bytes must be positive"),
        ("[limits]\nmax_frame_byte = 1000\n", [], "max_frame_byte"),
        ("[timeouts]\nhost_grace = 0\n", [], "host_grace must be positive"),
        ("[limits]\nmax_frame_bytes = [\n", [], "not valid TOML"),
        ("", ["--max-frame-bytes", "0"], "max_frame_bytes must be positive"),
        ("", ["--hard-frame-bytes", "100"], "hard_frame_bytes"),
        ('[[ice.turn]]\nurls = "turn:127.0.0.1:3478"\n', [], "username"),
    ],
    ids=[
        "negative-limit",
        "unknown-key",
        "zero-timeout",
        "bad-toml",
        "zero-flag",
        "hard-below-max",
        "turn-without-credentials",
    ],
)
def test_cli_rejects_invalid_config(
    tmp_path: Path, config_text: str, flags: list[str], complaint: str
) -> None:
    """An unusable configuration exits non-zero with a readable message naming the problem."""
    config = tmp_path / "server.toml"
    config.write_text(config_text)
    result = subprocess.run(
        cli_command("--host", "127.0.0.1", "--port", "0", "--config", str(config), *flags),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
        check=False,
    )
    assert result.returncode != 0
    assert result.stdout == ""  # never reached "listening"
    assert complaint in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr


def test_cli_rejects_missing_config_file(tmp_path: Path) -> None:
    """A config file that can't be read exits non-zero and says which file."""
    missing = tmp_path / "nowhere.toml"
    result = subprocess.run(
        cli_command("--config", str(missing)),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
        check=False,
    )
    assert result.returncode != 0
    assert str(missing) in result.stderr
    assert "Traceback" not in result.stderr, result.stderr


async def test_cli_port_in_use_exits_1(lab: Lab) -> None:
    """A port someone else listens on makes the CLI exit 1 with a readable message."""
    process = await asyncio.create_subprocess_exec(
        *cli_command("--host", "127.0.0.1", "--port", str(lab.server.port)),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(PROCESS_TIMEOUT):
            stdout, stderr = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.communicate()
    assert process.returncode == 1
    assert stdout == b""
    assert f"cannot listen on 127.0.0.1:{lab.server.port}" in stderr.decode()
    assert b"Traceback" not in stderr


def test_cli_help_lists_every_limit_and_timeout() -> None:
    """--help offers a flag for every Limits and Timeouts field."""
    result = subprocess.run(
        cli_command("--help"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
        check=True,
    )
    flags = set(re.findall(r"--[a-z][a-z-]*", result.stdout))
    for item in (*dataclasses.fields(Limits), *dataclasses.fields(Timeouts)):
        assert "--" + item.name.replace("_", "-") in flags, item.name
    assert {"--host", "--port", "--config"} <= flags


async def test_debug_log_never_shows_tokens_or_passwords() -> None:
    """Even at --log-level debug, no token or password reaches the log."""
    async with run_cli("--log-level", "debug") as server:
        host = await WsClient.open(server.url, "127.0.0.31")
        guest = await WsClient.open(server.url, "127.0.0.32")
        try:
            await host.act("start_lobby", password="hunter2-secret")
            started = await host.expect("lobby_started")
            await guest.act("join_lobby", lobby_id=started["lobby_id"], password="hunter2-secret")
            await guest.expect("join_requested")
            request = await host.expect("request_to_join")
            await host.act("accept_request", connection_id=request["connection_id"])
            accepted = await guest.expect("request_accepted")
            await host.expect("guest_accepted")
            server.process.send_signal(signal.SIGTERM)
            await host.expect("lobby_closed")
        finally:
            await host.close()
            await guest.close()
        _, stderr = await server.process.communicate()
    log = stderr.decode()
    assert "DEBUG" in log  # the debug log was on
    for secret in ("hunter2-secret", started["host_token"], accepted["guest_token"]):
        assert secret not in log
