"""Direct routes first: candidate pairs through a TURN relay wait a moment before ICE checks them.

aioice (under aiortc) nominates aggressively: the controlling side (the host,
which offers) nominates the first pair whose check succeeds. A check through a
relay often succeeds before a direct pair between two cone NATs has punched
through (the first checks each way are dropped by the other side's NAT until
that side has sent its own), so 20-40 % of such sessions went through the relay,
which costs the TURN operator bandwidth and adds a hop.

:func:`prefer_direct_pairs` holds back the checks of every pair with a relay
candidate on either end for ``relay_delay_s`` after the first check, unless no
direct pair is left that could still succeed. Direct pairs keep aioice's order
and timing; a symmetric NAT still connects through the relay, one delay later.
It works on aioice's connection of a peer connection (aiortc exposes no ICE
option for it) and is applied by :class:`~lobbyhost_app.net.link.PeerLink`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from aiortc import RTCPeerConnection

logger = logging.getLogger(__name__)

#: Long enough for a direct pair between two port-restricted cone NATs to answer
#: (its second try goes 0.5 s after the first), short next to a relayed join.
DEFAULT_RELAY_DELAY_S: Final = 1.0
_MARK: Final = "_lobbyhost_relay_delay_s"
#: The parts of aioice's Connection this leans on (aioice 0.13 has them all).
_AIOICE_NEEDS: Final = (
    "check_start",
    "check_state",
    "_check_list",
    "_check_list_maybe_fail",
    "_remote_candidates_expected",
)

CheckStart = Callable[[Any], Coroutine[Any, Any, None]]


def ice_connection(pc: RTCPeerConnection) -> Any | None:
    """aioice's ``Connection`` under ``pc``'s data channel transport, once it exists."""
    try:
        return pc.sctp.transport.transport._connection  # type: ignore[union-attr]
    except AttributeError:
        return None


def prefer_direct_pairs(pc: RTCPeerConnection, relay_delay_s: float) -> bool:
    """Hold back relayed pairs' checks on ``pc`` by ``relay_delay_s``; ``False``: not yet possible.

    Call once the data channel transport exists (the offerer: after
    ``createDataChannel``; the answerer: after the offer is applied) and before
    checks start; calling again is harmless. Zero or less leaves aioice as it is.
    """
    connection = ice_connection(pc)
    if connection is None:
        return False
    if relay_delay_s <= 0 or getattr(connection, _MARK, None) is not None:
        return True
    if not all(hasattr(connection, name) for name in _AIOICE_NEEDS):
        logger.warning("this aioice has no %s: relayed pairs are not held back", _AIOICE_NEEDS)
        setattr(connection, _MARK, 0.0)
        return True
    from aioice.ice import CandidatePair

    loop = asyncio.get_running_loop()
    check_start_now: CheckStart = connection.check_start
    check_list_progressed: Callable[[], None] = connection._check_list_maybe_fail
    #: Set when relayed checks may go: the delay is over, or no direct pair can succeed.
    relay_released = asyncio.Event()

    def is_relayed(pair: Any) -> bool:
        return "relay" in (pair.local_candidate.type, pair.remote_candidate.type)

    def direct_pair_may_succeed() -> bool:
        if connection._remote_candidates_expected():
            return True  # more remote candidates may come, and with them direct pairs
        return any(
            not is_relayed(p) and p.state is not CandidatePair.State.FAILED
            for p in connection._check_list
        )

    delay_timer: list[asyncio.TimerHandle] = []  # started by the first check

    async def check_start(pair: Any) -> None:
        if not delay_timer:
            delay_timer.append(loop.call_later(relay_delay_s, relay_released.set))
        if not relay_released.is_set() and not direct_pair_may_succeed():
            relay_released.set()
        if is_relayed(pair) and not relay_released.is_set():
            # In progress while held back: aioice neither restarts it nor counts
            # the check list as failed, and goes on with the frozen pairs behind it.
            connection.check_state(pair, CandidatePair.State.IN_PROGRESS)
            await relay_released.wait()
        await check_start_now(pair)

    def check_list_maybe_fail() -> None:
        # Called by aioice after every check and at the end of remote candidates;
        # before the first check the pairs are not formed yet: nothing to judge.
        if delay_timer and not relay_released.is_set() and not direct_pair_may_succeed():
            relay_released.set()
        check_list_progressed()

    connection.check_start = check_start
    connection._check_list_maybe_fail = check_list_maybe_fail
    setattr(connection, _MARK, relay_delay_s)
    return True


__all__ = ["DEFAULT_RELAY_DELAY_S", "ice_connection", "prefer_direct_pairs"]
