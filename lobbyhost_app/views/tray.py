"""The tray icon's menu: show the window, copy the invite link, quit."""

from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QWidget


class TrayMenu(QMenu):
    """Three actions; the main window connects them and keeps them current.

    Built whether or not the desktop has a system tray, so the window (and the
    tests) can reach the same actions either way.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.show_action = QAction("&Show LobbyHost", self)
        self.copy_link_action = QAction("&Copy invite link", self)
        self.copy_link_action.setEnabled(False)  # until a lobby is open
        self.quit_action = QAction("&Quit", self)
        self.addAction(self.show_action)
        self.addAction(self.copy_link_action)
        self.addSeparator()
        self.addAction(self.quit_action)
