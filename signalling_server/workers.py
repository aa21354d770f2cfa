"""``lobbyhost-server --workers N``: N server processes on one port, sharing lobbies on Redis.

The supervisor holds the port (a socket bound with SO_REUSEPORT, never
listening, so port 0 resolves once for all workers) and runs each worker as
``python -m signalling_server`` with the same options, ``--workers 1`` and
``--reuse-port``: the kernel spreads new connections over the workers'
listening sockets. A worker that dies (exits with an error or
a signal) is started again (its clients reconnect to the others and resume
meanwhile); SIGINT or SIGTERM stops them all gracefully.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import sys
from collections.abc import Sequence
from typing import Final

from . import __version__
from .config import ServerConfig
from .errors import SignallingError

logger = logging.getLogger("lobbyhost-server.workers")

#: Seconds before a worker that died is started again (a crash loop must not spin).
RESTART_DELAY: Final = 1.0
READY_MARK: Final = " listening on "
#: Seconds a worker may take to say it is listening.
START_TIMEOUT: Final = 60.0


class WorkerStartError(SignallingError):
    """A worker process ended before it was serving."""


def hold_port(host: str, port: int) -> socket.socket:
    """Bind (never listen) a SO_REUSEPORT socket: resolves port 0 and keeps the port ours."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    holder = socket.socket(family, socket.SOCK_STREAM)
    try:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        holder.bind((host, port))
    except OSError:
        holder.close()
        raise
    return holder


class Supervisor:
    """Runs and restarts the worker processes."""

    def __init__(self, config: ServerConfig, argv: Sequence[str], port: int) -> None:
        self.config = config
        self.port = port
        # Later options win in argparse: these override what argv (or the file) says.
        self._command = [
            sys.executable,
            "-m",
            "signalling_server",
            *argv,
            "--port",
            str(port),
            "--workers",
            "1",
            "--reuse-port",
        ]
        self._processes: list[asyncio.subprocess.Process | None] = [None] * config.workers
        self._stopping = False

    async def _start_worker(self, index: int) -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(
            *self._command, stdout=asyncio.subprocess.PIPE
        )
        self._processes[index] = process
        assert process.stdout is not None
        try:
            async with asyncio.timeout(START_TIMEOUT):
                line = await process.stdout.readline()
        except TimeoutError:
            process.kill()
            line = b""
        if READY_MARK not in line.decode(errors="replace"):
            await process.wait()
            raise WorkerStartError(f"worker {index} did not start (exit code {process.returncode})")
        logger.info("worker %d (pid %d) is serving", index, process.pid)
        return process

    async def _watch(self, index: int, process: asyncio.subprocess.Process) -> None:
        while True:
            code = await process.wait()
            if self._stopping or code == 0:
                return  # stopped as asked (SIGTERM to the whole service, say)
            logger.error(
                "worker %d (pid %d) ended with %s; starting it again", index, process.pid, code
            )
            await asyncio.sleep(RESTART_DELAY)
            if self._stopping:
                return
            try:
                process = await self._start_worker(index)
            except WorkerStartError as exc:
                logger.error("%s", exc)

    async def run(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        watchers: list[asyncio.Task[None]] = []
        try:
            started = await asyncio.gather(
                *(self._start_worker(index) for index in range(self.config.workers))
            )
            watchers = [
                asyncio.create_task(self._watch(index, process))
                for index, process in enumerate(started)
            ]
            host = f"[{self.config.host}]" if ":" in self.config.host else self.config.host
            print(
                f"lobbyhost-server {__version__} listening on ws://{host}:{self.port}/ "
                f"({self.config.workers} workers)",
                flush=True,
            )
            await stop.wait()
            logger.info("stopping the workers")
        finally:
            self._stopping = True
            for task in watchers:
                task.cancel()
            await self._stop_workers()

    async def _stop_workers(self) -> None:
        running = [p for p in self._processes if p is not None and p.returncode is None]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        for process in running:
            await process.wait()


async def supervise(config: ServerConfig, argv: Sequence[str]) -> None:
    """Run ``config.workers`` workers on one port until SIGINT or SIGTERM."""
    holder = hold_port(config.host, config.port)
    try:
        await Supervisor(config, argv, holder.getsockname()[1]).run()
    finally:
        holder.close()
