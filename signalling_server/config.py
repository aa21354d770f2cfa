"""Configuration: grouped, keyword-only, validated once at start-up."""

from __future__ import annotations

import dataclasses
import ipaddress
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .ice import IceConfig, TurnSecretServer, TurnServer
from .origins import ANY_ORIGIN, InvalidOrigin, normalise_origin


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """What one client, one address or one lobby may use."""

    max_frame_bytes: int = 64 * 1024
    #: Frames above this are refused by the websocket layer and close the
    #: connection with 1009; frames between ``max_frame_bytes`` and this get a
    #: ``message_too_large`` error and the connection stays open, except
    #: ``save_snapshot``, whose frames may be this big (a snapshot and its envelope).
    hard_frame_bytes: int = 257 * 1024
    actions_per_second: float = 50.0
    action_burst: int = 200
    lobbies_per_address: int = 8
    joins_per_address_per_minute: int = 30
    pending_per_lobby: int = 32
    default_max_guests: int = 8
    #: A client whose unsent backlog passes this is too slow to keep up and is closed.
    send_buffer_bytes: int = 1024 * 1024
    #: Largest HTTP request body taken (``Content-Length``); larger ones get 413.
    max_body_bytes: int = 64 * 1024
    #: Iterations of PBKDF2 for lobby passwords (kept in memory only as hashes).
    password_hash_iterations: int = 2_000
    #: Requests to the dialects' HTTP routes (Lambda, Camus pages) per source address.
    http_requests_per_address_per_minute: int = 600
    #: Open TCP connections (HTTP and websocket) per source address; more get 429.
    connections_per_address: int = 64
    #: Frames refused for rate a connection may send, forgiven at ``actions_per_second``,
    #: before it is closed with 1008 rather than answered frame by frame.
    rate_limited_frames_before_close: int = 500
    #: Largest snapshot (its JSON ``data``, as sent) a host may store.
    max_snapshot_bytes: int = 256 * 1024
    #: Snapshots kept per lobby; a save beyond this forgets the oldest.
    snapshots_kept: int = 4

    def __post_init__(self) -> None:
        for item in dataclasses.fields(self):
            if getattr(self, item.name) <= 0:
                raise ConfigError(f"limits.{item.name} must be positive")
        if self.hard_frame_bytes < self.max_frame_bytes:
            raise ConfigError("limits.hard_frame_bytes must be at least max_frame_bytes")
        if not 1 <= self.default_max_guests <= 64:
            raise ConfigError("limits.default_max_guests must be between 1 and 64")
        if self.action_burst < 1:
            raise ConfigError("limits.action_burst must be at least 1")


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeouts:
    """Grace periods and timers, in seconds."""

    guest_grace: float = 30.0
    host_grace: float = 30.0
    pending_request_timeout: float = 120.0
    ping_interval: float = 20.0
    ping_timeout: float = 20.0
    close_timeout: float = 5.0
    #: A client that has not sent a whole HTTP request (or websocket handshake)
    #: this long after connecting is disconnected, so idle sockets cannot pile up.
    request_timeout: float = 10.0
    #: How long a migratable lobby whose members all dropped is kept for one to resume.
    migration_retention: float = 600.0
    #: Cluster (with ``redis``): how often each node writes its heartbeat ...
    node_heartbeat: float = 1.0
    #: ... and how old a heartbeat makes a node dead (its members' departures are applied).
    node_timeout: float = 5.0

    def __post_init__(self) -> None:
        for item in dataclasses.fields(self):
            if getattr(self, item.name) <= 0:
                raise ConfigError(f"timeouts.{item.name} must be positive")


def default_web_root() -> Path:
    """``resources/web`` of the source tree this package sits in (the browser guest page)."""
    return Path(__file__).resolve().parents[1] / "resources" / "web"


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerConfig:
    """Everything :func:`signalling_server.serve` needs; every field has a default."""

    host: str = "127.0.0.1"
    port: int = 0
    limits: Limits = field(default_factory=Limits)
    timeouts: Timeouts = field(default_factory=Timeouts)
    ice: IceConfig = field(default_factory=IceConfig)
    #: Multiplies every timer of the older systems' dialects (room expiry, reaping ...).
    dialect_time_scale: float = 1.0
    #: The browser guest page's files, served at ``/join``; ``None`` turns the page off.
    web_root: Path | None = field(default_factory=default_web_root)
    #: A folder holding the Camus web client's static files (``dist/index.js``,
    #: ``css/``, ``fonts/``), served under ``/camus/static/``; never shipped (AGPL).
    camus_web_root: Path | None = None
    #: A certificate chain and its private key (PEM files): the server then speaks
    #: TLS itself (``wss://`` and ``https://``). Both or neither.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    #: Reverse proxies (CIDR ranges) whose ``X-Forwarded-For`` names the client.
    trusted_proxies: tuple[str, ...] = ()
    #: Connections from trusted proxies start with a PROXY protocol (v1 or v2) header.
    proxy_protocol: bool = False
    #: Origins allowed on the native websocket, besides none and the server's own
    #: pages (``https://games.example.org``; ``"*"`` allows any).
    allowed_origins: tuple[str, ...] = ()
    #: ``redis://host:port/db``: share lobbies with the other nodes on this Redis.
    redis: str | None = None
    #: Server processes on this port (several need ``redis``).
    workers: int = 1
    #: Bind with SO_REUSEPORT, so several processes listen on one port.
    reuse_port: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError("port must be between 0 and 65535")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError("tls_cert and tls_key go together: give both or neither")
        if self.redis is not None and not self.redis.startswith(
            ("redis://", "rediss://", "unix://")
        ):
            raise ConfigError("redis must be a redis://, rediss:// or unix:// URL")
        if self.workers < 1:
            raise ConfigError("workers must be at least 1")
        if self.workers > 1 and self.redis is None:
            raise ConfigError(
                "workers above 1 need redis (--redis redis://...): "
                "worker processes share lobbies only through Redis"
            )
        if self.timeouts.node_timeout < 2 * self.timeouts.node_heartbeat:
            raise ConfigError("timeouts.node_timeout must be at least twice node_heartbeat")
        if not self.dialect_time_scale > 0:
            raise ConfigError("dialect_time_scale must be positive")
        for proxy in self.trusted_proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError as exc:
                raise ConfigError(
                    f"trusted_proxies: not an address or CIDR range: {proxy!r}"
                ) from exc
        if not isinstance(self.proxy_protocol, bool):
            raise ConfigError("proxy_protocol is true or false")
        if self.proxy_protocol and not self.trusted_proxies:
            raise ConfigError("proxy_protocol needs trusted_proxies: whose headers to read")
        for origin in self.allowed_origins:
            if origin != ANY_ORIGIN:
                try:
                    normalise_origin(origin)
                except InvalidOrigin as exc:
                    raise ConfigError(f"allowed_origins: {exc}") from exc


def load_toml(path: Path) -> dict[str, Any]:
    """Read a TOML config file into the plain dict :func:`config_from_mapping` takes."""
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc


def config_from_mapping(data: dict[str, Any], *, source: str | None = None) -> ServerConfig:
    """Build a :class:`ServerConfig` from nested tables (as in the TOML file).

    Unknown keys are errors: a typo must not silently leave a default in place.
    The error names the key (``limits.max_frame_byte``) and ``source``, the
    file the mapping came from, when given.
    """
    _check_known_keys(data, source)
    data = dict(data)
    try:
        limits = Limits(**data.pop("limits", {}))
        timeouts = Timeouts(**data.pop("timeouts", {}))
        ice = _ice_from_mapping(data.pop("ice", {}))
        if isinstance(data.get("web_root"), str):
            data["web_root"] = Path(data["web_root"])
        for key in ("camus_web_root", "tls_cert", "tls_key"):
            if isinstance(data.get(key), str):
                data[key] = Path(data[key])
        for key in ("trusted_proxies", "allowed_origins"):
            if isinstance(data.get(key), list):
                data[key] = tuple(str(item) for item in data[key])
            elif isinstance(data.get(key), str):
                raise ConfigError(f"{key} is a list of strings, e.g. [{data[key]!r}]")
        return ServerConfig(limits=limits, timeouts=timeouts, ice=ice, **data)
    except TypeError as exc:
        raise ConfigError(f"invalid configuration: {exc}") from exc


def _field_names(cls: type[Any]) -> frozenset[str]:
    return frozenset(item.name for item in dataclasses.fields(cls))


#: The tables of the config file and the keys each may hold; ``[[ice.turn]]`` and
#: ``[[ice.turn_secret]]`` are arrays of tables.
_TABLES: dict[str, frozenset[str]] = {
    "": _field_names(ServerConfig),
    "limits": _field_names(Limits),
    "timeouts": _field_names(Timeouts),
    "ice": _field_names(IceConfig),
    "ice.turn": _field_names(TurnServer),
    "ice.turn_secret": _field_names(TurnSecretServer),
}


def _check_known_keys(data: dict[str, Any], source: str | None) -> None:
    """Raise :class:`ConfigError` naming the first key no table has, and where it was."""
    where = f" in {source}" if source else ""
    for table, known in _TABLES.items():
        entries: list[Any] = [data]
        for part in table.split(".") if table else ():
            entries = [entry.get(part) for entry in entries if isinstance(entry, dict)]
            entries = [item for entry in entries for item in _as_list(entry)]
        for entry in entries:
            if not isinstance(entry, dict):
                continue  # a table of the wrong type is the constructors' to explain
            for key in entry:
                if key not in known:
                    dotted = f"{table}.{key}" if table else key
                    raise ConfigError(f"unknown key {dotted!r}{where}")


def _as_list(value: Any) -> list[Any]:
    """An array of tables as a list; a single table (or ``None``) as a list of it."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _ice_from_mapping(data: dict[str, Any]) -> IceConfig:
    data = dict(data)
    stun = tuple(data.pop("stun_urls", ()))
    # A missing or unknown key makes the constructor raise TypeError, which
    # config_from_mapping turns into a ConfigError naming it.
    turn = tuple(TurnServer(**_with_url_tuple(entry)) for entry in data.pop("turn", ()))
    turn_secret = tuple(
        TurnSecretServer(**_with_url_tuple(entry)) for entry in data.pop("turn_secret", ())
    )
    if data:
        raise ConfigError(f"unknown keys in [ice]: {', '.join(sorted(data))}")
    return IceConfig(stun_urls=stun, turn=turn, turn_secret=turn_secret)


def _with_url_tuple(entry: dict[str, Any]) -> dict[str, Any]:
    """The entry with ``urls`` (a string or a list) as a tuple."""
    entry = dict(entry)
    urls = entry.get("urls")
    if isinstance(urls, str):
        entry["urls"] = (urls,)
    elif isinstance(urls, list):
        entry["urls"] = tuple(urls)
    return entry
