"""The two data channels of LobbyHost's contract, as users of a :class:`PeerLink`.

The contract (browser and game clients rely on it; see README):

* ``lobby``: reliable, ordered; JSON text messages:
  ``{"type":"ping","t":N}`` answered by ``{"type":"pong","t":N}`` (either side
  may ping; ``t`` is the sender's clock in ms and comes back unchanged),
  ``{"type":"chat","text":"..."}``, and ``{"type":"bye","reason":R}`` before a
  deliberate close (R is ``closed``, ``kicked`` or ``left``). Unknown types are
  ignored, so the contract can grow. The link is open when this channel is.
* ``game``: reliable, ordered; the game's own data, passed through untouched.

The host (the offerer) opens both; the guest takes them as they come.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any, Final

from aiortc import RTCDataChannel

from ..session_values import LinkState
from .link import PeerLink

LOBBY_CHANNEL: Final = "lobby"
GAME_CHANNEL: Final = "game"
MAX_CHAT_LENGTH: Final = 2000

logger = logging.getLogger(__name__)


class LobbyChannel:
    """The ``lobby`` channel: chat, pings for RTT, and bye; it opens the link.

    Callbacks (optional, called on the event loop): ``on_chat(text)``, ``on_rtt(ms)``.
    """

    def __init__(self, link: PeerLink, *, ping_interval: float = 2.0) -> None:
        self.link = link
        self.on_chat: Callable[[str], None] | None = None
        self.on_rtt: Callable[[float], None] | None = None
        self._ping_interval = ping_interval
        self._channel: RTCDataChannel | None = None
        self._pinger: asyncio.Task[None] | None = None
        self._early_chat: list[dict[str, Any]] = []
        link.on_channel(LOBBY_CHANNEL, self._attach)
        link.add_state_listener(self._on_link_state)

    def open(self) -> None:
        """Offerer side: create the channel (before the offer)."""
        self.link.open_channel(LOBBY_CHANNEL, ordered=True)

    def send_chat(self, text: str) -> None:
        """Send chat now, or as soon as the link opens (chat typed early is not lost)."""
        message = {"type": "chat", "text": text[:MAX_CHAT_LENGTH]}
        if self.link.state is LinkState.CONNECTING:
            self._early_chat.append(message)
        else:
            self._send(message)

    def ping(self) -> None:
        self._send({"type": "ping", "t": _now_ms()})

    async def close(self, bye: str | None = None) -> None:
        """Stop pinging; with ``bye`` (``closed``, ``kicked``, ``left``), first tell the other side.

        Call it before the link closes: waiting for the pinger to stop gives the
        bye its turn to leave before the peer connection goes.
        """
        if bye is not None:
            self._send({"type": "bye", "reason": bye})
        pinger, self._pinger = self._pinger, None
        if pinger is not None:
            pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pinger

    # Internals ----------------------------------------------------------------------

    def _attach(self, channel: RTCDataChannel) -> None:
        self._channel = channel
        channel.on("message", self._on_message)
        channel.on("close", self._on_close)
        if channel.readyState == "open":
            self._on_open()
        else:
            channel.on("open", self._on_open)

    def _send(self, message: dict[str, Any]) -> None:
        if self._channel is not None:
            self.link.send(self._channel, json.dumps(message, separators=(",", ":")))

    def _on_open(self) -> None:
        self.link.mark_open()
        self._pinger = asyncio.create_task(self._ping_forever(), name="peer-pinger")
        for message in self._early_chat:
            self._send(message)
        self._early_chat.clear()

    def _on_close(self) -> None:
        if self.link.state is LinkState.CONNECTED:
            self.link.mark_closed()

    def _on_link_state(self, link: PeerLink) -> None:
        if link.state is not LinkState.CONNECTED and self._pinger is not None:
            self._pinger.cancel()

    def _on_message(self, data: str | bytes) -> None:
        try:
            message = json.loads(data)
            kind = message["type"]
        except (ValueError, KeyError, TypeError):
            logger.info("ignoring a lobby message that is not JSON with a type")
            return
        if kind == "ping":
            self._send({"type": "pong", "t": message.get("t")})
        elif kind == "pong":
            t = message.get("t")
            if isinstance(t, int | float):
                rtt_ms = max(0.0, _now_ms() - t)
                self.link.record_rtt(rtt_ms)
                if self.on_rtt is not None:
                    self.on_rtt(rtt_ms)
        elif kind == "chat":
            text = message.get("text")
            if isinstance(text, str) and text.strip() and self.on_chat is not None:
                self.on_chat(text[:MAX_CHAT_LENGTH])
        elif kind == "bye":
            reason = message.get("reason")
            self.link.mark_closed(reason if isinstance(reason, str) else "left")

    async def _ping_forever(self) -> None:
        while self.link.state is LinkState.CONNECTED:
            self.ping()
            await asyncio.sleep(self._ping_interval)  # the ping period itself


class GameChannel:
    """The ``game`` channel: the game's own data, text or binary, passed through untouched.

    Callback (optional): ``on_message(data)``.
    """

    def __init__(self, link: PeerLink) -> None:
        self.link = link
        self.on_message: Callable[[str | bytes], None] | None = None
        self._channel: RTCDataChannel | None = None
        link.on_channel(GAME_CHANNEL, self._attach)

    def open(self) -> None:
        """Offerer side: create the channel (before the offer)."""
        self.link.open_channel(GAME_CHANNEL, ordered=True)

    def send(self, data: str | bytes) -> bool:
        """Send if the channel is open; ``False`` if it is not (yet)."""
        return self._channel is not None and self.link.send(self._channel, data)

    def _attach(self, channel: RTCDataChannel) -> None:
        self._channel = channel
        channel.on("message", self._on_message)

    def _on_message(self, data: str | bytes) -> None:
        if self.on_message is not None:
            self.on_message(data)


def _now_ms() -> float:
    return time.monotonic() * 1000.0
