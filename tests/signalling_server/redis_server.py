"""A real ``redis-server`` for the tests: started on a free loopback port, stopped after.

It keeps nothing on disk (``--save '' --appendonly no``) and can be killed and
started again on the same port, as a Redis restart looks to the nodes; or
shut down saving its data (:meth:`RedisServer.stop_keeping_data`), so that it
comes back with it, as a Redis with persistence does.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import redis

from tests.ci import cannot_run
from tests.timeouts import scaled

READY = "Ready to accept connections"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RedisServer:
    """One ``redis-server`` process on 127.0.0.1."""

    def __init__(self) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            cannot_run("redis-server is not installed (apt-get install redis-server)")
        self.executable = executable
        self.port = _free_port()
        self._dir = tempfile.TemporaryDirectory(prefix="redis-test-")
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start it and return once it accepts connections."""
        command = [
            self.executable,
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            self._dir.name,
            "--loglevel",
            "notice",
        ]
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=Path(self._dir.name),
        )
        self._process = process
        ready = threading.Event()
        lines: list[str] = []

        def read() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                lines.append(line)
                if READY in line:
                    ready.set()
            ready.set()  # it ended: let the caller see why

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        if not ready.wait(scaled(10)) or process.poll() is not None:
            self.stop()
            raise RuntimeError("redis-server did not start:\n" + "".join(lines[-20:]))

    def stop(self) -> None:
        """Kill it (SIGKILL: nothing is saved anyway) and wait for it to be gone."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        process.wait(scaled(10))
        if self._reader is not None:
            self._reader.join(scaled(10))  # it reads to the end of the pipe, then ends
        if process.stdout is not None:
            process.stdout.close()

    def stop_keeping_data(self) -> None:
        """Shut it down saving its data (``SHUTDOWN SAVE``); :meth:`start` loads it again."""
        process = self._process
        if process is None:
            return
        client = redis.Redis.from_url(self.url)
        try:
            client.shutdown(save=True)
        except redis.exceptions.ConnectionError:
            pass  # the server closes the connection as it goes
        finally:
            client.close()
        process.wait(scaled(10))
        self.stop()

    def close(self) -> None:
        try:
            self.stop()
        finally:
            self._dir.cleanup()


@contextlib.contextmanager
def running_redis() -> Iterator[RedisServer]:
    """A started Redis, stopped and its directory deleted at the end."""
    server = RedisServer()
    try:
        server.start()
        yield server
    finally:
        server.close()
