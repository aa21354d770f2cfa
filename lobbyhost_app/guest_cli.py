"""``lobbyhost-guest URL CODE --name NAME``: join a lobby from a terminal.

``lobbyhost-guest http://HOST:PORT/join/CODE --name NAME`` (the invite link
alone) works too: the code comes from the link.

Prints events as JSON lines: ``status`` with ``phase``, ``detail`` (the host's
own words, a lobby name or an error sentence) and, when the server said why the
session ended, ``reason``; ``rtt``; ``chat`` (with ``from`` and ``peer_id`` when
another guest said it); ``members``. Sends each stdin line as chat; a stdin with
nothing behind it (closed, ``/dev/null``) just means no chat to send.
Exits when the session ends: 0 after leaving or the host closing the lobby,
1 when rejected, kicked or failed; 2 for arguments it cannot use. SIGINT and
SIGTERM leave the lobby (or withdraw the request) first, even mid-join.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence

from .errors import LobbyHostError
from .invite import AddressError, parse_join_target
from .jsonlines import emit, stdin_lines
from .net.guest import GuestSession
from .net.ice import IceServer, IceSettings, install_address_allow_list
from .net.route_preference import DEFAULT_RELAY_DELAY_S
from .net.signalling import SignallingClient
from .session_values import (
    GuestChat,
    GuestEvent,
    GuestPhase,
    GuestRtt,
    GuestStatus,
    MemberChat,
    MembersChanged,
)

_GOOD_ENDINGS = {GuestPhase.LEFT, GuestPhase.LOBBY_CLOSED, GuestPhase.HOST_LEFT}


def _print_event(event: GuestEvent) -> None:
    match event:
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


def join_target(url: str, code: str | None) -> tuple[str, str]:
    """The server URL and code from the arguments: a code given apart wins over the link's."""
    target = parse_join_target(url)
    code = (code or "").strip() or target.code
    if not code:
        raise AddressError(f"No join code: give it after {url!r}, or pass the whole invite link.")
    return target.server_url, code


async def run_guest(url: str, code: str, name: str, password: str | None, ice: IceSettings) -> int:
    # Signals are taken from the start: a service stopped while joining still leaves cleanly.
    loop = asyncio.get_running_loop()
    leave = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, leave.set)
    signalling = SignallingClient(url)
    try:
        await signalling.connect()
        session = GuestSession(signalling, ice)
        session.add_listener(_print_event)
        await session.join(code, name, password)
    except LobbyHostError as exc:
        emit("error", message=str(exc))
        await signalling.close()
        return 1

    async def chat_from_stdin() -> None:
        async for line in stdin_lines():
            session.send_chat(line)

    tasks = [
        asyncio.create_task(chat_from_stdin()),
        asyncio.create_task(leave.wait()),
        asyncio.create_task(session.wait_ended()),
    ]
    await asyncio.wait(tasks[1:], return_when=asyncio.FIRST_COMPLETED)
    for task in tasks:
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.gather(*tasks, return_exceptions=True)
    if leave.is_set():
        await session.leave()
    else:
        await signalling.close()
    return 0 if session.status.phase in _GOOD_ENDINGS else 1


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
    add_ice_arguments(parser)
    return parser


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
        help="an extra STUN/TURN URL (turn:user:pass@host:port for credentials; repeatable)",
    )
    parser.add_argument(
        "--relay-delay",
        type=float,
        default=DEFAULT_RELAY_DELAY_S,
        metavar="SECONDS",
        help="check routes through a TURN relay only this long after the direct ones, "
        f"so a direct route wins when there is one (default {DEFAULT_RELAY_DELAY_S:g}; 0: at once)",
    )


def ice_from_arguments(args: argparse.Namespace) -> IceSettings:
    """IceSettings from ``--ice-address`` and ``--ice-server`` options."""
    servers = []
    for url in args.ice_server:
        scheme, _, rest = url.partition(":")
        username = credential = None
        if "@" in rest:
            userinfo, _, host = rest.rpartition("@")
            username, _, credential = userinfo.partition(":")
            url = f"{scheme}:{host}"
        servers.append(IceServer(urls=(url,), username=username, credential=credential))
    return IceSettings(
        servers=tuple(servers),
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
    return asyncio.run(run_guest(server_url, code, args.name, args.password, ice))
