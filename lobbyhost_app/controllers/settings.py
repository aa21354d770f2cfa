"""The user's settings: a typed snapshot (:class:`AppSettings`) over ``QSettings``.

Stored under organisation ``LobbyHost``, application ``LobbyHost`` unless a
``QSettings`` object is injected (tests point it at a temporary INI file).
Lists are stored as one space-separated string so the INI file stays readable.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QByteArray, QObject, QSettings, Signal

from signalling_server import TurnSecretServer

from ..net.forwards import ForwardSpecError, SharedPort, parse_shared_port, unique_ports
from ..net.ice import IceServer, IceSettings
from .secret_store import SecretStore

ORGANIZATION = "LobbyHost"
APPLICATION = "LobbyHost"
#: Where window geometry and splitter positions are kept, apart from the settings.
_WINDOW_GROUP = "window"
#: The game ports the host shares, as their specs (``25565/tcp=Minecraft``), one per line.
_SHARED_PORTS_KEY = "host/game_ports"


@dataclass(frozen=True, slots=True, kw_only=True)
class AppSettings:
    """Every persisted setting, with its default."""

    display_name: str = "Player"
    listen_host: str = "0.0.0.0"
    #: 0 asks the system for any free port.
    listen_port: int = 8765
    use_remote_server: bool = False
    remote_server_url: str = ""
    auto_accept: bool = False
    #: Keep auto-accept on for every new lobby; otherwise each lobby starts with it off.
    auto_accept_pinned: bool = False
    max_guests: int = 8
    stun_urls: tuple[str, ...] = ()
    turn_url: str = ""
    turn_username: str = ""
    turn_credential: str = ""
    #: Local addresses ICE may use; empty means every address but loopback.
    ice_allowed_addresses: tuple[str, ...] = ()
    #: The server last used in Join mode.
    join_server_url: str = ""
    #: Shared with the TURN server (coturn ``use-auth-secret``): the embedded server
    #: mints credentials from it for the host and every guest. Kept in the system
    #: keyring (:class:`SecretStore`), never in the settings file.
    turn_secret: str = field(default="", repr=False)

    def ice_settings(self) -> IceSettings:
        """The ICE servers and allow-list; raises ``NetError`` for an address that is not an IP."""
        servers = [IceServer(urls=(url,)) for url in self.stun_urls]
        if self.turn_url and not self.turn_secret:  # with a secret: turn_secrets()
            servers.append(
                IceServer(
                    urls=(self.turn_url,),
                    username=self.turn_username or None,
                    credential=self.turn_credential or None,
                )
            )
        return IceSettings(
            servers=tuple(servers), allowed_addresses=tuple(self.ice_allowed_addresses)
        )

    def turn_secrets(self) -> tuple[TurnSecretServer, ...]:
        """The TURN server with its shared secret, when both are set."""
        if not (self.turn_url and self.turn_secret):
            return ()
        return (TurnSecretServer(urls=(self.turn_url,), secret=self.turn_secret),)

    def lobby_name(self) -> str:
        return f"{self.display_name}'s lobby"


_KEYS: dict[str, str] = {
    # Not "general/...": QSettings' INI format reserves the group General, so a
    # new process reads "general/x" back as "General/x" and the value is lost.
    "display_name": "profile/display_name",
    "listen_host": "host/listen_host",
    "listen_port": "host/listen_port",
    "use_remote_server": "host/use_remote_server",
    "remote_server_url": "host/remote_server_url",
    "auto_accept": "host/auto_accept",
    "auto_accept_pinned": "host/auto_accept_keep_on",
    "max_guests": "host/max_guests",
    "stun_urls": "ice/stun_urls",
    "turn_url": "ice/turn_url",
    "turn_username": "ice/turn_username",
    "turn_credential": "ice/turn_credential",
    "ice_allowed_addresses": "ice/allowed_addresses",
    "join_server_url": "join/server_url",
}
#: Settings kept in the keyring, by the name they are stored under there.
_SECRETS: dict[str, str] = {"turn_secret": "turn_secret"}


def _secret_marker(name: str) -> str:
    """The settings key saying a secret is in the keyring (never the secret itself)."""
    return f"ice/{name}_in_keyring"


#: Where older versions kept a setting, as a new process and as the writing one see it.
_LEGACY_KEYS: dict[str, tuple[str, ...]] = {
    "display_name": ("General/display_name", "general/display_name"),
}


class Settings(QObject):
    """Loads and saves :class:`AppSettings`.

    Signals: ``changed(AppSettings)`` after every save.
    """

    changed = Signal(object)

    def __init__(
        self,
        store: QSettings | None = None,
        parent: QObject | None = None,
        *,
        secrets: SecretStore | None = None,
    ) -> None:
        super().__init__(parent)
        self._store = store if store is not None else QSettings(ORGANIZATION, APPLICATION)
        #: Where secret settings live (the system keyring, or memory when there is none).
        self.secrets = secrets if secrets is not None else SecretStore()

    def load(self) -> AppSettings:
        """The stored settings; a missing or unreadable value falls back to its default."""
        defaults = AppSettings()
        values: dict[str, Any] = {}
        self._move_legacy_keys()
        for item in dataclasses.fields(AppSettings):
            if item.name in _SECRETS:
                # Only a secret known to be there is asked for: no keyring prompt otherwise.
                stored = self._store.value(_secret_marker(item.name), False)
                values[item.name] = (
                    self.secrets.get(_SECRETS[item.name]) if _convert(stored, False) else ""
                )
                continue
            default = getattr(defaults, item.name)
            raw = self._store.value(_KEYS[item.name], None)
            values[item.name] = default if raw is None else _convert(raw, default)
        return AppSettings(**values)

    def _move_legacy_keys(self) -> None:
        """Carry a value an older version stored under its old key over to the new one, once."""
        moved = False
        for name, legacy_keys in _LEGACY_KEYS.items():
            for legacy in legacy_keys:
                if not self._store.contains(legacy):
                    continue
                if not self._store.contains(_KEYS[name]):
                    self._store.setValue(_KEYS[name], self._store.value(legacy))
                self._store.remove(legacy)
                moved = True
        if moved:
            self._store.sync()

    def save(self, settings: AppSettings) -> None:
        for item in dataclasses.fields(AppSettings):
            value = getattr(settings, item.name)
            if item.name in _SECRETS:
                marked = _convert(self._store.value(_secret_marker(item.name), False), False)
                if value or marked:
                    self.secrets.set(_SECRETS[item.name], value)
                self._store.setValue(_secret_marker(item.name), bool(value))
                continue
            if isinstance(value, tuple):
                value = " ".join(value)
            self._store.setValue(_KEYS[item.name], value)
        self._store.sync()
        self.changed.emit(settings)

    def window_state(self, name: str) -> QByteArray | None:
        """The window layout saved as ``name`` (geometry, splitter sizes), if any."""
        raw = self._store.value(f"{_WINDOW_GROUP}/{name}", None)
        return raw if isinstance(raw, QByteArray) and not raw.isEmpty() else None

    def save_window_state(self, states: dict[str, QByteArray]) -> None:
        """Remember window layouts by name (not part of :class:`AppSettings`: no ``changed``)."""
        for name, state in states.items():
            self._store.setValue(f"{_WINDOW_GROUP}/{name}", state)
        self._store.sync()

    def shared_ports(self) -> tuple[SharedPort, ...]:
        """The game ports the host shared last time (lines that are not ports are left out)."""
        raw = self._store.value(_SHARED_PORTS_KEY, "")
        lines = raw if isinstance(raw, list) else str(raw or "").splitlines()
        ports = []
        for line in lines:
            try:
                ports.append(parse_shared_port(str(line)))
            except ForwardSpecError:
                continue
        return unique_ports(ports)

    def save_shared_ports(self, ports: tuple[SharedPort, ...]) -> None:
        """Remember the host's shared game ports (not in :class:`AppSettings`: no ``changed``)."""
        self._store.setValue(_SHARED_PORTS_KEY, "\n".join(str(port) for port in ports))
        self._store.sync()

    def update(self, **changes: Any) -> AppSettings:
        """Save the stored settings with ``changes`` applied; returns the result."""
        settings = dataclasses.replace(self.load(), **changes)
        self.save(settings)
        return settings


def _convert(raw: object, default: object) -> object:
    """``raw`` as the type of ``default`` (INI files hand back strings)."""
    if isinstance(default, bool):
        if isinstance(raw, str):
            return raw.strip().lower() in ("true", "1", "yes", "on")
        return bool(raw)
    if isinstance(default, int):
        try:
            return int(str(raw))
        except ValueError:
            return default
    if isinstance(default, tuple):
        if isinstance(raw, list | tuple):
            return tuple(str(item) for item in raw if str(item))
        return tuple(str(raw).split())
    return str(raw)
