"""The worker side of the reconnect storm: hosts that drop together and resume at once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import WebSocketException

from .addresses import source_address
from .errors import BenchmarkError
from .flow import Compression, open_client


async def _next_event(ws: ClientConnection, event: str) -> dict[str, Any]:
    while True:
        message = json.loads(await ws.recv())
        if message.get("event") == event:
            content: dict[str, Any] = message["content"]
            return content
        if message.get("event") == "error":
            raise BenchmarkError(f"expected {event}, got {message}")


class StormClients:
    """One worker's share of the storm: each client a host with its lobby and token."""

    def __init__(self, worker: int, compression: Compression) -> None:
        self.worker = worker
        self.compression: Compression = compression
        self.open: list[ClientConnection] = []
        self.tokens: list[str] = []

    async def prepare(self, url: str, count: int) -> dict[str, Any]:
        """Open ``count`` hosts, each with a lobby of its own, and keep their tokens."""
        limit = asyncio.Semaphore(32)

        async def one(index: int) -> tuple[ClientConnection, str]:
            async with limit:
                ws = await open_client(url, source_address(self.worker, index), self.compression)
                start = {"name": f"Storm {index}", "display_name": "Host"}
                await ws.send(json.dumps({"action": "start_lobby", "content": start}))
                started = await _next_event(ws, "lobby_started")
                return ws, started["host_token"]

        async with asyncio.timeout(240):
            hosts = await asyncio.gather(*(one(i) for i in range(count)))
        self.open = [ws for ws, _ in hosts]
        self.tokens = [token for _, token in hosts]
        return {"hosts": len(hosts)}

    async def drop(self) -> dict[str, Any]:
        """Every connection drops at once, as when the network blinks."""
        for ws in self.open:
            ws.transport.abort()
        self.open = []
        await asyncio.sleep(0)
        return {"dropped": len(self.tokens)}

    async def resume(self, url: str, start_at: float) -> dict[str, Any]:
        """At ``start_at`` every host reconnects and resumes; when each got ``resumed``."""
        failures: Counter[str] = Counter()
        resumed_after: list[float] = []

        async def one(index: int, token: str) -> None:
            address = source_address(self.worker, index)
            while True:
                try:
                    ws = await open_client(url, address, self.compression)
                except (OSError, TimeoutError, WebSocketException) as exc:
                    failures[type(exc).__name__] += 1
                    await asyncio.sleep(0.05)
                    continue
                self.open.append(ws)
                await ws.send(json.dumps({"action": "resume", "content": {"token": token}}))
                await _next_event(ws, "resumed")
                resumed_after.append(time.monotonic() - start_at)
                return

        await asyncio.sleep(max(0.0, start_at - time.monotonic()))
        async with asyncio.timeout(120):
            await asyncio.gather(*(one(i, t) for i, t in enumerate(self.tokens)))
        return {"resumed_after": resumed_after, "failures": dict(failures)}

    async def close(self) -> None:
        """Drop whatever is still open."""
        for ws in self.open:
            with contextlib.suppress(Exception):
                ws.transport.abort()
        self.open = []
        self.tokens = []
