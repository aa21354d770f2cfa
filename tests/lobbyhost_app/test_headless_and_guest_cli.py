"""``lobbyhost --headless`` and ``lobbyhost-guest`` run as real processes, talking JSON lines.

Everything stays on loopback: the host listens on 127.0.0.1 port 0 and both
sides gather ICE candidates on 127.0.0.1 only, with no STUN server.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import io
import json
import signal
import socket
import sys
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

from signalling_server import Limits, ServerConfig, Timeouts, serve
from tests.timeouts import scaled

from .net.recorder import Recorder

ROOT = Path(__file__).resolve().parents[2]
#: The first line comes after Python has imported aiortc: slow on a slow machine.
START_TIMEOUT = scaled(15.0)
#: Any later line, including a WebRTC handshake and the first RTT ping (every 2 s).
LINE_TIMEOUT = scaled(10.0)
EXIT_TIMEOUT = scaled(10.0)
ENTRY = "import sys; from {module} import main; sys.exit(main(sys.argv[1:]))"
LOOPBACK_ICE = ("--ice-address", "127.0.0.1")


@dataclass(eq=False)
class JsonLinesProcess:
    """A CLI under test: JSON lines out, lines in, stderr kept for failure messages."""

    label: str
    process: asyncio.subprocess.Process
    stderr: IO[bytes]
    seen: list[dict[str, Any]] = field(default_factory=list)

    def transcript(self) -> str:
        self.stderr.seek(0)
        errors = self.stderr.read().decode("utf-8", "replace")
        lines = "\n".join(json.dumps(line) for line in self.seen)
        return f"{self.label} stdout so far:\n{lines}\n{self.label} stderr:\n{errors}"

    async def expect(
        self, event: str, within: float = LINE_TIMEOUT, **fields: Any
    ) -> dict[str, Any]:
        """The next line with this ``event`` and these field values; other lines are passed over."""
        assert self.process.stdout is not None
        try:
            async with asyncio.timeout(within):
                while True:
                    raw = await self.process.stdout.readline()
                    if not raw:
                        pytest.fail(
                            f"{self.label} ended before {event} {fields}\n{self.transcript()}"
                        )
                    try:
                        line = json.loads(raw)
                    except ValueError:
                        pytest.fail(f"{self.label} printed a non-JSON line {raw!r}")
                    assert isinstance(line, dict), line
                    self.seen.append(line)
                    if line.get("event") == event and all(
                        line.get(key) == value for key, value in fields.items()
                    ):
                        return line
        except TimeoutError:
            pytest.fail(f"no {event} {fields} from {self.label}\n{self.transcript()}")

    async def send_line(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text.encode() + b"\n")
        await self.process.stdin.drain()

    async def send(self, command: dict[str, Any]) -> None:
        await self.send_line(json.dumps(command))

    async def exit_code(self) -> int:
        """Wait for the process to end by itself and give its exit code."""
        try:
            async with asyncio.timeout(EXIT_TIMEOUT):
                return await self.process.wait()
        except TimeoutError:
            pytest.fail(f"{self.label} did not exit\n{self.transcript()}")


@contextlib.asynccontextmanager
async def running(
    label: str, module: str, *args: str, under: Sequence[str] = ()
) -> AsyncIterator[JsonLinesProcess]:
    """Run ``main(args)`` of ``module`` in a child Python (started through ``under``, such as
    ``ip netns exec NS``); killed when the block ends."""
    with tempfile.TemporaryFile() as stderr:
        process = await asyncio.create_subprocess_exec(
            *under,
            sys.executable,
            "-c",
            ENTRY.format(module=module),
            *args,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )
        try:
            yield JsonLinesProcess(label, process, stderr)
        finally:
            if process.returncode is None:
                process.kill()
            await process.communicate()


@dataclass(eq=False)
class Host(JsonLinesProcess):
    started: dict[str, Any] = field(default_factory=dict)


@contextlib.asynccontextmanager
async def headless_host(*args: str) -> AsyncIterator[Host]:
    """``lobbyhost --headless`` on 127.0.0.1 port 0 (or ``--server``), once it printed ``lobby_started``."""
    listen = () if "--server" in args else ("--listen", "127.0.0.1:0")
    command = ("--headless", *listen, *LOOPBACK_ICE, "--name", "Alice", *args)
    async with running("host", "lobbyhost_app.cli", *command) as process:
        host = Host(process.label, process.process, process.stderr, process.seen)
        host.started = await host.expect("lobby_started", within=START_TIMEOUT)
        yield host


@contextlib.asynccontextmanager
async def guest(
    url: str, code: str, name: str = "Bob", *extra: str
) -> AsyncIterator[JsonLinesProcess]:
    """``lobbyhost-guest URL CODE --name NAME`` on loopback ICE (and ``extra`` options)."""
    command = (url, code, "--name", name, *LOOPBACK_ICE, *extra)
    async with running(f"guest {name}", "lobbyhost_app.guest_cli", *command) as process:
        yield process


def _get(port: int, path: str) -> tuple[int, str, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=LINE_TIMEOUT)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        connection.close()


async def connect_guest(host: Host, bob: JsonLinesProcess) -> str:
    """Accept Bob's request on the host's stdin; his connection id once both sides connected."""
    request = await host.expect("request_to_join", name="Bob")
    await host.send({"accept": request["connection_id"]})
    await bob.expect("status", within=START_TIMEOUT, phase="connected")
    await host.expect("peer_connected", connection_id=request["connection_id"])
    return str(request["connection_id"])


# Tests -----------------------------------------------------------------------------------


async def test_auto_accept_connects_measures_rtt_relays_chat_and_reports_health() -> None:
    """With --auto-accept a guest connects directly, RTT is measured, its chat reaches the host, /healthz counts the lobby."""
    async with headless_host("--auto-accept") as host:
        started = host.started
        port = started["port"]
        assert started["url"] == f"ws://127.0.0.1:{port}/"
        assert started["healthz"] == f"http://127.0.0.1:{port}/healthz"
        async with guest(started["url"], started["lobby_id"]) as bob:
            await bob.expect("status", within=START_TIMEOUT, phase="connected")
            request = await host.expect("request_to_join", name="Bob")
            connected = await host.expect("peer_connected")
            assert connected == {
                "event": "peer_connected",
                "connection_id": request["connection_id"],
                "name": "Bob",
                "peer_id": 2,
                "route": "host",
            }
            rtt = await host.expect("peer_rtt", connection_id=request["connection_id"])
            assert rtt["rtt_ms"] > 0

            await bob.send_line("hello from Bob")
            chat = await host.expect("chat")
            assert chat == {
                "event": "chat",
                "connection_id": request["connection_id"],
                "name": "Bob",
                "text": "hello from Bob",
            }

            status, content_type, body = await asyncio.to_thread(_get, port, "/healthz")
            assert status == 200
            assert content_type.startswith("application/json")
            assert json.loads(body)["lobbies"] == 1


async def test_manual_accept_on_stdin_and_host_chat_reaches_the_guest() -> None:
    """{"accept": id} on the host's stdin admits the guest; {"chat": ...} reaches it."""
    async with headless_host() as host:
        started = host.started
        async with guest(started["url"], started["lobby_id"]) as bob:
            await bob.expect("status", within=START_TIMEOUT, phase="waiting")
            await connect_guest(host, bob)
            await host.send({"chat": "hi all"})
            assert await bob.expect("chat") == {"event": "chat", "text": "hi all"}


async def test_reject_on_stdin_ends_the_guest_with_the_reason() -> None:
    """{"reject": id, "reason": ...} makes the guest print rejected with that reason and exit 1."""
    async with headless_host() as host:
        started = host.started
        async with guest(started["url"], started["lobby_id"]) as bob:
            request = await host.expect("request_to_join", within=START_TIMEOUT, name="Bob")
            await host.send({"reject": request["connection_id"], "reason": "game full"})
            await bob.expect("status", phase="rejected", detail="game full")
            assert await bob.exit_code() == 1


async def test_kick_on_stdin_ends_the_guest_and_reports_peer_left() -> None:
    """{"kick": id, "reason": ...} makes the guest print kicked and exit 1; the host reports peer_left kicked."""
    async with headless_host() as host:
        started = host.started
        async with guest(started["url"], started["lobby_id"]) as bob:
            connection_id = await connect_guest(host, bob)
            await host.send({"kick": connection_id, "reason": "afk"})
            kicked = await bob.expect("status", phase="kicked")
            assert kicked["detail"] == "afk"
            assert await bob.exit_code() == 1
            left = await host.expect("peer_left", connection_id=connection_id)
            assert left == {
                "event": "peer_left",
                "connection_id": connection_id,
                "name": "Bob",
                "reason": "kicked",
            }


async def test_sigterm_closes_the_lobby_and_both_sides_exit_cleanly() -> None:
    """SIGTERM to the host prints lobby_closed and exits 0; its guest prints lobby_closed and exits 0."""
    async with headless_host() as host:
        started = host.started
        async with guest(started["url"], started["lobby_id"]) as bob:
            await connect_guest(host, bob)
            host.process.send_signal(signal.SIGTERM)
            await host.expect("lobby_closed")
            assert await host.exit_code() == 0
            await bob.expect("status", phase="lobby_closed")
            assert await bob.exit_code() == 0


async def test_end_of_stdin_closes_the_lobby_and_exits_0() -> None:
    """Without --auto-accept the host stops at the end of its stdin: lobby_closed, exit 0."""
    async with headless_host() as host:
        assert host.process.stdin is not None
        host.process.stdin.close()
        await host.expect("lobby_closed")
        assert await host.exit_code() == 0


async def test_code_option_asks_for_that_code_normalised() -> None:
    """--code ab-c123 opens lobby ABC123, which a guest can join by the sloppy spelling too."""
    async with headless_host("--code", "ab-c123") as host:
        started = host.started
        assert started["lobby_id"] == "ABC123"
        async with guest(started["url"], "abc 123") as bob:
            await bob.expect("status", within=START_TIMEOUT, phase="waiting")
            await host.expect("request_to_join", name="Bob")


#: Each must print one error line and leave the host running.
BAD_COMMANDS = (
    "not json",
    '{"dance": "now"}',
    "[1, 2]",
    "42",
    '"accept"',
    '{"accept": "no-such-connection"}',
)


async def test_bad_host_commands_print_errors_and_the_host_carries_on() -> None:
    """Non-JSON lines and unknown, malformed or impossible commands print errors; a later accept still works."""
    async with headless_host() as host:
        for line in BAD_COMMANDS:
            await host.send_line(line)
            error = await host.expect("error")
            assert isinstance(error["message"], str) and error["message"], line
        started = host.started
        async with guest(started["url"], started["lobby_id"]) as bob:
            await connect_guest(host, bob)
        assert host.process.returncode is None
        assert [line["event"] for line in host.seen].count("error") == len(BAD_COMMANDS)


async def test_guest_with_a_wrong_code_prints_a_readable_error_and_exits_1() -> None:
    """A guest asking for a lobby that doesn't exist prints an error naming the code and exits 1."""
    async with (
        headless_host("--code", "ABC123") as host,
        guest(host.started["url"], "ZZZZZZ") as bob,
    ):
        error = await bob.expect("error", within=START_TIMEOUT)
        assert "ZZZZZZ" in error["message"]
        assert "_" not in error["message"].replace("ZZZZZZ", "")  # a sentence, not an error code
        assert await bob.exit_code() == 1
        assert "Traceback" not in bob.transcript()


async def test_listen_on_a_busy_port_prints_a_readable_error_and_exits_1() -> None:
    """--listen on a port already in use prints an error saying so and exits 1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        command = ("--headless", "--listen", f"127.0.0.1:{port}", *LOOPBACK_ICE)
        async with running("host", "lobbyhost_app.cli", *command) as host:
            error = await host.expect("error", within=START_TIMEOUT)
            assert f"127.0.0.1:{port}" in error["message"]
            assert "in use" in error["message"]
            assert await host.exit_code() == 1
            assert "Traceback" not in host.transcript()


async def test_host_listening_on_ipv6_loopback_serves_its_own_lobby() -> None:
    """--listen [::1]:0: the host reaches its own server there and prints bracketed URLs."""
    async with headless_host("--listen", "[::1]:0", "--auto-accept") as host:
        started = host.started
        port = started["port"]
        assert started["url"] == f"ws://[::1]:{port}/"
        assert started["healthz"] == f"http://[::1]:{port}/healthz"
        async with guest(started["url"], started["lobby_id"]) as bob:
            await bob.expect("status", within=START_TIMEOUT, phase="connected")


async def test_commands_from_a_regular_file_are_read(tmp_path: Path) -> None:
    """stdin redirected from a file (< commands.txt) is read line by line, not dropped."""
    commands = tmp_path / "commands.txt"
    commands.write_text('not json\n{"chat": "hello"}\n')
    with commands.open("rb") as stdin, tempfile.TemporaryFile() as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            ENTRY.format(module="lobbyhost_app.cli"),
            "--headless",
            "--listen",
            "127.0.0.1:0",
            *LOOPBACK_ICE,
            cwd=ROOT,
            stdin=stdin,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )
        try:
            async with asyncio.timeout(START_TIMEOUT):
                out, _ = await process.communicate()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    events = [json.loads(line) for line in out.decode().splitlines()]
    assert [e["event"] for e in events] == ["lobby_started", "invite", "error", "lobby_closed"]
    assert events[2]["message"] == "not a command: not json"
    assert process.returncode == 0


@dataclass(eq=False)
class StderrLines:
    """A process's stderr read line by line as it comes (kept for the transcript too)."""

    kept: io.BytesIO = field(default_factory=io.BytesIO)
    lines: Recorder[str] = field(default_factory=Recorder)

    async def read(self, stream: asyncio.StreamReader) -> None:
        while raw := await stream.readline():
            self.kept.seek(0, io.SEEK_END)
            self.kept.write(raw)
            self.lines(raw.decode("utf-8", "replace"))


async def test_a_host_whose_stdout_is_not_read_keeps_serving_and_reports_what_it_dropped() -> None:
    """With its stdout unread, the host still answers /healthz and lets a guest in; its reader then gets output_dropped{count}, and stderr says so."""
    command = ("--headless", "--listen", "127.0.0.1:0", *LOOPBACK_ICE, "--auto-accept")
    stderr = StderrLines()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        ENTRY.format(module="lobbyhost_app.cli"),
        *command,
        cwd=ROOT,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        limit=16 * 1024,  # this test's side holds at most 32 KiB of the host's unread output
    )
    assert process.stderr is not None
    reading_stderr = asyncio.create_task(stderr.read(process.stderr))
    host = Host("host", process, stderr.kept)
    try:
        started = await host.expect("lobby_started", within=START_TIMEOUT)
        async with guest(started["url"], started["lobby_id"]) as bob:
            await bob.expect("status", within=START_TIMEOUT, phase="connected")
            await host.expect("peer_connected", name="Bob")
            # From here on nobody reads the host's stdout. Bob's chat, ~800 KB of
            # chat lines to print, fills the pipe and the host's output buffer.
            text = "x" * 1900
            await bob.send_line("\n".join(f"{n:04d}{text}" for n in range(400)))
            await stderr.lines.wait_for(lambda line: "dropping output lines" in line)

            status, _, body = await asyncio.to_thread(_get, started["port"], "/healthz")
            assert status == 200 and json.loads(body)["lobbies"] == 1
            async with guest(started["url"], started["lobby_id"], "Cy") as cy:
                await cy.expect("status", within=START_TIMEOUT, phase="connected")

                # The reader comes back: it is told what it missed, then lines flow again.
                dropped = await host.expect("output_dropped")
                assert dropped["count"] > 0
                await host.expect("peer_rtt")
                said = await stderr.lines.wait_for(
                    lambda line: "lines while stdout was not" in line
                )
                assert f"dropped {dropped['count']} output lines" in said
    finally:
        if process.returncode is None:
            process.kill()
        await reading_stderr
        await process.communicate()  # reads what is left of stdout, so the pipe can close


async def test_killing_a_migratable_host_process_leaves_a_guest_hosting_with_the_snapshot() -> None:
    """A --migratable headless host on a running server is killed; a guest CLI hosts on, snapshot in hand."""
    config = ServerConfig(
        port=0,
        limits=Limits(password_hash_iterations=1),
        timeouts=Timeouts(host_grace=scaled(0.5), close_timeout=1),
    )
    async with (
        serve(config) as server,
        headless_host("--server", server.url, "--migratable") as host,
        guest(server.url, host.started["lobby_id"], "Bob") as bob,
    ):
        assert host.started["url"] == server.url  # the remote server's, not an embedded one
        assert host.started["healthz"] == f"http://127.0.0.1:{server.port}/healthz"
        await connect_guest(host, bob)
        async with guest(server.url, host.started["lobby_id"], "Cid") as cid:
            request = await host.expect("request_to_join", name="Cid")
            await host.send({"accept": request["connection_id"]})
            await cid.expect("status", within=START_TIMEOUT, phase="connected")
            await host.send({"snapshot": {"level": 3, "hp": [10, 7]}})
            saved = await host.expect("snapshot_saved")
            assert (saved["seq"], saved["size"]) == (1, len('{"level": 3, "hp": [10, 7]}'))

            host.process.kill()

            await bob.expect("status", phase="promoted")
            snapshot = await bob.expect("snapshot")
            assert (snapshot["seq"], snapshot["data"]) == (1, {"level": 3, "hp": [10, 7]})
            assert await cid.expect("host_changed") == {
                "event": "host_changed",
                "name": "Bob",
                "peer_id": 2,
            }
            await cid.expect("status", phase="connected")
            await bob.expect("peer_connected", name="Cid", peer_id=3)
            await bob.send_line("still here")
            assert (await cid.expect("chat"))["text"] == "still here"
            await bob.send({"snapshot": {"level": 4}})
            assert (await bob.expect("snapshot_saved"))["seq"] == 2


async def test_an_embedded_headless_host_hands_over_by_moving_the_lobby_to_a_guest_cli() -> None:
    """hand_over on an embedded headless host: the successor CLI hosts on its own server, Cid moves."""
    async with (
        headless_host("--migratable") as host,
        guest(
            host.started["url"],
            host.started["lobby_id"],
            "Bob",
            "--host-listen",
            "127.0.0.1:0",
        ) as bob,
    ):
        bob_id = await connect_guest(host, bob)
        async with guest(host.started["url"], host.started["lobby_id"], "Cid") as cid:
            request = await host.expect("request_to_join", name="Cid")
            await host.send({"accept": request["connection_id"]})
            await cid.expect("status", within=START_TIMEOUT, phase="connected")

            await host.send({"hand_over": bob_id})

            assert (await host.expect("handed_over")) == {
                "event": "handed_over",
                "name": "Bob",
                "peer_id": 2,
            }
            assert await host.exit_code() == 0  # its embedded server is gone with it
            await bob.expect("status", phase="promoted")
            await cid.expect("status", phase="connected")
            await bob.expect("peer_connected", name="Cid", peer_id=3)
            await bob.send_line("new server, same lobby")
            assert (await cid.expect("chat"))["text"] == "new server, same lobby"
