"""``lobbyhost-server``: the signalling server as a standalone service."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .backend import BackendUnavailable
from .config import Limits, ServerConfig, Timeouts, config_from_mapping, load_toml
from .errors import ConfigError
from .event_loop import LoopChoice, loop_factory, running_loop_name
from .server import serve
from .transport.tls import server_tls_context
from .workers import WorkerStartError, supervise

logger = logging.getLogger("lobbyhost-server")

_HELP = {
    "max_frame_bytes": "largest frame accepted; larger ones get message_too_large",
    "hard_frame_bytes": "frames above this close the connection with 1009",
    "actions_per_second": "sustained actions per connection",
    "action_burst": "burst of actions per connection",
    "lobbies_per_address": "open lobbies per source address",
    "joins_per_address_per_minute": "join and resume attempts per source address a minute",
    "pending_per_lobby": "join requests waiting in one lobby",
    "default_max_guests": "max_guests of a lobby that does not ask (1..64)",
    "send_buffer_bytes": "unsent bytes after which a slow client is closed",
    "max_body_bytes": "largest HTTP request body; larger ones get 413",
    "password_hash_iterations": "PBKDF2 iterations for lobby passwords",
    "http_requests_per_address_per_minute": "requests to dialect HTTP routes per source address",
    "connections_per_address": "open connections per source address; more get 429",
    "rate_limited_frames_before_close": (
        "frames refused for rate (forgiven at actions-per-second) before the connection"
        " is closed with 1008"
    ),
    "max_snapshot_bytes": "largest game-state snapshot a host may store",
    "snapshots_kept": "snapshots kept per lobby (the oldest is forgotten)",
    "guest_grace": "seconds a dropped guest may resume",
    "host_grace": "seconds a dropped host may resume before its lobby closes",
    "pending_request_timeout": "seconds a join request may wait for an answer",
    "ping_interval": "seconds between websocket keepalive pings",
    "ping_timeout": "seconds without a pong before a connection is closed",
    "close_timeout": "seconds to wait for a closing handshake",
    "request_timeout": "seconds a new connection may take to send its HTTP request",
    "migration_retention": "seconds a migratable lobby whose members all dropped is kept",
    "node_heartbeat": "cluster: seconds between a node's heartbeats",
    "node_timeout": "cluster: seconds without a heartbeat after which a node is dead",
}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lobbyhost-server",
        description="LobbyHost signalling server (protocol v1 over websockets).",
        epilog="Options given on the command line override the config file.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default 8765; 0 = any)")
    parser.add_argument("--config", type=Path, help="TOML config file")
    parser.add_argument(
        "--dialect-time-scale",
        type=float,
        metavar="S",
        help="multiply every timer of the older systems' dialects by S (default 1.0)",
    )
    parser.add_argument(
        "--camus-web-root",
        type=Path,
        metavar="DIR",
        help="serve the Camus web client's static files from DIR (default: API clients only)",
    )
    parser.add_argument(
        "--tls-cert",
        type=Path,
        metavar="PEM",
        help="serve wss:// and https:// with this certificate chain (with --tls-key)",
    )
    parser.add_argument("--tls-key", type=Path, metavar="PEM", help="the private key of --tls-cert")
    parser.add_argument(
        "--trusted-proxy",
        action="append",
        default=[],
        metavar="CIDR",
        help="a reverse proxy whose X-Forwarded-For names the client (repeatable; default none)",
    )
    parser.add_argument(
        "--proxy-protocol",
        action="store_const",
        const=True,
        help="connections from trusted proxies start with a PROXY protocol v1/v2 header",
    )
    parser.add_argument(
        "--allowed-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help=(
            "a web origin (https://games.example.org) allowed on the native websocket besides"
            " no Origin and the server's own pages; '*' allows any (repeatable)"
        ),
    )
    parser.add_argument(
        "--loop",
        type=LoopChoice,
        choices=list(LoopChoice),
        default=LoopChoice.AUTO,
        help="event loop: uvloop when installed (auto, the default), uvloop, or asyncio",
    )
    parser.add_argument(
        "--redis",
        metavar="URL",
        help="share lobbies with other nodes on this Redis (redis://host:port/db)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="run N server processes on the port (N > 1 needs --redis; default 1)",
    )
    # Set by the --workers supervisor for its worker processes.
    parser.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="logging level (default info)",
    )
    for section, cls in (("limits", Limits), ("timeouts", Timeouts)):
        group = parser.add_argument_group(section)
        for item in dataclasses.fields(cls):
            kind = int if item.type in ("int", int) else float
            group.add_argument(
                _flag(item.name),
                dest=f"{section}.{item.name}",
                type=kind,
                metavar="N",
                help=f"{_HELP[item.name]} (default {item.default})",
            )
    ice = parser.add_argument_group("ICE servers handed to clients (default: none)")
    ice.add_argument("--stun", action="append", default=[], metavar="URL", help="a STUN URL")
    ice.add_argument(
        "--turn",
        action="append",
        default=[],
        metavar="URL",
        help="a TURN URL with static credentials (--turn-username, --turn-credential)",
    )
    ice.add_argument("--turn-username", help="username for the --turn URLs")
    ice.add_argument("--turn-credential", help="credential for the --turn URLs")
    ice.add_argument(
        "--turn-secret-url",
        action="append",
        default=[],
        metavar="URL",
        help="a TURN URL whose credentials are minted with --turn-secret",
    )
    ice.add_argument("--turn-secret", help="secret shared with the TURN server (use-auth-secret)")
    ice.add_argument("--turn-ttl", type=int, default=86_400, help="seconds minted credentials last")
    return parser


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    """Merge the config file (if any) and the command line into a :class:`ServerConfig`."""
    data: dict[str, Any] = load_toml(args.config) if args.config else {}
    data.setdefault("port", 8765)
    for key in ("host", "port", "dialect_time_scale", "redis", "workers"):
        if getattr(args, key) is not None:
            data[key] = getattr(args, key)
    for key in ("camus_web_root", "tls_cert", "tls_key"):
        if getattr(args, key) is not None:
            data[key] = str(getattr(args, key))
    if args.trusted_proxy:
        data["trusted_proxies"] = args.trusted_proxy
    if args.proxy_protocol:
        data["proxy_protocol"] = True
    if args.allowed_origin:
        data["allowed_origins"] = args.allowed_origin
    if args.reuse_port:
        data["reuse_port"] = True
    for key, value in vars(args).items():
        section, dot, name = key.partition(".")
        if dot and value is not None:
            data.setdefault(section, {})[name] = value
    ice: dict[str, Any] = data.setdefault("ice", {})
    if args.stun:
        ice["stun_urls"] = args.stun
    if args.turn:
        if not (args.turn_username and args.turn_credential):
            raise ConfigError("--turn needs --turn-username and --turn-credential")
        ice["turn"] = [
            {"urls": args.turn, "username": args.turn_username, "credential": args.turn_credential}
        ]
    if args.turn_secret_url:
        if not args.turn_secret:
            raise ConfigError("--turn-secret-url needs --turn-secret")
        ice["turn_secret"] = [
            {"urls": args.turn_secret_url, "secret": args.turn_secret, "ttl_s": args.turn_ttl}
        ]
    # Flags add only known keys: an unknown one came from the file, so name it.
    return config_from_mapping(data, source=str(args.config) if args.config else None)


async def run(config: ServerConfig) -> None:
    """Serve until SIGINT or SIGTERM, then shut down gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with serve(config) as server:
        loop_name = running_loop_name()
        logger.info("running on the %s event loop", loop_name)
        logger.debug("event loop class: %s", type(loop).__qualname__)
        # One line a supervisor (or a test) can read to find the bound port.
        print(f"lobbyhost-server {__version__} listening on {server.url}", flush=True)
        await stop.wait()
        logger.info("shutting down")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # At DEBUG the websockets library logs every frame, tokens and passwords
    # included: it never goes below INFO.
    logging.getLogger("websockets").setLevel(max(logging.INFO, logging.getLogger().level))
    try:
        config = config_from_args(args)
        if config.tls_cert is not None and config.tls_key is not None:
            server_tls_context(config.tls_cert, config.tls_key)  # a bad file: usage error now
        _, new_loop = loop_factory(args.loop)
    except ConfigError as exc:
        parser.error(str(exc))
    try:
        if config.workers > 1:
            asyncio.run(supervise(config, sys.argv[1:] if argv is None else argv))
        else:
            with asyncio.Runner(loop_factory=new_loop) as runner:
                runner.run(run(config))
    except OSError as exc:
        logger.error("cannot listen on %s:%s: %s", config.host, config.port, exc.strerror)
        return 1
    except (BackendUnavailable, WorkerStartError) as exc:
        logger.error("%s", exc)
        return 1
    return 0
