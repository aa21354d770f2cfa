"""HostController details that need no network: batching of peer updates."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from lobbyhost_app.controllers.host_controller import PEER_FLUSH_MS, HostController
from lobbyhost_app.controllers.settings import Settings
from lobbyhost_app.net.host import PeerGone, PeerUpdated
from lobbyhost_app.net.link import LinkState, LinkStats
from tests.timeouts import scaled


def update(peer_id: int, rtt: float) -> PeerUpdated:
    stats = LinkStats(LinkState.CONNECTED, rtt, "host", 0, 0, None)
    return PeerUpdated(f"c{peer_id}", f"P{peer_id}", peer_id, stats)


async def test_peer_updates_reach_the_model_in_one_batch(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """A burst of updates for two peers becomes one batch holding each peer's latest state."""
    controller = HostController(Settings(settings_store))
    batches: list[list[PeerUpdated]] = []
    flushed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_batch(batch: list[PeerUpdated]) -> None:
        batches.append(batch)
        if not flushed.done():
            flushed.set_result(None)

    controller.peers_updated.connect(on_batch)
    for rtt in range(100):  # what HostSession's listener would be handed
        controller._on_session_event(update(2, float(rtt)))
        controller._on_session_event(update(3, float(rtt)))
    controller._on_session_event(update(4, 1.0))
    controller._on_session_event(PeerGone("c4", "P4", 4, "left"))  # gone before the flush
    assert batches == []  # nothing per event
    async with asyncio.timeout(scaled(PEER_FLUSH_MS / 1000 + 2)):
        await flushed
    assert len(batches) == 1
    assert {(u.peer_id, u.stats.rtt_ms) for u in batches[0]} == {(2, 99.0), (3, 99.0)}
    assert controller.peers.rowCount() == 2
