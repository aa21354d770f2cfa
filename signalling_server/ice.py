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
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnServer:
    """A TURN server with static credentials."""

    urls: tuple[str, ...]
    username: str
    credential: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnSecretServer:
    """A TURN server sharing ``secret`` with this server; credentials are minted."""

    urls: tuple[str, ...]
    secret: str = field(repr=False)
    ttl_s: int = 86_400


@dataclass(frozen=True, slots=True, kw_only=True)
class IceConfig:
    """Which STUN/TURN servers clients are told about. Empty by default: LAN play needs none."""

    stun_urls: tuple[str, ...] = ()
    turn: tuple[TurnServer, ...] = ()
    turn_secret: tuple[TurnSecretServer, ...] = ()

    def servers_for(self, name: str, now_wall: float) -> list[dict[str, Any]]:
        """The ``ice_servers`` list for one client, as RTCIceServer dicts."""
        servers: list[dict[str, Any]] = []
        if self.stun_urls:
            servers.append({"urls": list(self.stun_urls)})
        for turn in self.turn:
            servers.append(
                {"urls": list(turn.urls), "username": turn.username, "credential": turn.credential}
            )
        for shared in self.turn_secret:
            username, credential = turn_rest_credentials(
                shared.secret, name, expires_at=int(now_wall) + shared.ttl_s
            )
            servers.append(
                {"urls": list(shared.urls), "username": username, "credential": credential}
            )
        return servers


def turn_rest_credentials(secret: str, name: str, *, expires_at: int) -> tuple[str, str]:
    """``(username, credential)`` valid until ``expires_at`` for a TURN REST server."""
    username = f"{expires_at}:{name}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")
