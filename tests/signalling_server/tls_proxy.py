"""A TLS-terminating reverse proxy for tests, as nginx or Caddy would sit in front of the server.

It accepts TLS on 127.0.0.1, adds ``X-Forwarded-For: <client address>`` to the
request head (``proxy_set_header X-Forwarded-For $remote_addr``), opens a plain
TCP connection to the server and then copies bytes both ways (websocket
frames included) until either side closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator

_HEAD_END = b"\r\n\r\n"
_MAX_HEAD = 64 * 1024


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            writer.close()


async def _serve_one(
    client_reader: asyncio.StreamReader,
    client_writer: asyncio.StreamWriter,
    upstream: tuple[str, int],
) -> None:
    client_address = client_writer.get_extra_info("peername")[0]
    try:
        head = await client_reader.readuntil(_HEAD_END)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        client_writer.close()
        return
    request_line, _, rest = head.partition(b"\r\n")
    forwarded = f"X-Forwarded-For: {client_address}\r\n".encode()
    head = request_line + b"\r\n" + forwarded + rest
    server_reader, server_writer = await asyncio.open_connection(*upstream)
    server_writer.write(head)
    await asyncio.gather(_pipe(client_reader, server_writer), _pipe(server_reader, client_writer))


@contextlib.asynccontextmanager
async def tls_proxy(context: ssl.SSLContext, upstream: tuple[str, int]) -> AsyncIterator[int]:
    """The proxy on 127.0.0.1 (its port is yielded) in front of ``upstream``."""
    tasks: set[asyncio.Task[None]] = set()

    def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(_serve_one(reader, writer, upstream))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    server = await asyncio.start_server(accepted, "127.0.0.1", 0, ssl=context, limit=_MAX_HEAD)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()
