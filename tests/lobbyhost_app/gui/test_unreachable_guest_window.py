"""The host window when a guest cannot be reached: the host is told, the seat is freed."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt
from pytestqt.qtbot import QtBot

from lobbyhost_app.net.guest import GuestSession
from lobbyhost_app.session_values import GuestPhase, HostState
from signalling_server.protocol import KickReason
from tests.lobbyhost_app.net.test_unreachable_guests import AnswerLost
from tests.timeouts import scaled

from .helpers import LOOPBACK, running_app, wait_until


async def test_the_host_is_told_a_guest_could_not_be_reached_and_the_guest_why(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """Accepting a guest no network path reaches: after the handshake time the log says so, the peers table is empty, the guest reads unreachable."""
    async with running_app(settings_store) as parts:
        parts.host.handshake_timeout = scaled(1.0)
        qtbot.mouseClick(parts.window.host_view.open_button, Qt.MouseButton.LeftButton)
        await wait_until(lambda: parts.host.state is HostState.OPEN, parts.host.state_changed)
        assert parts.host.server_url is not None and parts.host.code is not None
        signalling = AnswerLost(parts.host.server_url, reconnect=False)
        await signalling.connect()
        guest = GuestSession(signalling, LOOPBACK)
        try:
            await guest.join(parts.host.code, "Bob")
            cards = parts.window.host_view.request_list
            await wait_until(lambda: bool(cards.cards), parts.host.requests.rowsInserted)
            qtbot.mouseClick(cards.cards[0].accept_button, Qt.MouseButton.LeftButton)
            ended = await guest.wait_ended()
            assert (ended.phase, ended.reason) == (GuestPhase.FAILED, KickReason.UNREACHABLE)
            log = parts.window.host_view.log_panel
            said = "Bob could not be reached (no network path worked; its seat is free again)"
            await wait_until(lambda: said in log.plain_text(), parts.host.message_logged)
            assert parts.host.peers.rowCount() == 0
        finally:
            await signalling.close()
