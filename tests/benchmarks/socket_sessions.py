"""Websocket sessions on socket pairs in one process, and variants measured in turn.

For the benchmarks that time the server's path without a network or a load
generator (``transport_writes``, ``relay_path``): each session sits on one end
of a socket pair, already open, sharing one write coalescer as a listener's
sessions do; the other ends are where its frames arrive.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from websockets.protocol import State
from websockets.server import ServerProtocol

from signalling_server.codecs import Codec
from signalling_server.config import ServerConfig
from signalling_server.event_loop import LoopChoice, LoopFactory, loop_factory
from signalling_server.transport.coalescing import WriteCoalescer
from signalling_server.transport.websocket import ConnectionSink, WebsocketSession


@dataclass
class Pair:
    """A session and the far end of its socket (non-blocking)."""

    session: WebsocketSession
    far_end: socket.socket

    def drain(self) -> bytes:
        """Everything the session has written so far."""
        data = b""
        try:
            while chunk := self.far_end.recv(1 << 20):
                data += chunk
        except BlockingIOError:
            pass
        return data


@asynccontextmanager
async def socket_sessions(
    sink: ConnectionSink,
    config: ServerConfig,
    codec: Codec | None,
    count: int,
    session_type: type[WebsocketSession] = WebsocketSession,
) -> AsyncIterator[list[Pair]]:
    """``count`` open sessions attached to ``sink`` (client addresses 127.0.0.1, .2 ...)."""
    loop = asyncio.get_running_loop()
    coalescer = WriteCoalescer()  # shared, as a listener's sessions share one
    sockets = [socket.socketpair() for _ in range(count)]
    pairs: list[Pair] = []
    try:
        for index, (ours, theirs) in enumerate(sockets):
            ours.setblocking(False)
            theirs.setblocking(False)
            transport, _ = await loop.create_connection(asyncio.Protocol, sock=ours)
            session = session_type(
                transport, ServerProtocol(state=State.OPEN), sink, config, coalescer=coalescer
            )
            session.open(f"127.0.0.{index + 1}", codec)  # type: ignore[arg-type]
            pairs.append(Pair(session, theirs))
        yield pairs
    finally:
        for pair in pairs:
            pair.session.abort()
            pair.session.connection_lost()
        for ours, theirs in sockets:
            ours.close()
            theirs.close()


def interleaved(
    reps: int,
    factory: LoopFactory,
    baseline: Callable[[], Coroutine[Any, Any, float]],
    variant: Callable[[], Coroutine[Any, Any, float]],
) -> tuple[float, float, float]:
    """Both measured ``reps`` times, alternating which goes first, each on a fresh loop.

    Returns the medians of the baseline and the variant, and of their paired ratios.
    """
    base: list[float] = []
    other: list[float] = []
    for rep in range(reps):
        order = [(baseline, base), (variant, other)]
        for measure, samples in order if rep % 2 == 0 else reversed(order):
            with asyncio.Runner(loop_factory=factory) as runner:
                samples.append(runner.run(measure()))
    ratios = [o / b for b, o in zip(base, other, strict=True)]
    return statistics.median(base), statistics.median(other), statistics.median(ratios)


def loop_and_reps(prog: str, default_loop: str, frames: int) -> tuple[LoopFactory, int]:
    """The command line of these benchmarks (``--loop``, ``--reps``); prints what was chosen."""
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default=default_loop)
    parser.add_argument("--reps", type=int, default=9, help="repetitions per variant (9)")
    args = parser.parse_args()
    name, factory = loop_factory(LoopChoice(args.loop))
    print(f"loop: {name}; {args.reps} interleaved repetitions of {frames} frames")
    return factory, args.reps
