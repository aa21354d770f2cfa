"""Several nodes sharing one real Redis, in this process, and clients spread across them."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator
from typing import Any

from signalling_server import Limits, ServerConfig, SignallingServer, Timeouts, serve
from tests.signalling_server.wsclient import WsClient
from tests.timeouts import scaled


def cluster_config(redis_url: str, **timers: float) -> ServerConfig:
    """A loopback node on port 0 of the cluster on ``redis_url``, with quick heartbeats."""
    timers.setdefault("node_heartbeat", scaled(0.1))
    timers.setdefault("node_timeout", scaled(0.5))
    return ServerConfig(
        host="127.0.0.1",
        port=0,
        redis=redis_url,
        limits=Limits(password_hash_iterations=1),
        timeouts=Timeouts(close_timeout=scaled(2.0), **timers),
    )


class ClusterLab:
    """Running nodes and the clients a test opened on them (each from its own address)."""

    def __init__(self, nodes: list[SignallingServer]) -> None:
        self.nodes = nodes
        self.clients: list[WsClient] = []
        self._addresses = itertools.count(10)

    async def client(self, node: int) -> WsClient:
        """A new connection to node ``node``, from a loopback address no one else used."""
        client = await WsClient.open(self.nodes[node].url, f"127.0.0.{next(self._addresses)}")
        self.clients.append(client)
        return client

    async def host(self, node: int, **content: Any) -> tuple[WsClient, dict[str, Any]]:
        """A client of node ``node`` that started a lobby: ``(host, lobby_started content)``."""
        host = await self.client(node)
        await host.act("start_lobby", **content)
        started = await host.expect("lobby_started")
        host.id = started["connection_id"]
        return host, started

    async def joiner(self, node: int, host: WsClient, lobby_id: str, name: str) -> WsClient:
        """A client of node ``node`` whose join request the host has seen."""
        joiner = await self.client(node)
        await joiner.act("join_lobby", lobby_id=lobby_id, name=name)
        await joiner.expect("join_requested")
        request = await host.expect("request_to_join")
        assert request["name"] == name, request
        joiner.id = request["connection_id"]
        return joiner

    async def guest(
        self, node: int, host: WsClient, lobby_id: str, name: str
    ) -> tuple[WsClient, dict[str, Any]]:
        """An accepted guest on node ``node``: ``(guest, request_accepted content)``."""
        guest = await self.joiner(node, host, lobby_id, name)
        await host.act("accept_request", connection_id=guest.id)
        accepted = await guest.expect("request_accepted")
        await host.expect("guest_accepted")
        return guest, accepted

    async def close_clients(self) -> None:
        for client in self.clients:
            await client.close()


@contextlib.asynccontextmanager
async def open_cluster(redis_url: str, count: int, **timers: float) -> AsyncIterator[ClusterLab]:
    """``count`` nodes on one Redis for the block; clients closed, nodes stopped at the end."""
    async with contextlib.AsyncExitStack() as stack:
        nodes = [
            await stack.enter_async_context(serve(cluster_config(redis_url, **timers)))
            for _ in range(count)
        ]
        lab = ClusterLab(nodes)
        try:
            yield lab
        finally:
            await lab.close_clients()
