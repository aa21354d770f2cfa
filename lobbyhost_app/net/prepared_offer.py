"""The host's next offer, made before anyone is accepted, so a handshake starts at once.

Making an offer (a peer connection, its DTLS certificate, the two data
channels, gathering ICE candidates into the local description) takes a few
milliseconds of the event loop, and it used to sit between ``guest_accepted``
and the offer leaving. :class:`OfferPreparer` keeps one such link ready; the
host takes it when a guest is accepted and has the next one made once that
guest's handshake is over, off the critical path. A prepared link that waited
too long, or was made under other ICE settings, is closed and not used.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from .channels import GameChannel, LobbyChannel
from .link import PeerLink

logger = logging.getLogger(__name__)

#: A prepared offer older than this is not used: its candidates (and a TURN
#: allocation, when there is one) may be stale.
MAX_AGE_S = 60.0
#: How long closing waits for an offer being made to finish before cancelling it.
GATHERING_WAIT_S = 10.0


@dataclass(frozen=True, slots=True)
class LinkParts:
    """A peer link with the lobby and game channels of LobbyHost's contract."""

    link: PeerLink
    lobby: LobbyChannel
    game: GameChannel


@dataclass(frozen=True, slots=True)
class _Prepared:
    parts: LinkParts
    made_at: float
    settings: Hashable


class OfferPreparer:
    """Keeps one link ready with its channels open and its offer as local description."""

    def __init__(
        self,
        make_parts: Callable[[], LinkParts],
        settings: Callable[[], Hashable],
        *,
        max_age: float = MAX_AGE_S,
        clock: Callable[[], float] = time.monotonic,
        enabled: bool = True,
    ) -> None:
        """``settings()`` names what the offer depends on (ICE servers, allow-list);
        a preparer that is not ``enabled`` never prepares (every offer is made on accept)."""
        self._make_parts = make_parts
        self._settings = settings
        self._max_age = max_age
        self._clock = clock
        self._task: asyncio.Task[_Prepared] | None = None
        self._closed = not enabled

    def prepare(self) -> None:
        """Start making the next offer, unless one is ready or being made."""
        if self._task is None and not self._closed:
            self._task = asyncio.get_running_loop().create_task(self._make())

    def take(self) -> LinkParts | None:
        """The prepared link if it is ready and still good; ``None`` otherwise."""
        task = self._task
        if task is None or not task.done():
            return None  # being made: the caller makes its own, this one waits for the next
        self._task = None
        if task.cancelled() or task.exception() is not None:
            return None
        prepared = task.result()
        age = self._clock() - prepared.made_at
        if age > self._max_age or prepared.settings != self._settings():
            logger.debug("discarding a prepared offer (%.0f s old)", age)
            self._discard(prepared.parts)
            return None
        return prepared.parts

    async def made(self) -> None:
        """Wait until the offer being made (if any) is ready or has failed."""
        task = self._task
        if task is not None:
            await asyncio.wait([task])

    async def close(self) -> None:
        """Stop preparing and close a prepared link that was never used."""
        self._closed = True
        task, self._task = self._task, None
        if task is None:
            return
        if not task.done():
            # Cancelled mid-gathering, aioice can strand a TURN allocation's socket that
            # no close reaches: let the offer finish (gathering is bounded), then close it.
            await asyncio.wait([task], timeout=GATHERING_WAIT_S)
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            prepared = await task
            await prepared.parts.link.close()

    async def _make(self) -> _Prepared:
        settings = self._settings()
        parts = self._make_parts()
        try:
            parts.lobby.open()
            parts.game.open()
            pc = parts.link.pc
            await pc.setLocalDescription(await pc.createOffer())
        except BaseException:
            await parts.link.close()
            raise
        return _Prepared(parts, self._clock(), settings)

    def _discard(self, parts: LinkParts) -> None:
        task = asyncio.get_running_loop().create_task(parts.link.close())
        # Held until done: a task nobody references may be collected mid-way.
        _closing.add(task)
        task.add_done_callback(_closing.discard)


_closing: set[asyncio.Task[None]] = set()

__all__ = ["MAX_AGE_S", "LinkParts", "OfferPreparer"]
