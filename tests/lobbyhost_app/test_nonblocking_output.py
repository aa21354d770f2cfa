"""NonBlockingLineWriter on a real pipe: a reader that stalls costs lines, never a blocked writer."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from lobbyhost_app.nonblocking_output import NonBlockingLineWriter, json_line
from tests.timeouts import scaled

LINE_TIMEOUT = scaled(5.0)


def _strict(name: str) -> object:
    raise AssertionError(f"{name} is not strict JSON")


def test_floats_json_cannot_carry_are_written_as_null() -> None:
    """Infinity and NaN, nested or not, come out as null: every line is strict JSON."""
    line = json_line({"event": "x", "rtt_ms": float("inf"), "more": [float("nan"), 1.5]})
    assert line.endswith(b"\n")
    assert json.loads(line, parse_constant=_strict) == {
        "event": "x",
        "rtt_ms": None,
        "more": [None, 1.5],
    }


@dataclass
class StalledPipe:
    """A pipe nobody reads until :meth:`start_reading`."""

    read_fd: int
    write_fd: int
    stream: asyncio.StreamReader | None = None

    async def start_reading(self) -> asyncio.StreamReader:
        self.stream = stream = asyncio.StreamReader()
        await asyncio.get_running_loop().connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(stream), os.fdopen(self.read_fd, "rb")
        )
        return stream

    async def close(self) -> None:
        """Close the write end and read to the end (which lets a writer still blocked go)."""
        os.close(self.write_fd)
        stream = self.stream or await self.start_reading()
        async with asyncio.timeout(LINE_TIMEOUT):
            await stream.read()


FILLER = b"#" * 63 + b"\n"


def fill(fd: int) -> int:
    """Fill the pipe to the brim with ``FILLER`` lines; how many went in."""
    os.set_blocking(fd, False)
    count = 0
    try:
        while True:
            os.write(fd, FILLER)
            count += 1
    except BlockingIOError:
        return count
    finally:
        os.set_blocking(fd, True)


@pytest.fixture
async def stalled_pipe() -> AsyncIterator[StalledPipe]:
    pipe = StalledPipe(*os.pipe())
    yield pipe
    await pipe.close()


async def test_a_stalled_reader_loses_lines_and_is_told_how_many_where_they_were(
    stalled_pipe: StalledPipe,
) -> None:
    """With the reader stalled, writes return at once; it then reads the kept lines, output_dropped{count} in the gap, and what came after."""
    filler_lines = fill(stalled_pipe.write_fd)  # a blocking write would now wait for the reader
    writer = NonBlockingLineWriter(stalled_pipe.write_fd, max_buffered_bytes=8 * 1024)
    written = [json_line({"event": "line", "n": n, "pad": "x" * 1000}) for n in range(200)]

    def write_all() -> None:
        for line in written:
            writer.write(line)

    async with asyncio.timeout(LINE_TIMEOUT):  # a writer that blocks fails here
        await asyncio.to_thread(write_all)
    assert writer.dropped > 0

    stream = await stalled_pipe.start_reading()
    async with asyncio.timeout(LINE_TIMEOUT):
        for _ in range(filler_lines):
            assert await stream.readline() == FILLER
    received: list[dict[str, object]] = []
    async with asyncio.timeout(LINE_TIMEOUT):
        while not received or received[-1]["event"] != "output_dropped":
            received.append(json.loads(await stream.readline()))
    kept = len(received) - 1
    assert received[:-1] == [json.loads(line) for line in written[:kept]]
    assert received[-1] == {"event": "output_dropped", "count": len(written) - kept}

    writer.write(json_line({"event": "after"}))
    async with asyncio.timeout(LINE_TIMEOUT):
        assert json.loads(await stream.readline()) == {"event": "after"}
    writer.close()
