"""``lobbyhost-guest URL CODE --name NAME``: join a lobby from a terminal.

``lobbyhost-guest http://HOST:PORT/join/CODE --name NAME`` (the invite link
alone) works too: the code comes from the link.

Prints events as JSON lines: ``status`` with ``phase``, ``detail`` (the host's
own words, a lobby name or an error sentence) and, when the server said why the
session ended, ``reason`` (with ``unreachable``, also ``message``: "The host
could not reach you: ..." and what to try); ``rtt``; ``chat`` (with ``from`` and
``peer_id`` when another guest said it); ``members``; ``forward`` for each local
listener opened for a game port the host shares (``proto``, ``port``: the host's,
``local``: ``127.0.0.1:N``, the address to give the game) and ``forward_closed``
when the host stops sharing it. Sends each stdin line as chat; a stdin with
nothing behind it (closed, ``/dev/null``) just means no chat to send.
Exits when the session ends: 0 after leaving or the host closing the lobby,
1 when rejected, kicked or failed; 2 for arguments it cannot use. SIGINT and
SIGTERM leave the lobby (or withdraw the request) first, even mid-join.

In a migratable lobby, ``host_changed`` (``name``, ``peer_id``) says the lobby
has a new host, which this guest reconnects to on its own. When this guest is
the one promoted (``status`` ``promoted``), it hosts the lobby from then on,
as ``lobbyhost --headless`` does: its events and stdin commands (a line that is
a JSON object is a command, any other line is chat to every guest), until a
signal or the lobby's end. It prints ``hosting`` (``lobby_id``, ``forwards``)
and then shares with every guest the ports it shared as a guest (``--share``)
and those it keeps for hosting (``--forward``); the snapshot that came with the
lobby is printed as ``snapshot``, and ``{"snapshot": DATA}`` on stdin saves one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Mapping, Sequence
from urllib.parse import unquote

from signalling_server.protocol import KickReason, Promoted

from .cli import parse_listen
from .errors import LobbyHostError
from .headless import HeadlessHost, emit_guest_forward
from .invite import AddressError, parse_join_target
from .jsonlines import emit, stdin_lines
from .net.bridge import Forward
from .net.forwards import (
    ForwardSpecError,
    SharedPort,
    parse_local_port,
    parse_shared_port,
    unique_ports,
)
from .net.game_ports import GuestGamePorts, HostGamePorts
from .net.guest import GuestSession
from .net.host import HostSession
from .net.hosting import HostingOptions, HostingService
from .net.ice import IceServer, IceSettings, install_address_allow_list
from .net.migration import take_over
from .net.relocation import host_moved_lobby
from .net.relocation_messages import HostRequest
from .net.route_preference import DEFAULT_RELAY_DELAY_S
from .net.signalling import SignallingClient
from .session_values import (
    GuestChat,
    GuestEvent,
    GuestPhase,
    GuestRtt,
    GuestStatus,
    HostChanged,
    MemberChat,
    MembersChanged,
)

_GOOD_ENDINGS = {
    GuestPhase.LEFT,
    GuestPhase.LOBBY_CLOSED,
    GuestPhase.HOST_LEFT,
    GuestPhase.PROMOTED,
}


def _print_event(event: GuestEvent) -> None:
    match event:
        case GuestStatus(phase=phase, detail=detail, reason=KickReason.UNREACHABLE):
            said = f"The host could not reach you: {detail}."
            emit(
                "status",
                phase=phase.value,
                detail=detail,
                reason=KickReason.UNREACHABLE,
                message=said,
            )
        case GuestStatus(phase=phase, detail=detail, reason=None):
            emit("status", phase=phase.value, detail=detail)
        case GuestStatus(phase=phase, detail=detail, reason=reason):
            emit("status", phase=phase.value, detail=detail, reason=reason)
        case GuestRtt(rtt_ms=rtt_ms):
            emit("rtt", rtt_ms=round(rtt_ms, 2))
        case GuestChat(text=text):
            emit("chat", text=text)
        case MemberChat(name=name, peer_id=peer_id, text=text):
            emit("chat", text=text, peer_id=peer_id, **{"from": name})
        case MembersChanged(members=members):
            listed = [{"name": m.name, "peer_id": m.peer_id, "host": m.host} for m in members]
            emit("members", members=listed)
        case HostChanged(name=name, peer_id=peer_id):
            emit("host_changed", name=name, peer_id=peer_id)


def join_target(url: str, code: str | None) -> tuple[str, str]:
    """The server URL and code from the arguments: a code given apart wins over the link's."""
    target = parse_join_target(url)
    code = (code or "").strip() or target.code
    if not code:
        raise AddressError(f"No join code: give it after {url!r}, or pass the whole invite link.")
    return target.server_url, code


def _forward_opened(forward: Forward) -> None:
    emit(
        "forward",
        proto=forward.shared.transport.value,
        port=forward.shared.port,
        local=forward.address,
        label=forward.shared.label,
    )


def _forward_closed(forward: Forward) -> None:
    emit("forward_closed", proto=forward.shared.transport.value, port=forward.shared.port)


async def run_guest(
    url: str,
    code: str,
    name: str,
    password: str | None,
    ice: IceSettings,
    host_listen: tuple[str, int] | None = None,
    *,
    local_ports: Mapping[int, int] | None = None,
    shared: Sequence[SharedPort] = (),
    forwards: Sequence[SharedPort] = (),
) -> int:
    """Join, print events, send stdin as chat; host on if promoted. The exit code."""
    # A promoted guest keeps its listen servers reachable (now straight from it) and
    # adds the ports its game serves only while it hosts.
    hosted_ports = unique_ports((*shared, *forwards))
    # Signals are taken from the start: a service stopped while joining still leaves cleanly.
    loop = asyncio.get_running_loop()
    leave = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, leave.set)
    signalling = SignallingClient(url)
    hosting: list[HeadlessHost] = []
    #: The embedded server of a lobby moved here, and when it is up.
    services: list[HostingService] = []
    hosted = asyncio.Event()
    try:
        await signalling.connect()
        session = GuestSession(signalling, ice)
        session.add_listener(_print_event)
        ports = GuestGamePorts(session, local_ports=local_ports, shared=shared)
        ports.add_forward_listener(_forward_opened, _forward_closed)

        def host_with_ports(host: HostSession) -> None:
            hosting.append(HeadlessHost(host))
            HostGamePorts(host, hosted_ports).add_forward_listener(emit_guest_forward)

        def promoted(event: Promoted) -> None:
            _print_hosting(event.lobby_id, hosted_ports)
            take_over(session, event, attach=host_with_ports)

        session.on_promoted = promoted
        moves: list[asyncio.Task[None]] = []
        if host_listen is not None:
            listen_host, listen_port = host_listen
            options = HostingOptions(
                listen_host=listen_host, listen_port=listen_port, ice=ice, forwards=hosted_ports
            )

            async def host_here(request: HostRequest) -> None:
                try:
                    service = await host_moved_lobby(session, request, options)
                except LobbyHostError as exc:
                    emit("error", message=f"could not take the lobby over: {exc}")
                    return
                services.append(service)
                hosting.append(HeadlessHost(service.session, embedded_server=True))
                service.game_ports.add_forward_listener(emit_guest_forward)
                _print_hosting(request.lobby_id, hosted_ports)
                if request.snapshot is not None:
                    # Stored on this server as the lobby opened here: the game hears it now.
                    try:
                        await service.session.load_snapshot()
                    except LobbyHostError as exc:
                        emit("error", message=f"could not read the lobby's snapshot: {exc}")
                hosted.set()

            session.on_host_request = lambda request: moves.append(
                asyncio.create_task(host_here(request))
            )
        await session.join(code, name, password)
    except LobbyHostError as exc:
        emit("error", message=str(exc))
        await signalling.close()
        return 1

    async def chat_from_stdin() -> None:
        async for line in stdin_lines():
            if hosting:
                await _host_command(hosting[0], line)
            else:
                session.send_chat(line)

    tasks = [
        asyncio.create_task(chat_from_stdin()),
        asyncio.create_task(leave.wait()),
        asyncio.create_task(session.wait_ended()),
    ]
    await asyncio.wait(tasks[1:], return_when=asyncio.FIRST_COMPLETED)
    if session.status.phase is GuestPhase.PROMOTED and not hosting:
        # Taking the lobby to this process's own server: wait until it is open there.
        waiting = asyncio.create_task(hosted.wait())
        await asyncio.wait([tasks[1], waiting], return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
    if hosting and not leave.is_set():
        # Promoted: host on until a signal or the lobby's end.
        tasks.append(asyncio.create_task(hosting[0].ended.wait()))
        await asyncio.wait([tasks[1], tasks[-1]], return_when=asyncio.FIRST_COMPLETED)
    for task in tasks:
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.gather(*tasks, return_exceptions=True)
    if services:
        await services[0].stop()
    elif hosting:
        await hosting[0].session.close()
    elif leave.is_set():
        await session.leave()
    else:
        await signalling.close()
    return 0 if session.status.phase in _GOOD_ENDINGS else 1


def _print_hosting(lobby_id: str, ports: Sequence[SharedPort]) -> None:
    emit("hosting", lobby_id=lobby_id, forwards=[str(port) for port in ports])


async def _host_command(host: HeadlessHost, line: str) -> None:
    """A promoted guest's stdin line: a JSON object is a host command, anything else chat."""
    try:
        command = json.loads(line)
    except ValueError:
        command = None
    if not isinstance(command, dict):
        host.session.send_chat(line)
        return
    try:
        await host.apply(command)
    except (ValueError, TypeError, AttributeError):
        emit("error", message=f"not a command: {line[:200]}")
    except LobbyHostError as exc:
        emit("error", message=str(exc))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lobbyhost-guest", description="Join a LobbyHost lobby.")
    parser.add_argument(
        "url",
        help="the signalling server (ws://192.168.1.20:8765/), or the whole invite link "
        "(http://192.168.1.20:8765/join/K7QX2M)",
    )
    parser.add_argument("code", nargs="?", help="the lobby's join code (unless in the link)")
    parser.add_argument("--name", default="Guest", help="your name in the lobby")
    parser.add_argument("--password", help="the lobby's password, if it has one")
    parser.add_argument(
        "--host-listen",
        type=parse_listen,
        metavar="HOST:PORT",
        help="if the host hands the lobby over to you, host it on your own server listening "
        "here (0.0.0.0:8765 for a LAN); without it such a request is declined",
    )
    add_ice_arguments(parser)
    parser.add_argument(
        "--forward-port",
        action="append",
        default=[],
        type=local_port_spec,
        metavar="HOSTPORT=LOCALPORT",
        help="listen on LOCALPORT for the host's shared port HOSTPORT (default: the same "
        "port, or another free one if it is taken; repeatable)",
    )
    parser.add_argument(
        "--share",
        action="append",
        default=[],
        type=shared_port_spec,
        metavar="PORT/PROTO[=LABEL]",
        help="share a game port of this machine with the host (a listen server; repeatable); "
        "if this guest is made the host, it shares the port with every guest",
    )
    parser.add_argument(
        "--forward",
        action="append",
        default=[],
        type=shared_port_spec,
        metavar="PORT/PROTO[=LABEL]",
        help="if this guest is made the host (a migratable lobby), share this game port with "
        "every guest from then on, as lobbyhost --headless --forward does (repeatable)",
    )
    return parser


def local_port_spec(value: str) -> tuple[int, int]:
    try:
        return parse_local_port(value)
    except ForwardSpecError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def shared_port_spec(value: str) -> SharedPort:
    try:
        return parse_shared_port(value)
    except ForwardSpecError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


#: What an ``--ice-server`` URL may start with (RFC 7064 and 7065).
ICE_SCHEMES = ("stun", "stuns", "turn", "turns")


def ice_server_url(value: str) -> str:
    """``value`` if it is a STUN or TURN URL; an argparse error naming the problem otherwise."""
    scheme, colon, rest = value.strip().partition(":")
    if not colon or scheme.lower() not in ICE_SCHEMES:
        raise argparse.ArgumentTypeError(
            f"{value!r} has no stun:, stuns:, turn: or turns: scheme; write "
            "stun:HOST:PORT, or turn:USER:PASSWORD@HOST:PORT for a TURN server"
        )
    if not rest.strip("/") or rest.endswith("@"):
        raise argparse.ArgumentTypeError(f"{value!r} names no server after {scheme}:")
    return value.strip()


def add_ice_arguments(parser: argparse.ArgumentParser) -> None:
    """``--ice-address`` and ``--ice-server``, shared by ``lobbyhost`` and ``lobbyhost-guest``."""
    parser.add_argument(
        "--ice-address",
        action="append",
        default=[],
        metavar="ADDR",
        help="only gather ICE candidates on this local address (repeatable)",
    )
    parser.add_argument(
        "--ice-server",
        action="append",
        default=[],
        type=ice_server_url,
        metavar="URL",
        help="an extra STUN/TURN URL (turn:USER:PASSWORD@HOST:PORT for credentials: the "
        "password follows the last colon, so a TURN REST username such as 1700000000:bob "
        "works; percent-encode a colon or @ in the password; repeatable)",
    )
    parser.add_argument(
        "--relay-delay",
        type=float,
        default=DEFAULT_RELAY_DELAY_S,
        metavar="SECONDS",
        help="check routes through a TURN relay only this long after the direct ones, "
        f"so a direct route wins when there is one (default {DEFAULT_RELAY_DELAY_S:g}; 0: at once)",
    )


def ice_server_from_url(url: str) -> IceServer:
    """An ICE server from a URL, with TURN credentials taken out of its userinfo.

    ``turn:USER:PASSWORD@HOST:PORT``: the password is what follows the *last*
    colon, so a username may hold colons, as TURN REST usernames
    (``<expiry>:<name>``) do. Either part may be percent-encoded (``%3A`` for a
    colon in a password, ``%40`` for an ``@``).
    """
    scheme, _, rest = url.partition(":")
    if "@" not in rest:
        return IceServer(urls=(url,))
    userinfo, _, host = rest.rpartition("@")
    username, _, credential = userinfo.rpartition(":")
    if not username:  # no colon at all: a username alone
        username, credential = credential, ""
    return IceServer(
        urls=(f"{scheme}:{host}",),
        username=unquote(username) or None,
        credential=unquote(credential) or None,
    )


def ice_from_arguments(args: argparse.Namespace) -> IceSettings:
    """IceSettings from ``--ice-address`` and ``--ice-server`` options."""
    servers = tuple(ice_server_from_url(url) for url in args.ice_server)
    return IceSettings(
        servers=servers,
        allowed_addresses=tuple(args.ice_address),
        relay_delay_s=args.relay_delay,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    try:
        server_url, code = join_target(args.url, args.code)
    except LobbyHostError as exc:
        emit("error", message=str(exc))
        return 2
    try:
        ice = ice_from_arguments(args)
    except LobbyHostError as exc:
        emit("error", message=str(exc))
        return 2
    install_address_allow_list(ice.allowed_addresses)
    guest = run_guest(
        server_url,
        code,
        args.name,
        args.password,
        ice,
        args.host_listen,
        local_ports=dict(args.forward_port),
        shared=tuple(args.share),
        forwards=tuple(args.forward),
    )
    return asyncio.run(guest)
