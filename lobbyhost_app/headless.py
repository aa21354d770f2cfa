"""``lobbyhost --headless``: the embedded server and the host peers, no display.

Prints one JSON object per line on stdout (key ``"event"``): ``lobby_started``,
``request_to_join``, ``request_removed``, ``peer_connected``, ``peer_rtt``,
``chat``, ``peer_left``, ``lobby_closed``, ``error``, ``port_mapping`` (with
``--map-port``: the router's answer, a :class:`~.net.port_mapping.PortMappingState`),
and ``output_dropped`` (``count``) after lines a stalled reader missed: printing
never blocks the event loop (:mod:`lobbyhost_app.jsonlines`). Without ``--auto-accept``
it reads decisions on stdin: ``{"accept": ID}``, ``{"reject": ID, "reason": ...}``;
also ``{"kick": ID, "reason": ...}`` and ``{"chat": TEXT, "to"?: ID}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
from dataclasses import dataclass, field
from typing import Any

from .errors import LobbyHostError
from .invite import host_port, local_connect_host
from .jsonlines import emit, stdin_lines
from .net.host import HostSession
from .net.hosting import HostingOptions, HostingService
from .net.ice import IceSettings
from .net.port_mapping import PortMappingOptions, PortMappingState
from .session_values import (
    ChatReceived,
    HostEvent,
    JoinRequested,
    LinkState,
    LobbyEnded,
    PeerGone,
    PeerUpdated,
    RequestGone,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class HeadlessOptions:
    listen_host: str = "0.0.0.0"
    listen_port: int = 8765
    code: str | None = None
    auto_accept: bool = False
    name: str = "Host"
    ice: IceSettings = field(default_factory=IceSettings)
    #: Ask the router to forward the server's port. Off by default: a headless
    #: host often runs on a server or in a container, where no router would
    #: answer, and changing a router is something a script should ask for.
    map_port: bool = False


def emit_port_mapping(state: PortMappingState) -> None:
    emit("port_mapping", **state.as_fields())


class HeadlessHost:
    """Turns host events into JSON lines and stdin lines into host actions."""

    def __init__(self, session: HostSession) -> None:
        self.session = session
        self._connected: set[str] = set()
        self.ended = asyncio.Event()
        session.add_listener(self.on_event)

    def on_event(self, event: HostEvent) -> None:
        match event:
            case JoinRequested(connection_id=connection_id, name=name):
                emit("request_to_join", connection_id=connection_id, name=name)
            case RequestGone(connection_id=connection_id, reason=reason) if reason != "accepted":
                emit("request_removed", connection_id=connection_id, reason=reason)
            case PeerUpdated():
                self._peer_updated(event)
            case PeerGone(connection_id=connection_id, name=name, reason=reason):
                self._connected.discard(connection_id)
                emit("peer_left", connection_id=connection_id, name=name, reason=reason)
            case ChatReceived(connection_id=connection_id, name=name, text=text):
                emit("chat", connection_id=connection_id, name=name, text=text)
            case LobbyEnded(reason=reason):
                emit("lobby_closed", reason=reason)
                self.ended.set()
            case _:
                pass

    def _peer_updated(self, event: PeerUpdated) -> None:
        stats = event.stats
        if stats.state is LinkState.CONNECTED and event.connection_id not in self._connected:
            self._connected.add(event.connection_id)
            emit(
                "peer_connected",
                connection_id=event.connection_id,
                name=event.name,
                peer_id=event.peer_id,
                route=stats.route,
            )
        if stats.rtt_ms is not None:
            emit(
                "peer_rtt",
                connection_id=event.connection_id,
                rtt_ms=round(stats.rtt_ms, 2),
                bytes_in=stats.bytes_in,
                bytes_out=stats.bytes_out,
            )

    async def run_commands(self) -> None:
        """Apply decisions read from stdin until EOF."""
        async for line in stdin_lines():
            try:
                await self.apply(json.loads(line))
            except (ValueError, TypeError, AttributeError):
                emit("error", message=f"not a command: {line[:200]}")
            except LobbyHostError as exc:
                emit("error", message=str(exc))

    async def apply(self, command: dict[str, Any]) -> None:
        if "accept" in command:
            await self.session.accept(str(command["accept"]))
        elif "reject" in command:
            await self.session.reject(str(command["reject"]), _message(command))
        elif "kick" in command:
            await self.session.kick(str(command["kick"]), _message(command))
        elif "chat" in command:
            self.session.send_chat(str(command["chat"]), command.get("to"))
        else:
            emit("error", message=f"unknown command: {sorted(command)}")


def _message(command: dict[str, Any]) -> str | None:
    """The host's words for the guest (``"reason"`` on stdin, for the commands' sake)."""
    reason = command.get("reason")
    return str(reason) if reason else None


async def run_headless(options: HeadlessOptions) -> int:
    """Serve and host until SIGINT/SIGTERM or stdin's end (with --auto-accept, until a signal)."""
    hosting = HostingService(
        HostingOptions(
            listen_host=options.listen_host,
            listen_port=options.listen_port,
            ice=options.ice,
            auto_accept=options.auto_accept,
            port_mapping=PortMappingOptions() if options.map_port else None,
        )
    )
    hosting.add_port_mapping_listener(emit_port_mapping)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await hosting.start()
        host = HeadlessHost(hosting.session)
        opened = await hosting.open_lobby(lobby_id=options.code, display_name=options.name)
        server = hosting.server
        assert server is not None  # embedded: the headless host has no remote server
        here = host_port(local_connect_host(options.listen_host), server.port)
        emit(
            "lobby_started",
            lobby_id=opened.lobby_id,
            url=server.url,
            port=server.port,
            healthz=f"http://{here}/healthz",
        )
        commands = None if options.auto_accept else asyncio.create_task(host.run_commands())
        waiters: list[asyncio.Task[Any]] = [
            asyncio.create_task(stop.wait()),
            asyncio.create_task(host.ended.wait()),
        ]
        if commands is not None:
            waiters.append(commands)
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for task in waiters:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*waiters, return_exceptions=True)
    except LobbyHostError as exc:
        emit("error", message=str(exc))
        return 1
    finally:
        await hosting.stop()
    return 0
