"""``lobbyhost``: the desktop app, or with ``--headless`` the host without a display.

Only the standard library is imported at the top: Qt, aiortc and the server
load inside :func:`main`, so ``--version`` and ``--help`` answer at once and a
Ctrl+C while they load ends the program quietly (exit 130), not with a
traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .controllers.host_controller import HostOverrides
    from .net.forwards import SharedPort

#: Where the headless host listens unless told otherwise (the GUI uses its settings).
DEFAULT_LISTEN = ("0.0.0.0", 8765)
#: The headless host's name in the lobby unless told otherwise.
DEFAULT_NAME = "Host"
#: The exit status of a program stopped by Ctrl+C (128 + SIGINT).
INTERRUPTED = 130

#: Qt platform plugins that need a display server (X11 or Wayland) to start.
_DISPLAY_PLATFORMS = frozenset({"", "xcb", "wayland", "wayland-egl"})

NO_DISPLAY = (
    "lobbyhost: no display to open a window on (DISPLAY and WAYLAND_DISPLAY are not set). "
    "To host without a window, as on a server or over SSH, run: lobbyhost --headless "
    "(add --auto-accept to let everyone in). To run the window without a screen, set "
    "QT_QPA_PLATFORM=offscreen."
)


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8765`` for IPv6) into its parts."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not HOST:PORT")
    return host.strip("[]") or "0.0.0.0", int(port)


def build_parser() -> argparse.ArgumentParser:
    from signalling_server import __version__

    from .guest_cli import add_ice_arguments

    parser = argparse.ArgumentParser(
        prog="lobbyhost",
        description="Host a peer-to-peer lobby.",
        epilog="In the window, --listen, --name, --code and --auto-accept apply to this "
        "run's lobbies without changing your saved settings; the ICE options are for "
        "--headless (the window takes them from Settings).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--headless", action="store_true", help="no window: JSON lines on stdout")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="check this machine: server, lobby, a guest, WebRTC over 127.0.0.1, chat; then exit",
    )
    parser.add_argument(
        "--quit-when-shown",
        action="store_true",
        help="print how long the window took to appear after the process started, then quit",
    )
    parser.add_argument(
        "--listen",
        type=parse_listen,
        metavar="HOST:PORT",
        help="where the embedded signalling server listens (default: --headless "
        "0.0.0.0:8765, the window its settings)",
    )
    parser.add_argument("--code", help="ask for this join code")
    parser.add_argument("--auto-accept", action="store_true", help="accept every join request")
    parser.add_argument(
        "--migratable",
        action="store_true",
        help="--headless: let a guest take over the lobby when this host leaves",
    )
    parser.add_argument(
        "--name",
        help=f"your name in the lobby (default: --headless {DEFAULT_NAME!r}, "
        "the window its settings)",
    )
    parser.add_argument(
        "--map-port",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="--headless: ask the router (UPnP or NAT-PMP) to forward the server's port while "
        "the lobby is open, and say how it went on a port_mapping line (default: off; "
        "the window always asks)",
    )
    add_ice_arguments(parser)
    add_forward_arguments(parser)
    public = parser.add_argument_group("playing over the internet (--headless)")
    public.add_argument(
        "--server",
        metavar="URL",
        help="host on a running lobbyhost-server (ws://, wss:// or https:// URL) instead "
        "of the embedded one; guests use its address, nothing needs forwarding here",
    )
    public.add_argument(
        "--turn-secret-file",
        type=Path,
        metavar="PATH",
        help="a file holding the secret this host shares with a TURN server (coturn "
        "use-auth-secret); --ice-server turn:HOST:PORT URLs given without credentials get "
        "credentials minted from it for the host and every guest (a file, since a command "
        "line is visible to every user of the machine)",
    )
    public.add_argument(
        "--invite-address",
        metavar="ADDR",
        help="the address in the invite link: an IP address or a name, or 'stun' for the "
        "public address the first --ice-server stun: URL sees (default: a LAN address)",
    )
    return parser


def forward_spec(value: str) -> SharedPort:
    """``--forward`` as a :class:`SharedPort`; an argparse error saying what is wrong."""
    from .net.forwards import ForwardSpecError, parse_shared_port

    try:
        return parse_shared_port(value)
    except ForwardSpecError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def add_forward_arguments(parser: argparse.ArgumentParser) -> None:
    """``--forward`` and ``--forward-target``: the game ports shared with every guest."""
    parser.add_argument(
        "--forward",
        action="append",
        default=[],
        type=forward_spec,
        metavar="PORT/PROTO[=LABEL]",
        help="share a game port with every guest over the game bridge, e.g. 25565/tcp=Minecraft "
        "or 27960/udp (repeatable; --headless)",
    )
    parser.add_argument(
        "--forward-target",
        default="127.0.0.1",
        metavar="ADDR",
        help="the address the shared ports are reached at (default 127.0.0.1; nothing else is)",
    )


def display_missing(environ: Mapping[str, str], platform: str = sys.platform) -> bool:
    """Whether Qt would fail to find a display (Linux and BSDs: X11 or Wayland)."""
    if platform.startswith(("win", "darwin", "cygwin")):
        return False
    if environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"):
        return False
    # "xcb", "wayland;xcb" (a list to try) or "xcb:option": the plugin names.
    requested = environ.get("QT_QPA_PLATFORM", "")
    names = {entry.split(":", 1)[0].strip() for entry in requested.split(";")}
    return names <= _DISPLAY_PLATFORMS


def host_overrides(args: argparse.Namespace) -> HostOverrides:
    """The window's choices for this run from --listen, --name, --code and --auto-accept."""
    from .controllers.host_controller import HostOverrides

    return HostOverrides(
        listen=args.listen,
        display_name=args.name,
        code=args.code,
        auto_accept=args.auto_accept,
    )


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:
        # Ctrl+C before the app took over SIGINT (while loading): stop, quietly.
        return INTERRUPTED


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    from .errors import LobbyHostError
    from .guest_cli import ice_from_arguments

    try:
        ice = ice_from_arguments(args)
    except LobbyHostError as exc:
        parser.error(str(exc))
    if args.self_test:
        import asyncio

        from .selftest import run_self_test

        result = asyncio.run(run_self_test())
        print(result.line, flush=True)
        return 0 if result.ok else 1
    if not args.headless:
        if display_missing(os.environ):
            print(NO_DISPLAY, file=sys.stderr)
            return 2
        if args.ice_address or args.ice_server:
            print(
                "lobbyhost: --ice-address and --ice-server are for --headless; the window "
                "uses the ICE settings of LobbyHost > Settings.",
                file=sys.stderr,
            )
        if args.server or args.turn_secret_file or args.invite_address:
            print(
                "lobbyhost: --server, --turn-secret-file and --invite-address are for "
                "--headless; the window takes the remote server and the TURN secret from "
                "LobbyHost > Settings, and the link address from its Link address row.",
                file=sys.stderr,
            )
        # Imported here so the headless host never loads Qt (servers have no display).
        from .app import run_gui

        return run_gui(
            [parser.prog], quit_when_shown=args.quit_when_shown, overrides=host_overrides(args)
        )
    import asyncio

    from .headless import HeadlessOptions, public_play_options, run_headless
    from .net.ice import install_address_allow_list

    try:
        public = public_play_options(args, ice)
    except LobbyHostError as exc:
        parser.error(str(exc))
    install_address_allow_list(ice.allowed_addresses)
    host, port = args.listen or DEFAULT_LISTEN
    options = HeadlessOptions(
        listen_host=host,
        listen_port=port,
        code=args.code,
        auto_accept=args.auto_accept,
        name=args.name or DEFAULT_NAME,
        ice=public.ice,
        remote_url=public.remote_url,
        turn_secrets=public.turn_secrets,
        invite_address=args.invite_address,
        forwards=tuple(args.forward),
        forward_target=args.forward_target,
        migratable=args.migratable,
        map_port=args.map_port,
    )
    return asyncio.run(run_headless(options))
