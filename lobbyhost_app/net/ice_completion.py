"""ICE done when its checks are: aioice's ``connect()`` returns once a pair is nominated.

aioice (under aiortc) starts one check every 20 ms (RFC 8445's pacing timer
Ta) and looks at the check list's outcome only between two of them: a pair
nominated 2 ms after the first check is reported about 18 ms later, and DTLS,
which waits for ICE, starts that much later. Timed on loopback with Chromium as
the guest, that was most of the gap between ICE being connected on the
browser's side and on the host's (README, "Browser guest").

:func:`finish_ice_promptly` leaves aioice's checks, pacing and failures as they
are, and makes one connection's ``connect()`` return the moment the check list
completes: it stops aioice's loop in its pacing sleep and does what aioice
does after it (cancel the checks still running, start the consent checks of
RFC 7675). A failure is still reported by aioice itself. Applied by
:class:`~lobbyhost_app.net.link.PeerLink` next to
:func:`~lobbyhost_app.net.route_preference.prefer_direct_pairs`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Final

from .route_preference import ice_connection

if TYPE_CHECKING:
    from aiortc import RTCPeerConnection

logger = logging.getLogger(__name__)

_MARK: Final = "_lobbyhost_finishes_promptly"
#: The parts of aioice's Connection this leans on (aioice 0.13 has them all).
_AIOICE_NEEDS: Final = (
    "connect",
    "query_consent",
    "_check_list",
    "_check_list_state",
    "_query_consent_task",
)
#: aioice's value for a completed check list (``aioice.ice.ICE_COMPLETED``).
_COMPLETED: Final = 1


def finish_ice_promptly(pc: RTCPeerConnection) -> bool:
    """Have ``pc``'s ICE report completion at once; ``False``: its ICE transport is not there yet.

    Call once the data channel transport exists and before ``connect()`` starts
    (where :func:`~lobbyhost_app.net.route_preference.prefer_direct_pairs` is
    called); calling again is harmless.
    """
    connection = ice_connection(pc)
    if connection is None:
        return False
    if getattr(connection, _MARK, False):
        return True
    setattr(connection, _MARK, True)
    if not all(hasattr(connection, name) for name in _AIOICE_NEEDS):
        logger.warning("this aioice has no %s: ICE completes at aioice's pace", _AIOICE_NEEDS)
        return True
    outcome: list[int] = []
    settled = asyncio.Event()
    queue = connection._check_list_state
    put = queue.put_nowait

    def announce(state: int) -> None:
        put(state)
        outcome.append(state)
        settled.set()

    queue.put_nowait = announce
    connect: Callable[[], Coroutine[Any, Any, None]] = connection.connect

    async def connect_promptly() -> None:
        checking = asyncio.ensure_future(connect())
        waiting = asyncio.ensure_future(settled.wait())
        try:
            await asyncio.wait((checking, waiting), return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            checking.cancel()
            raise
        finally:
            waiting.cancel()
        if checking.done() or outcome[:1] != [_COMPLETED]:
            await checking  # done, or failed: aioice says so itself (and raises)
            return
        # Completed while aioice's loop sleeps out its pacing tick (its only pause
        # before it reads the outcome): stop it there and finish as it would.
        checking.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await checking
        queue.get_nowait()  # the outcome aioice would have read
        for pair in connection._check_list:
            if pair.task is not None:
                pair.task.cancel()
        connection._query_consent_task = asyncio.create_task(connection.query_consent())

    connection.connect = connect_promptly
    return True


__all__ = ["finish_ice_promptly"]
