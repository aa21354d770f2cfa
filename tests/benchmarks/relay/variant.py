"""``python -m tests.benchmarks.relay.variant [--backlog N] [--generic-frames] -- ARGS``.

Our server as shipped, but for one setting the benchmark compares in the same
run: the listen backlog (the reconnect storm: 1024 against asyncio's 100), or
every frame through websockets' generic parser (the fast frame path off, as the
server was before it). The server itself has neither option.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from websockets.server import ServerProtocol

from signalling_server.cli import main
from signalling_server.transport import connection, listener
from signalling_server.transport.websocket import WebsocketSession


class GenericFramesSession(WebsocketSession):
    """A session whose every frame goes through websockets' parser."""

    __slots__ = ()

    def __init__(
        self, transport: asyncio.Transport, protocol: ServerProtocol, *args: Any, **kwargs: Any
    ) -> None:
        super().__init__(transport, protocol, *args, **kwargs, fast_frames=False)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.relay.variant")
    parser.add_argument("--backlog", type=int, help="listen backlog instead of ours")
    parser.add_argument("--generic-frames", action="store_true", help="no fast frame path")
    parser.add_argument("server_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.backlog is not None:
        listener.BACKLOG = args.backlog  # read when the listener opens its socket
    if args.generic_frames:
        # The name connection.py builds each session with.
        vars(connection)["WebsocketSession"] = GenericFramesSession
    server_args = args.server_args[1:] if args.server_args[:1] == ["--"] else args.server_args
    raise SystemExit(main(server_args))
