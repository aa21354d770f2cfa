"""The orchestrator's side of the load-generator processes: start, command, stop."""

from __future__ import annotations

import contextlib
import multiprocessing
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection as Pipe
from typing import Any

from .errors import BenchmarkError
from .flow import Compression, Generator
from .load_worker import worker_main
from .process_resources import cpu_seconds
from .servers import ServerProcess


class Workers:
    """The load-generator processes and their pipes."""

    def __init__(
        self,
        count: int,
        compression: Compression,
        generator: Generator,
        main: Callable[[Pipe, int, Compression, Generator], None] = worker_main,
    ) -> None:
        context = multiprocessing.get_context("spawn")
        self.generator: Generator = generator
        self.pipes: list[Pipe] = []
        self.processes: list[Any] = []
        for index in range(count):
            parent, child = context.Pipe()
            process = context.Process(
                target=main,
                args=(child, index, compression, generator),
                name=f"relay-bench-{generator}-worker-{index}",
                daemon=True,
            )
            process.start()
            child.close()
            self.pipes.append(parent)
            self.processes.append(process)

    def __len__(self) -> int:
        return len(self.pipes)

    def send(self, command: str, args: Sequence[dict[str, Any]]) -> None:
        """Send one command to every worker, each with its own arguments."""
        for pipe, arg in zip(self.pipes, args, strict=True):
            pipe.send((command, arg))

    def collect(self, command: str, seconds: float) -> list[dict[str, Any]]:
        """Every worker's reply to ``command``; raises on an error or a timeout."""
        deadline = time.monotonic() + seconds
        replies = []
        for index, pipe in enumerate(self.pipes):
            if not pipe.poll(max(0.0, deadline - time.monotonic())):
                raise BenchmarkError(f"worker {index} did not answer {command} in {seconds:.0f} s")
            reply: dict[str, Any] = pipe.recv()
            if "error" in reply:
                raise BenchmarkError(reply["error"])
            replies.append(reply)
        return replies

    def call(
        self, command: str, args: Sequence[dict[str, Any]], seconds: float
    ) -> list[dict[str, Any]]:
        """``send`` then ``collect``."""
        self.send(command, args)
        return self.collect(command, seconds)

    def cpu_seconds(self) -> float:
        """CPU time used so far by all the workers."""
        return sum(cpu_seconds(process.pid) for process in self.processes)

    def own_pids(self) -> list[int]:
        """Every process of the benchmark but this one: workers and servers."""
        return [process.pid for process in self.processes] + sorted(ServerProcess.running)

    def close(self) -> None:
        """Ask every worker to exit; terminate those that do not."""
        for pipe in self.pipes:
            with contextlib.suppress(OSError):
                pipe.send(("exit", {}))
        for process in self.processes:
            process.join(timeout=15)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
