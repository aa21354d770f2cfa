"""The servers under test (ours, the bare relays, PeerJS), each in a subprocess of its own."""

from __future__ import annotations

import json
import re
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from .addresses import LISTEN_HOST, loopback_url
from .contenders import BARE, NODE_WS, OURS, OURS_GENERIC, OURS_UVLOOP, PEERJS
from .errors import BenchmarkError
from .node_peers import NodeRuntime
from .process_resources import raise_nofile

ROOT = Path(__file__).resolve().parents[3]


def http_get(port: int, path: str) -> bytes:
    """A plain HTTP/1.1 GET to 127.0.0.1 (no proxies, no environment)."""
    with socket.create_connection((LISTEN_HOST, port), timeout=10) as sock:
        request = f"GET {path} HTTP/1.1\r\nHost: {LISTEN_HOST}:{port}\r\nConnection: close\r\n\r\n"
        sock.sendall(request.encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise BenchmarkError(f"GET {path}: {head[:80]!r}")
    return body


class ServerProcess:
    """One server (ours, a bare relay or PeerJS) running in a subprocess of its own.

    ``backlog`` (ours only) replaces our listen backlog, for the reconnect storm.
    """

    running: ClassVar[set[int]] = set()

    def __init__(
        self,
        kind: str,
        extra: Sequence[str],
        logdir: Path,
        *,
        node: NodeRuntime | None = None,
        backlog: int | None = None,
    ) -> None:
        self.kind = kind
        environment = None
        if kind in (OURS_GENERIC, OURS, OURS_UVLOOP):
            loop = "uvloop" if kind == OURS_UVLOOP else "asyncio"
            variant = ["--backlog", str(backlog)] if backlog is not None else []
            if kind == OURS_GENERIC:
                variant.append("--generic-frames")
            if variant:
                command = [sys.executable, "-m", "tests.benchmarks.relay.variant", *variant, "--"]
            else:
                command = [sys.executable, "-m", "signalling_server"]
            command += ["--log-level", "warning", "--loop", loop]
            command += ["--host", LISTEN_HOST, "--port", "0", *extra]
        elif kind == BARE:
            command = [sys.executable, "-m", "tests.benchmarks.relay", "--serve-bare"]
            command += ["--host", LISTEN_HOST, "--port", "0", *extra]
        elif kind in (NODE_WS, PEERJS) and node is not None:
            script = "bare_relay.js" if kind == NODE_WS else "peerjs_server.js"
            command = [*node.command(script), LISTEN_HOST, "0"]
            environment = node.environment()
        else:
            raise BenchmarkError(f"cannot start a {kind} server")
        self.log = logdir / f"{kind}-{time.monotonic_ns()}.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                command,
                cwd=ROOT,
                env=environment,
                stdout=subprocess.PIPE,
                stderr=log,
                stdin=subprocess.DEVNULL,
                preexec_fn=raise_nofile,
            )
        ServerProcess.running.add(self.proc.pid)
        self.url = loopback_url(self._await_listening(20.0))
        self.port = int(self.url.rsplit(":", 1)[1].rstrip("/"))

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _await_listening(self, seconds: float) -> str:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                line = self.proc.stdout.readline().decode()
                match = re.search(r"listening on (ws://\S+)", line)
                if match:
                    return match.group(1)
                if not line:
                    break
        self.stop()
        raise BenchmarkError(f"{self.kind} server did not start: {self.log.read_text()[-2000:]}")

    def connections(self) -> int:
        """The number of connections the server holds (``/healthz``; PeerJS: its peer list)."""
        if self.kind == PEERJS:
            return len(json.loads(http_get(self.port, "/peerjs/peers")))
        count: int = json.loads(http_get(self.port, "/healthz"))["connections"]
        return count

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and forget it."""
        ServerProcess.running.discard(self.proc.pid)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
