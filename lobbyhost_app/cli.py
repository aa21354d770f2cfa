"""``lobbyhost``: the desktop app, or with ``--headless`` the host without a display."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from .errors import LobbyHostError
from .guest_cli import add_ice_arguments, ice_from_arguments
from .headless import HeadlessOptions, run_headless
from .net.ice import install_address_allow_list
from .selftest import run_self_test


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8765`` for IPv6) into its parts."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not HOST:PORT")
    return host.strip("[]") or "0.0.0.0", int(port)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lobbyhost", description="Host a peer-to-peer lobby.")
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
        default=("0.0.0.0", 8765),
        metavar="HOST:PORT",
        help="where the embedded signalling server listens (default 0.0.0.0:8765)",
    )
    parser.add_argument("--code", help="ask for this join code")
    parser.add_argument("--auto-accept", action="store_true", help="accept every join request")
    parser.add_argument("--name", default="Host", help="your name in the lobby")
    add_ice_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    try:
        ice = ice_from_arguments(args)
    except LobbyHostError as exc:
        parser.error(str(exc))
    if args.self_test:
        result = asyncio.run(run_self_test())
        print(result.line, flush=True)
        return 0 if result.ok else 1
    if not args.headless:
        # Imported here so the headless host never loads Qt (servers have no display).
        from .app import run_gui

        return run_gui([parser.prog], quit_when_shown=args.quit_when_shown)
    install_address_allow_list(ice.allowed_addresses)
    host, port = args.listen
    options = HeadlessOptions(
        listen_host=host,
        listen_port=port,
        code=args.code,
        auto_accept=args.auto_accept,
        name=args.name,
        ice=ice,
    )
    return asyncio.run(run_headless(options))
