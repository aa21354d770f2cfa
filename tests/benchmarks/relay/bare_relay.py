"""The bare relay: what a Python developer would naturally write, to compare with."""

# json.loads every frame, route by connection id in a dict, json.dumps the event,
# await the target's send(). No validation, no limits, no authorisation. /healthz
# (a connection count) exists only so the benchmark can confirm how many
# connections it holds.

from __future__ import annotations

import asyncio
import json
import random
import secrets
import signal
from http import HTTPStatus

from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response
from websockets.version import version as WEBSOCKETS_VERSION

from .addresses import loopback


async def bare_relay(host: str, port: int) -> None:
    """Serve the bare relay on ``host``:``port`` until SIGINT or SIGTERM."""
    connections: dict[str, ServerConnection] = {}
    lobbies: dict[str, str] = {}
    next_peer_id: dict[str, int] = {}

    async def handler(ws: ServerConnection) -> None:
        connection_id = secrets.token_urlsafe(12)
        connections[connection_id] = ws
        lobby_id = ""
        try:
            async for raw in ws:
                message = json.loads(raw)
                action = message["action"]
                content = message.get("content", {})
                if action == "start_lobby":
                    lobby_id = "".join(random.choices("0123456789ABCDEFGHJKMNPQRSTVWXYZ", k=6))
                    lobbies[lobby_id] = connection_id
                    next_peer_id[lobby_id] = 2
                    reply = {
                        "lobby_id": lobby_id,
                        "connection_id": connection_id,
                        "peer_id": 1,
                        "ice_servers": [],
                    }
                    await ws.send(json.dumps({"event": "lobby_started", "content": reply}))
                elif action == "join_lobby":
                    lobby_id = content["lobby_id"]
                    host_ws = connections[lobbies[lobby_id]]
                    request = {"connection_id": connection_id, "name": content.get("name")}
                    await host_ws.send(json.dumps({"event": "request_to_join", "content": request}))
                    joined = {"lobby_id": lobby_id, "name": lobby_id}
                    await ws.send(json.dumps({"event": "join_requested", "content": joined}))
                elif action == "accept_request":
                    guest_id = content["connection_id"]
                    peer_id = next_peer_id[lobby_id]
                    next_peer_id[lobby_id] += 1
                    accepted = {
                        "lobby_id": lobby_id,
                        "host_connection_id": connection_id,
                        "connection_id": guest_id,
                        "peer_id": peer_id,
                        "ice_servers": [],
                    }
                    await connections[guest_id].send(
                        json.dumps({"event": "request_accepted", "content": accepted})
                    )
                    guest = {"connection_id": guest_id, "peer_id": peer_id}
                    await ws.send(json.dumps({"event": "guest_accepted", "content": guest}))
                elif action == "send_ice_candidate":
                    target = connections[content["connection_id"]]
                    relayed = {"connection_id": connection_id, "candidate": content["candidate"]}
                    await target.send(
                        json.dumps({"event": "received_ice_candidate", "content": relayed})
                    )
        finally:
            del connections[connection_id]

    def process_request(connection: ServerConnection, request: Request) -> Response | None:
        if request.path == "/healthz":
            body = json.dumps({"status": "ok", "connections": len(connections)})
            return connection.respond(HTTPStatus.OK, body + "\n")
        return None

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with serve(handler, loopback(host), port, process_request=process_request) as server:
        bound = next(iter(server.sockets)).getsockname()[1]
        print(f"bare-relay {WEBSOCKETS_VERSION} listening on ws://{host}:{bound}/", flush=True)
        await stop.wait()
