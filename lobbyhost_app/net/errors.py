"""Errors of the client side's network layer."""

from __future__ import annotations

from typing import Any

from ..errors import LobbyHostError


class NetError(LobbyHostError):
    """A connection problem: unreachable server, lost socket, no answer in time."""


class ServerError(NetError):
    """The signalling server answered an action with an ``error`` event."""

    def __init__(self, code: str, message: str, action: str | None) -> None:
        super().__init__(message)
        self.code = code
        self.action = action

    @classmethod
    def from_content(cls, content: dict[str, Any]) -> ServerError:
        return cls(
            str(content.get("code", "unknown")),
            str(content.get("message", "the server refused the request")),
            content.get("action"),
        )


class PeerError(NetError):
    """A WebRTC peer connection could not be set up or failed."""
