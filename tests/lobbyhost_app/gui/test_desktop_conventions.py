"""Desktop conventions in the real window: shortcuts, About, layout memory, confirmations, tray, log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDialogButtonBox, QMenu, QSplitter, QSystemTrayIcon
from pytestqt.qtbot import QtBot

from lobbyhost_app.app import AppParts, build
from lobbyhost_app.controllers import host_controller
from lobbyhost_app.controllers.host_controller import HostState
from lobbyhost_app.controllers.settings import Settings
from lobbyhost_app.invite_address import AddressSource, InviteAddress
from lobbyhost_app.net.guest import GuestPhase
from tests.qt_fixtures import loopback_settings
from tests.timeouts import scaled

from .helpers import Hosting, hosting, running_app, wait_until

ROOT = Path(__file__).resolve().parents[3]


def shown_window(qtbot: QtBot, store: QSettings) -> AppParts:
    """The real main window, shown and active, that closes for good when the test ends."""
    parts = build(store)
    qtbot.addWidget(parts.window)
    parts.window.allow_close()
    with qtbot.waitActive(parts.window):  # a synchronous test: no asyncio task to stall
        parts.window.show()
        parts.window.activateWindow()
    return parts


def menu_action(parts: AppParts, menu_title: str, action_text: str) -> QMenu:
    """The menu bar's menu titled ``menu_title``, checked to hold ``action_text``."""
    for action in parts.window.menuBar().actions():
        menu = action.menu()
        if action.text() == menu_title and isinstance(menu, QMenu):
            assert action_text in [item.text() for item in menu.actions()]
            return menu
    raise AssertionError(f"no menu {menu_title!r}")


def test_ctrl_comma_opens_settings(qtbot: QtBot, settings_store: QSettings) -> None:
    """Ctrl+, (the desktop convention for preferences) opens the settings dialog."""
    parts = shown_window(qtbot, settings_store)
    assert parts.window.settings_dialog is None
    qtbot.keyClick(parts.window, Qt.Key.Key_Comma, Qt.KeyboardModifier.ControlModifier)
    dialog = parts.window.settings_dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible()


def test_ctrl_q_quits(qtbot: QtBot, settings_store: QSettings) -> None:
    """Ctrl+Q asks the app to quit (no guests connected: without a question)."""
    parts = build(settings_store)
    qtbot.addWidget(parts.window)
    with qtbot.waitActive(parts.window):
        parts.window.show()
        parts.window.activateWindow()
    qtbot.keyClick(parts.window, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    assert parts.quit_requested.is_set()
    parts.window.allow_close()


def test_help_about_shows_the_version(qtbot: QtBot, settings_store: QSettings) -> None:
    """Help > About LobbyHost opens a dialog naming the installed version; Close closes it."""
    parts = shown_window(qtbot, settings_store)
    help_menu = menu_action(parts, "&Help", "&About LobbyHost")
    about_action = next(a for a in help_menu.actions() if a.text() == "&About LobbyHost")
    about_action.trigger()
    dialog = parts.window.about_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.title_label.text() == f"LobbyHost {version('lobbyhost')}"
    assert "Qt " in dialog.versions_label.text() and "Python " in dialog.versions_label.text()
    qtbot.mouseClick(dialog.buttons.buttons()[0], Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()


#: Reads the layout a new window takes from the INI file given, in a fresh process.
READ_LAYOUT = """
import json, sys
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QSplitter
from lobbyhost_app.app import build, create_application

app = create_application(["layout"])
parts = build(QSettings(sys.argv[1], QSettings.Format.IniFormat))
parts.window.show()
app.processEvents()
splitters = parts.window.host_view.findChildren(QSplitter)
size = parts.window.size()
print(json.dumps({"size": [size.width(), size.height()], "splitters": [s.sizes() for s in splitters]}))
parts.window.allow_close()
parts.window.close()
"""


def test_window_size_and_splitters_are_remembered_across_restarts(
    qtbot: QtBot, tmp_path: Path
) -> None:
    """The size and splitter positions a window closes with come back in a new process."""
    path = tmp_path / "layout.ini"
    parts = build(loopback_settings(path))
    qtbot.addWidget(parts.window)
    parts.window.show()
    parts.window.resize(660, 540)  # inside the offscreen screen (800 x 600)
    size = parts.window.size()
    assert (size.width(), size.height()) != (1040, 760)  # not what a new window starts with
    splitters = parts.window.host_view.findChildren(QSplitter)
    assert splitters
    for splitter in splitters:
        total = sum(splitter.sizes())
        splitter.setSizes([total // 4, total - total // 4])
    wanted = [splitter.sizes() for splitter in splitters]
    parts.window.allow_close()
    parts.window.close()

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", READ_LAYOUT, str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=scaled(60),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    layout = json.loads(done.stdout)
    assert layout["size"] == [size.width(), size.height()]
    assert layout["splitters"] == wanted


async def test_close_lobby_asks_first_while_guests_are_connected(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """Close lobby with a guest connected asks first: Cancel keeps the lobby, Close lobby ends it."""
    async with hosting(qtbot, settings_store) as h:
        guest = await h.add_guest("Bob")
        await h.accept_first(guest)
        h.click(h.view.close_button)
        question = h.view.close_confirmation
        assert question is not None and question.isVisible()
        assert question.text() == "1 guest is connected. Closing the lobby disconnects everyone."
        assert question.windowModality() is Qt.WindowModality.WindowModal  # open(), not exec()
        h.click(question.cancel_button)
        assert h.view.close_confirmation is None
        assert h.controller.state is HostState.OPEN and h.controller.peers.rowCount() == 1

        h.click(h.view.close_button)
        question = h.view.close_confirmation
        assert question is not None
        h.click(question.confirm_button)
        await guest.wait_phase(GuestPhase.LOBBY_CLOSED)
        c = h.controller
        await wait_until(lambda: c.state is HostState.IDLE, c.state_changed)


async def test_quit_asks_first_while_guests_are_connected(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """Quit with a guest connected asks first: Cancel keeps everything, Quit asks the app to quit."""
    async with hosting(qtbot, settings_store) as h:
        window = h.parts.window
        guest = await h.add_guest("Bob")
        await h.accept_first(guest)
        window.quit_action.trigger()
        question = window.quit_confirmation
        assert question is not None and question.isVisible()
        assert "1 guest is connected" in question.text()
        h.click(question.cancel_button)
        assert not h.parts.quit_requested.is_set() and window.isVisible()

        window.quit_action.trigger()
        question = window.quit_confirmation
        assert question is not None
        h.click(question.confirm_button)
        assert h.parts.quit_requested.is_set()


async def test_quit_without_guests_asks_nothing(qtbot: QtBot, settings_store: QSettings) -> None:
    """With nobody connected, Quit asks the app to quit at once."""
    async with hosting(qtbot, settings_store) as h:
        h.parts.window.quit_action.trigger()
        assert h.parts.window.quit_confirmation is None
        assert h.parts.quit_requested.is_set()


async def test_tray_menu_shows_the_window_copies_the_link_and_quits(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """The tray menu's actions: Show brings the window back, Copy invite link, Quit."""
    async with running_app(settings_store) as parts:
        window, menu = parts.window, parts.window.tray_menu
        if QSystemTrayIcon.isSystemTrayAvailable():
            assert window.tray is not None and window.tray.contextMenu() is menu
        texts = [action.text() for action in menu.actions() if not action.isSeparator()]
        assert texts == ["&Show LobbyHost", "&Copy invite link", "&Quit"]
        assert not menu.copy_link_action.isEnabled()  # no lobby yet

        window.showMinimized()
        menu.show_action.trigger()
        assert window.isVisible() and not window.isMinimized()

        h = Hosting(qtbot, parts)
        h.click(window.host_view.open_button)
        await wait_until(lambda: parts.host.state is HostState.OPEN, parts.host.state_changed)
        assert menu.copy_link_action.isEnabled()
        QGuiApplication.clipboard().clear()
        menu.copy_link_action.trigger()
        assert QGuiApplication.clipboard().text() == parts.host.invite_link

        menu.quit_action.trigger()
        assert parts.quit_requested.is_set()


async def test_auto_accept_is_off_again_for_each_new_lobby(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """Auto-accept ticked in one lobby is off when it closes, and off at start in a new run."""
    async with hosting(qtbot, settings_store) as h:
        h.click(h.view.auto_accept_check)
        assert h.controller.settings.load().auto_accept
        h.close_lobby()
        c = h.controller
        await wait_until(lambda: c.state is HostState.IDLE, c.state_changed)
        assert not h.view.auto_accept_check.isChecked()
        assert not c.settings.load().auto_accept
        assert "Auto-accept is off again for the next lobby" in h.view.log_panel.plain_text()

    Settings(settings_store).update(auto_accept=True)  # as the last run left it
    async with running_app(settings_store) as parts:
        assert not parts.window.host_view.auto_accept_check.isChecked()
        assert not parts.settings.load().auto_accept


async def test_auto_accept_kept_on_when_the_host_pins_it_in_settings(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """With "Keep auto-accept on" ticked in Settings, auto-accept survives closing and restarts."""
    async with running_app(settings_store) as parts:
        dialog = parts.window.open_settings()
        for check in (dialog.auto_accept_check, dialog.auto_accept_pin_check):
            # On the box itself: a wide row is not clickable past its text.
            qtbot.mouseClick(check, Qt.MouseButton.LeftButton, pos=QPoint(6, check.height() // 2))
        ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
        qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
        saved = parts.settings.load()
        assert saved.auto_accept and saved.auto_accept_pinned

    async with hosting(qtbot, settings_store) as h:
        assert h.view.auto_accept_check.isChecked()
        h.close_lobby()
        c = h.controller
        await wait_until(lambda: c.state is HostState.IDLE, c.state_changed)
        assert h.view.auto_accept_check.isChecked() and c.settings.load().auto_accept


async def test_locking_and_unlocking_are_logged(qtbot: QtBot, settings_store: QSettings) -> None:
    """Ticking and unticking Locked puts a line for each in the log panel."""
    async with hosting(qtbot, settings_store) as h:
        log = h.view.log_panel
        h.click(h.view.lock_check)
        await wait_until(
            lambda: "Lobby locked: nobody new can ask to join" in log.plain_text(),
            h.controller.message_logged,
        )
        h.click(h.view.lock_check)
        await wait_until(
            lambda: "Lobby unlocked: people can ask to join again" in log.plain_text(),
            h.controller.message_logged,
        )


async def test_the_log_names_addresses_people_can_use_not_0_0_0_0(
    qtbot: QtBot, settings_store: QSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Listening on 0.0.0.0, the log gives this machine's LAN address and the invite link instead."""
    # A documentation address stands in for the LAN card; nothing ever connects to it.
    monkeypatch.setattr(host_controller, "local_addresses", lambda: ["127.0.0.1", "192.0.2.10"])
    interfaces = [
        InviteAddress("127.0.0.1", AddressSource.INTERFACE, "lo"),
        InviteAddress("192.0.2.10", AddressSource.INTERFACE, "eth0"),
    ]
    monkeypatch.setattr(host_controller, "interface_addresses", lambda: interfaces)
    Settings(settings_store).update(listen_host="0.0.0.0", listen_port=0)
    async with hosting(qtbot, settings_store) as h:
        log = h.view.log_panel.plain_text()
        port = urlsplit(h.url).port
        assert "0.0.0.0" not in log
        assert f"listening on port {port}: guests can reach it at 192.0.2.10:{port}" in log
        assert f"invite link http://192.0.2.10:{port}/join/{h.code}" in log
