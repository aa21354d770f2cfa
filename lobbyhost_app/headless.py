"""``lobbyhost --headless``: the embedded server and the host peers, no display.

Prints one JSON object per line on stdout (key ``"event"``): ``lobby_started``
(with ``forwards``, the game ports shared with ``--forward``), ``invite``
(``link``, ``address``, ``source``, ``reach``, ``note``: who the link reaches,
"only on your network" for a private address), ``request_to_join``,
``request_removed``, ``peer_connected``, ``peer_rtt``, ``chat``, ``peer_left``,
``lobby_closed``, ``error``, ``forward`` (a listener here for a port a guest
shares: ``proto``, ``port``, ``local``), ``port_mapping`` (with ``--map-port``:
the router's answer, a :class:`~.net.port_mapping.PortMappingState`), and ``output_dropped``
(``count``) after lines a stalled reader missed: printing never blocks the
event loop (:mod:`lobbyhost_app.jsonlines`). Without ``--auto-accept``
it reads decisions on stdin: ``{"accept": ID}``, ``{"reject": ID, "reason": ...}``;
also ``{"kick": ID, "reason": ...}`` and ``{"chat": TEXT, "to"?: ID}``.

Migratable lobbies (``--migratable``): ``{"snapshot": DATA}`` keeps DATA (any
JSON value) on the server as the game's state (``snapshot_saved`` with ``seq``,
``saved_at``, ``size``); ``{"load_snapshot": true}`` prints the latest as
``snapshot`` (with ``data``), as does a promotion that brings one;
``{"hand_over": ID or null}`` gives the lobby to a guest (``null``: the earliest
accepted) and ends with ``handed_over``; with the embedded server (which quits
with this process) the lobby moves to the successor's own server, which must
be able to host (``lobbyhost-guest --host-listen``). With ``--server URL`` the
lobby lives on that server instead of an embedded one, so it outlives this
process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from signalling_server import TurnSecretServer

from .errors import LobbyHostError
from .invite import host_port, local_connect_host, normalize_server_url, remote_invite_link
from .invite_address import (
    InviteAddress,
    Reach,
    discover_stun_address,
    interface_addresses,
    invite_choices,
    preferred_invite_address,
    reach_note,
    reach_of,
    router_invite_address,
    typed_invite_address,
)
from .jsonlines import emit, stdin_lines
from .net.bridge import Forward
from .net.errors import NetError
from .net.forwards import SharedPort
from .net.host import HostSession
from .net.hosting import HostingOptions, HostingService
from .net.ice import IceServer, IceSettings
from .net.port_mapping import PortMappingOptions, PortMappingState, PortMappingStatus
from .net.relocation import move_to_successor
from .session_values import (
    ChatReceived,
    HostEvent,
    JoinRequested,
    LinkState,
    LobbyEnded,
    LobbyHandedOver,
    PeerGone,
    PeerUpdated,
    RequestGone,
    SnapshotLoaded,
    SnapshotStored,
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
    #: Game ports shared with every guest (``--forward``), reached at ``forward_target``.
    forwards: tuple[SharedPort, ...] = ()
    forward_target: str = "127.0.0.1"
    #: A guest takes over when this host leaves.
    migratable: bool = False
    #: A running lobbyhost-server to host on instead of the embedded one.
    remote_url: str | None = None
    #: TURN servers whose shared secret the embedded server mints credentials from.
    turn_secrets: tuple[TurnSecretServer, ...] = ()
    #: The invite link's address: an IP or name, ``"stun"`` (the public address the
    #: first STUN server sees), or ``None`` for the preferred interface address.
    invite_address: str | None = None
    #: Ask the router to forward the server's port. Off by default: a headless
    #: host often runs on a server or in a container, where no router would
    #: answer, and changing a router is something a script should ask for.
    map_port: bool = False


@dataclass(frozen=True, slots=True)
class PublicPlay:
    """What ``--server`` and ``--turn-secret-file`` make of the ICE options."""

    ice: IceSettings
    remote_url: str | None
    turn_secrets: tuple[TurnSecretServer, ...]


def public_play_options(args: argparse.Namespace, ice: IceSettings) -> PublicPlay:
    """``--server``, ``--turn-secret-file`` and ``--invite-address`` checked together.

    With a secret, every ``turn:`` server given without credentials moves out of
    the host's own list into a :class:`TurnSecretServer` the embedded server mints
    credentials from. Raises :class:`LobbyHostError` with a sentence for a usage error.
    """
    remote_url = normalize_server_url(args.server) if args.server else None
    if remote_url is not None and args.listen is not None:
        raise LobbyHostError("--listen is for the embedded server; --server uses a remote one")
    if remote_url is not None and args.invite_address:
        raise LobbyHostError("--invite-address is for the embedded server; --server has its own")
    if args.invite_address == "stun" and not _stun_urls(ice):
        raise LobbyHostError("--invite-address stun needs a STUN server: --ice-server stun:HOST")
    if args.invite_address and args.invite_address != "stun":
        typed_invite_address(args.invite_address)  # AddressError now, not after starting
    if args.turn_secret_file is None:
        return PublicPlay(ice, remote_url, ())
    if remote_url is not None:
        raise LobbyHostError(
            "--turn-secret-file is for the embedded server; a remote server hands out "
            "its own TURN credentials"
        )
    try:
        secret = args.turn_secret_file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeError) as exc:
        raise LobbyHostError(f"cannot read the TURN secret file {args.turn_secret_file}") from exc
    if not secret:
        raise LobbyHostError(f"the TURN secret file {args.turn_secret_file} is empty")
    keep: list[IceServer] = []
    minted: list[str] = []
    for server in ice.servers:
        turn = [url for url in server.urls if url.lower().startswith(("turn:", "turns:"))]
        if turn and server.username is None and server.credential is None:
            minted += turn
        else:
            keep.append(server)
    if not minted:
        raise LobbyHostError(
            "--turn-secret-file needs a TURN server to use it with: --ice-server "
            "turn:HOST:PORT (without credentials)"
        )
    secrets = (TurnSecretServer(urls=tuple(minted), secret=secret),)
    kept = replace(ice, servers=tuple(keep))
    return PublicPlay(kept, None, secrets)


def _stun_urls(ice: IceSettings) -> list[str]:
    return [url for server in ice.servers for url in server.urls if url.lower().startswith("stun:")]


def emit_port_mapping(state: PortMappingState) -> None:
    emit("port_mapping", **state.as_fields())


class _RouterInvite:
    """``port_mapping`` lines, and an ``invite`` line with the router's address once it opened
    the port (unless ``--invite-address`` chose the address)."""

    def __init__(self, options: HeadlessOptions) -> None:
        self._wanted = options.invite_address is None and options.remote_url is None
        self._opened: PortMappingState | None = None
        self._link: tuple[int, str] | None = None  # the server's port and the code

    def on_port_mapping(self, state: PortMappingState) -> None:
        emit_port_mapping(state)
        if state.status is PortMappingStatus.OPENED and state.renewals == 0:
            self._opened = state
            self._emit()

    def announced(self, hosting: HostingService, code: str) -> None:
        if hosting.server is not None:
            self._link = (hosting.server.port, code)
            self._emit()

    def _emit(self) -> None:
        state, link = self._opened, self._link
        if not self._wanted or state is None or link is None or state.external_address is None:
            return
        address = router_invite_address(state.external_address, state.external_port, "router")
        port, code = link
        emit(
            "invite",
            link=address.link(port, code),
            address=address.host,
            source=address.source.value,
            **_reach(address.reach),
        )


class HeadlessHost:
    """Turns host events into JSON lines and stdin lines into host actions."""

    def __init__(self, session: HostSession, *, embedded_server: bool = False) -> None:
        """``embedded_server``: the lobby lives on this process's own server, so a
        hand-over moves it to the successor's server (:mod:`.net.relocation`)."""
        self.session = session
        self.embedded_server = embedded_server
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
            case SnapshotStored(seq=seq, saved_at=saved_at, size=size):
                emit("snapshot_saved", seq=seq, saved_at=saved_at, size=size)
            case SnapshotLoaded(seq=seq, saved_at=saved_at, size=size, data=data):
                emit("snapshot", seq=seq, saved_at=saved_at, size=size, data=json.loads(data))
            case LobbyHandedOver(name=name, peer_id=peer_id):
                emit("handed_over", name=name, peer_id=peer_id)
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
        elif "snapshot" in command:
            await self.session.save_snapshot(json.dumps(command["snapshot"]))
        elif "load_snapshot" in command:
            if await self.session.load_snapshot() is None:
                emit("snapshot", seq=None, data=None)
        elif "hand_over" in command:
            target = command["hand_over"]
            if self.embedded_server:
                await self._move(None if target is None else str(target))
            else:
                await self.session.hand_over(None if target is None else str(target))
        else:
            emit("error", message=f"unknown command: {sorted(command)}")

    async def _move(self, target: str | None) -> None:
        """Hand over by moving the lobby to the successor's own server (this one goes with us)."""
        roster = self.session.roster()
        if target is None and roster:
            target = roster[0][0]  # the earliest accepted
        if target is None:
            emit("error", message="no guest to hand the lobby over to")
            return
        lobby_id = self.session.lobby_id or ""
        await move_to_successor(
            self.session, target, lobby_name=f"Lobby {lobby_id}", max_guests=MOVED_MAX_GUESTS
        )


#: ``max_guests`` of a lobby moved to a successor's server (the server's default).
MOVED_MAX_GUESTS = 8


def emit_guest_forward(connection_id: str, forward: Forward) -> None:
    """A port a guest shares got a listener here: where this machine's game connects."""
    emit(
        "forward",
        proto=forward.shared.transport.value,
        port=forward.shared.port,
        local=forward.address,
        connection_id=connection_id,
    )


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
            remote_url=options.remote_url,
            ice=options.ice,
            turn_secrets=options.turn_secrets,
            auto_accept=options.auto_accept,
            forwards=options.forwards,
            forward_target=options.forward_target,
            port_mapping=PortMappingOptions() if options.map_port else None,
        )
    )
    router = _RouterInvite(options)
    hosting.add_port_mapping_listener(router.on_port_mapping)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await hosting.start()
        host = HeadlessHost(hosting.session, embedded_server=options.remote_url is None)
        opened = await hosting.open_lobby(
            lobby_id=options.code, display_name=options.name, migratable=options.migratable
        )
        await _announce(hosting, options, opened.lobby_id)
        router.announced(hosting, opened.lobby_id)
        hosting.game_ports.add_forward_listener(emit_guest_forward)
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


async def _announce(hosting: HostingService, options: HeadlessOptions, code: str) -> None:
    """``lobby_started``, then ``invite``: the link to share, its address and who it reaches."""
    server = hosting.server
    if server is None:  # a remote server: its address is the link's
        url = hosting.client_url or ""
        parts = urlsplit(url)
        web = "https" if parts.scheme == "wss" else "http"
        emit(
            "lobby_started",
            lobby_id=code,
            url=url,
            port=parts.port,
            healthz=f"{web}://{parts.netloc}{parts.path.rstrip('/')}/healthz",
            forwards=[str(port) for port in options.forwards],
        )
        host = parts.hostname or ""
        link = remote_invite_link(url, code)
        emit("invite", link=link, address=host, source="server", **_reach(reach_of(host)))
        return
    here = host_port(local_connect_host(options.listen_host), server.port)
    emit(
        "lobby_started",
        lobby_id=code,
        url=server.url,
        port=server.port,
        healthz=f"http://{here}/healthz",
        forwards=[str(port) for port in options.forwards],
    )
    address = await _invite_address(options)
    emit(
        "invite",
        link=address.link(server.port, code),
        address=address.host,
        source=address.source.value,
        **_reach(address.reach),
    )


def _reach(reach: Reach) -> dict[str, str]:
    return {"reach": reach.value, "note": reach_note(reach)}


async def _invite_address(options: HeadlessOptions) -> InviteAddress:
    """The address the options ask for; a STUN server that is silent falls back, said on stderr."""
    fallback = preferred_invite_address(invite_choices(options.listen_host, interface_addresses()))
    if options.invite_address is None:
        return fallback
    if options.invite_address != "stun":
        return typed_invite_address(options.invite_address)
    stun_url = _stun_urls(options.ice)[0]
    try:
        return await discover_stun_address(stun_url)
    except NetError as exc:
        emit(
            "error",
            message=f"no public address from {stun_url}: {exc}; the link uses {fallback.host}",
        )
        return fallback
