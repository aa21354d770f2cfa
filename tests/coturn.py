"""A real coturn (Debian's ``turnserver``) on 127.0.0.1 for one test, stopped and cleaned after.

It relays between loopback peers (``allow-loopback-peers``, listening and
relaying on 127.0.0.1 only) and authenticates either a static user
(``lt-cred-mech``) or TURN REST credentials minted from a shared secret
(``use-auth-secret``). Ready once it logs its last start-up line (auth threads up).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from tests.ci import cannot_run
from tests.timeouts import scaled

#: coturn's last start-up line: its auth threads, which answer TURN allocations, are up.
#: (Its UDP listener opens before them: an allocation sent then can go unanswered.)
READY_LINE = b"SQLite DB connection success"
START_TIMEOUT = scaled(10.0)
REALM = "lobbyhost.test"


@dataclass(frozen=True, slots=True)
class Coturn:
    port: int

    @property
    def stun_url(self) -> str:
        return f"stun:127.0.0.1:{self.port}"

    @property
    def turn_url(self) -> str:
        return f"turn:127.0.0.1:{self.port}?transport=udp"


def _free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 right now (coturn listens on both)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port: int = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port


@contextlib.asynccontextmanager
async def running_coturn(
    workdir: Path,
    *,
    secret: str | None = None,
    user: tuple[str, str] | None = None,
    config: Path | None = None,
) -> AsyncIterator[Coturn]:
    """coturn on 127.0.0.1 with a REST ``secret`` or a static ``user`` (name, password).

    ``config``: a turnserver.conf to read as well (its values win where coturn
    lets a file override the command line: write test values into the file).
    """
    binary = shutil.which("turnserver")
    if binary is None:
        cannot_run("coturn is not installed (apt-get install coturn)")
    port = _free_port()
    args = [
        *(("-c", str(config)) if config is not None else ("-n",)),  # -n: no config file
        "-v",  # verbose, for the start-up lines
        "--listening-ip=127.0.0.1",
        "--relay-ip=127.0.0.1",
        f"--listening-port={port}",
        "--min-port=49152",
        "--max-port=65535",
        "--allow-loopback-peers",
        "--no-cli",
        "--no-tls",
        "--no-dtls",
        f"--realm={REALM}",
        "--log-file=stdout",
        "--simple-log",
        f"--pidfile={workdir / 'turnserver.pid'}",
        f"--userdb={workdir / 'turndb.sqlite'}",
    ]
    if secret is not None:
        args += ["--use-auth-secret", f"--static-auth-secret={secret}"]
    if user is not None:
        args += ["--lt-cred-mech", f"--user={user[0]}:{user[1]}"]
    process = await asyncio.create_subprocess_exec(
        binary, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    assert process.stdout is not None
    log: list[bytes] = []
    drain: asyncio.Task[None] | None = None
    try:
        try:
            async with asyncio.timeout(START_TIMEOUT):
                while READY_LINE not in (line := await process.stdout.readline()):
                    if not line:
                        raise AssertionError(f"coturn exited: {b''.join(log).decode()}")
                    log.append(line)
        except TimeoutError:
            raise AssertionError(
                f"coturn not ready in {START_TIMEOUT} s: {b''.join(log).decode()}"
            ) from None
        drain = asyncio.create_task(_drain(process.stdout))
        yield Coturn(port)
    finally:
        if process.returncode is None:
            process.terminate()
        await process.wait()
        if drain is not None:
            drain.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await drain


async def _drain(stream: asyncio.StreamReader) -> None:
    """Keep reading coturn's log so it never blocks on a full pipe."""
    while await stream.readline():
        pass
