"""The Join tab in a lobby with other guests: the member list and their chat, through the real window."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt
from pytestqt.qtbot import QtBot

from lobbyhost_app.net.guest import GuestPhase
from lobbyhost_app.session_values import MemberChat
from lobbyhost_app.views.join_view import JoinView

from .helpers import RealGuest, running_app, wait_until
from .test_join_window import fill_and_join, real_host, show_join_tab, wait_phase


def listed(view: JoinView) -> list[str]:
    members = view.members_list
    return [members.item(row).text() for row in range(members.count())]


async def test_join_tab_lists_members_and_shows_other_guests_chat_by_name(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """The Join tab lists the host, you and the other guest as they come and go; their chat shows with their names."""
    async with real_host(auto_accept=True) as host, running_app(settings_store) as parts:
        view = show_join_tab(qtbot, parts)
        fill_and_join(qtbot, view, host.url, host.code, "Zoe")
        await wait_phase(parts, GuestPhase.CONNECTED)
        changed = parts.guest.members_changed
        await wait_until(lambda: listed(view) == ["Ann (host)", "Zoe (you)"], changed)

        cy = RealGuest(host.url)
        try:
            session = await cy.join(host.code, "Cy")
            await cy.wait_phase(GuestPhase.CONNECTED)
            await wait_until(lambda: listed(view) == ["Ann (host)", "Zoe (you)", "Cy"], changed)

            session.send_chat("hi Zoe")
            await wait_until(
                lambda: "Cy: hi Zoe" in view.log_panel.plain_text(),
                parts.guest.member_chat_received,
            )
            qtbot.keyClicks(view.log_panel.chat_input, "hi Cy")
            qtbot.keyClick(view.log_panel.chat_input, Qt.Key.Key_Return)
            heard = await cy.events.wait_for(lambda e: isinstance(e, MemberChat))
            assert heard == MemberChat("Zoe", 2, "hi Cy")
        finally:
            await cy.close()
        await wait_until(lambda: listed(view) == ["Ann (host)", "Zoe (you)"], changed)

        qtbot.mouseClick(view.leave_button, Qt.MouseButton.LeftButton)
        await wait_phase(parts, GuestPhase.LEFT)
        await wait_until(lambda: listed(view) == [], changed)
