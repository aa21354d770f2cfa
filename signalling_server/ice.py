"""ICE servers handed to clients, with TURN REST credentials minted on demand.

TURN REST credentials follow the scheme coturn's ``use-auth-secret`` checks:
``username = "<expiry unix time>:<name>"`` and
``credential = base64(HMAC-SHA1(secret, username))``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field

from .errors import ConfigError
from .protocol.events import IceServerInfo


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnServer:
    """A TURN server with static credentials."""

    urls: tuple[str, ...]
    username: str
    credential: str

    def __post_init__(self) -> None:
        _check_urls(self.urls, ("turn:", "turns:"))


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnSecretServer:
    """A TURN server sharing ``secret`` with this server; credentials are minted."""

    urls: tuple[str, ...]
    secret: str = field(repr=False)
    ttl_s: int = 86_400

    def __post_init__(self) -> None:
        _check_urls(self.urls, ("turn:", "turns:"))
        if not self.secret:
            raise ConfigError("a TURN shared secret must not be empty")
        if self.ttl_s <= 0:
            raise ConfigError("TURN credential ttl_s must be positive")


@dataclass(frozen=True, slots=True, kw_only=True)
class IceConfig:
    """Which STUN/TURN servers clients are told about. Empty by default: LAN play needs none."""

    stun_urls: tuple[str, ...] = ()
    turn: tuple[TurnServer, ...] = ()
    turn_secret: tuple[TurnSecretServer, ...] = ()

    def __post_init__(self) -> None:
        _check_urls(self.stun_urls, ("stun:", "stuns:"), allow_empty=True)

    def servers_for(self, name: str, now_wall: float) -> list[IceServerInfo]:
        """The ``ice_servers`` list for one client (``RTCIceServer`` entries)."""
        servers: list[IceServerInfo] = []
        if self.stun_urls:
            servers.append(IceServerInfo(urls=list(self.stun_urls)))
        for turn in self.turn:
            servers.append(
                IceServerInfo(
                    urls=list(turn.urls), username=turn.username, credential=turn.credential
                )
            )
        for shared in self.turn_secret:
            username, credential = turn_rest_credentials(
                shared.secret, name, expires_at=int(now_wall) + shared.ttl_s
            )
            servers.append(
                IceServerInfo(urls=list(shared.urls), username=username, credential=credential)
            )
        return servers


def turn_rest_credentials(secret: str, name: str, *, expires_at: int) -> tuple[str, str]:
    """``(username, credential)`` valid until ``expires_at`` for a TURN REST server."""
    username = f"{expires_at}:{name}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")


def _check_urls(urls: object, schemes: tuple[str, ...], *, allow_empty: bool = False) -> None:
    if not isinstance(urls, tuple) or not all(isinstance(url, str) for url in urls):
        raise ConfigError(f"ICE server urls must be a list of strings, not {urls!r}")
    if not urls and not allow_empty:
        raise ConfigError("an ICE server needs at least one URL")
    for url in urls:
        if not url.startswith(schemes):
            raise ConfigError(f"{url!r} should start with {' or '.join(schemes)}")
