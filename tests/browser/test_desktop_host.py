"""The browser guest page against the desktop app's host window (pytest-qt, qasync), on loopback."""

from __future__ import annotations

from playwright.async_api import expect
from PySide6.QtCore import QSettings, Qt
from pytestqt.qtbot import QtBot

from tests.lobbyhost_app.gui.helpers import Hosting, hosting, wait_until

from .harness import HOSTILE_NAME, GuestPage, page_in_chromium


async def card_for(h: Hosting, name: str) -> None:
    """Until the join request of ``name`` is a card in the window."""
    cards = h.view.request_list
    await wait_until(
        lambda: any(card.name_label.text() == name for card in cards.cards),
        h.controller.requests.rowsInserted,
    )


async def host_says(h: Hosting, qtbot: QtBot, text: str) -> None:
    """Type chat into the host window's log panel and press Enter."""
    h.click(h.view.log_panel.chat_input)
    qtbot.keyClicks(h.view.log_panel.chat_input, text)
    qtbot.keyClick(h.view.log_panel.chat_input, Qt.Key.Key_Return)


async def join_and_accept(h: Hosting, guest: GuestPage, name: str) -> None:
    await guest.join(name)
    await guest.expect_status("Waiting for the host")
    await card_for(h, name)
    h.click(h.view.request_list.cards[0].accept_button)
    await guest.expect_status("Connected$")


async def test_invite_link_page_connects_chats_and_sees_the_lobby_close(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """The window's invite link opens the page with the code; accepted, it connects, chats both ways, and sees Close lobby."""
    async with hosting(qtbot, settings_store) as h:
        link = h.view.invite_edit.text()
        assert link.endswith(f"/join/{h.code}")
        async with page_in_chromium(link) as guest:
            await expect(guest.page.get_by_label("Lobby code")).to_have_value(h.code)
            await join_and_accept(h, guest, "Bob")
            await guest.expect_rtt()

            await guest.say("hello from the browser")
            log = h.view.log_panel
            await wait_until(
                lambda: "Bob: hello from the browser" in log.plain_text(),
                h.controller.chat_received,
            )
            await host_says(h, qtbot, "welcome, Bob")
            await guest.expect_chat("Ann", "welcome, Bob")

            h.close_lobby()
            await guest.expect_status("Lobby closed$")
            await expect(guest.page.get_by_label("Message")).to_be_disabled()
            await expect(guest.page.get_by_role("button", name="Join again")).to_be_enabled()
            guest.assert_clean()


async def test_rejection_shows_the_hosts_reason(qtbot: QtBot, settings_store: QSettings) -> None:
    """The reason typed on the request card reaches the page's status: 'Rejected: <reason>'."""
    async with (
        hosting(qtbot, settings_store) as h,
        page_in_chromium(h.view.invite_edit.text()) as guest,
    ):
        await guest.join("Mallory")
        await card_for(h, "Mallory")
        card = h.view.request_list.cards[0]
        h.click(card.reason_input)
        qtbot.keyClicks(card.reason_input, "the lobby is full")
        h.click(card.reject_button)
        await guest.expect_status("Rejected: the lobby is full$")
        await expect(guest.page.get_by_label("Your name")).to_be_enabled()
        guest.assert_clean()


async def test_hostile_name_and_chat_are_text_on_the_page_and_in_the_window(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """A name and chat made of HTML stay text: on the page (no element, no dialog) and on the host's card."""
    async with (
        hosting(qtbot, settings_store) as h,
        page_in_chromium(h.view.invite_edit.text()) as guest,
    ):
        await guest.join(HOSTILE_NAME)
        await card_for(h, HOSTILE_NAME)
        card = h.view.request_list.cards[0]
        assert card.name_label.textFormat() is Qt.TextFormat.PlainText
        h.click(card.accept_button)
        await guest.expect_status("Connected$")
        await expect(guest.page.locator("#who")).to_have_text(f"You are {HOSTILE_NAME}")

        await host_says(h, qtbot, HOSTILE_NAME)
        await guest.expect_chat("Ann", HOSTILE_NAME)
        await guest.say(HOSTILE_NAME)
        await guest.expect_chat("You", HOSTILE_NAME)
        log = h.view.log_panel
        await wait_until(
            lambda: f"{HOSTILE_NAME}: {HOSTILE_NAME}" in log.plain_text(),
            h.controller.chat_received,
        )
        await expect(guest.page.locator("img")).to_have_count(0)
        guest.assert_clean()
