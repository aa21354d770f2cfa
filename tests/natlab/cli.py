"""LobbyHost's command-line programs run inside lab machines, read as JSON lines.

:func:`headless_host` runs ``lobbyhost --headless`` and :func:`guest` runs
``lobbyhost-guest``, each inside a lab machine's network namespace; both give a
:class:`CliProcess` whose :meth:`~CliProcess.expect` waits, with a timeout, for
the next line with an event and field values. Every line comes with the
monotonic time it was read, for benchmarks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from .lab import Machine
from .processes import LabError, python_module

#: The first line comes after Python has imported aiortc.
START_TIMEOUT = 20.0


@dataclass(eq=False)
class CliProcess:
    """A CLI in a lab machine: JSON lines out (with the time each was read), stderr kept."""

    label: str
    process: asyncio.subprocess.Process
    stderr: IO[bytes]
    seen: list[dict[str, Any]] = field(default_factory=list)

    def transcript(self) -> str:
        self.stderr.seek(0)
        errors = self.stderr.read().decode("utf-8", "replace")[-4000:]
        lines = "\n".join(json.dumps(line) for line in self.seen[-40:])
        return f"{self.label} stdout so far:\n{lines}\n{self.label} stderr:\n{errors}"

    async def expect(self, event: str, within: float, **fields: Any) -> dict[str, Any]:
        """The next line with ``event`` and these field values (others are passed over).

        The line gets a ``_read_at`` key: :func:`time.monotonic` when it was read.
        :class:`LabError` with the transcript if the process ends or time runs out.
        """
        assert self.process.stdout is not None
        try:
            async with asyncio.timeout(within):
                while True:
                    raw = await self.process.stdout.readline()
                    if not raw:
                        raise LabError(
                            f"{self.label} ended before {event} {fields}\n{self.transcript()}"
                        )
                    line = json.loads(raw)
                    line["_read_at"] = time.monotonic()
                    self.seen.append(line)
                    if line.get("event") == event and all(
                        line.get(key) == value for key, value in fields.items()
                    ):
                        return dict(line)
        except TimeoutError:
            raise LabError(
                f"no {event} {fields} from {self.label} within {within:g} s\n{self.transcript()}"
            ) from None

    async def stop(self, within: float = 10.0) -> int:
        """SIGTERM, then the exit code (killed if it does not end in time)."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(within):
                return await self.process.wait()
        except TimeoutError:
            self.process.kill()
            return await self.process.wait()


@contextlib.asynccontextmanager
async def running(
    machine: Machine, label: str, module: str, args: Sequence[str]
) -> AsyncIterator[CliProcess]:
    """``main(args)`` of ``module`` in a Python inside ``machine``; killed when the block ends."""
    with tempfile.TemporaryFile() as stderr:
        process = await asyncio.create_subprocess_exec(
            *machine.command(*python_module(module), *args),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )
        try:
            yield CliProcess(label, process, stderr)
        finally:
            if process.returncode is None:
                process.kill()
            await process.communicate()


def headless_host(
    machine: Machine, *args: str
) -> contextlib.AbstractAsyncContextManager[CliProcess]:
    """``lobbyhost --headless --auto-accept ARGS`` inside ``machine``."""
    return running(
        machine, "headless host", "lobbyhost_app.cli", ["--headless", "--auto-accept", *args]
    )


def guest(
    machine: Machine, url: str, code: str | None, *args: str, name: str = "Guest"
) -> contextlib.AbstractAsyncContextManager[CliProcess]:
    """``lobbyhost-guest URL CODE --name NAME ARGS`` inside ``machine`` (no CODE: an invite link)."""
    where = [url] if code is None else [url, code]
    return running(
        machine, f"guest {name}", "lobbyhost_app.guest_cli", [*where, "--name", name, *args]
    )
