"""The main window: Host and Join tabs, a menu, the tray notifier, a clean quit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QMainWindow,
    QSystemTrayIcon,
    QTabWidget,
    QWidget,
)

from ..session_values import HostState, JoinRequested
from .host_view import HostView
from .join_view import JoinView
from .settings_dialog import SettingsDialog
from .widgets import app_icon

if TYPE_CHECKING:
    # Only types here: the controller modules load the network stack (aiortc).
    from ..controllers.guest_controller import GuestController
    from ..controllers.host_controller import HostController


class MainWindow(QMainWindow):
    """Host and Join modes side by side in tabs.

    Closing the window does not close it at once: it emits ``close_requested``;
    the app then shuts the controllers down (guests are told) and calls
    :meth:`allow_close` and ``close()``.

    Signals: ``close_requested()``.
    """

    close_requested = Signal()

    def __init__(
        self,
        host: HostController,
        guest: GuestController,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.host_controller = host
        self.guest_controller = guest
        self.setWindowTitle("LobbyHost")
        self.setWindowIcon(app_icon())
        self.host_view = HostView(host, self)
        self.join_view = JoinView(guest, self)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self.host_view, "Host")
        self.tabs.addTab(self.join_view, "Join")
        self.setCentralWidget(self.tabs)
        self.settings_dialog: SettingsDialog | None = None
        self._may_close = False

        menu = self.menuBar().addMenu("&LobbyHost")
        self.settings_action = QAction("&Settings…", self)
        self.settings_action.setShortcut(QKeySequence.StandardKey.Preferences)
        self.quit_action = QAction("&Quit", self)
        self.quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        menu.addAction(self.settings_action)
        menu.addSeparator()
        menu.addAction(self.quit_action)

        self.tray: QSystemTrayIcon | None = None
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.tray = QSystemTrayIcon(app_icon(), self)
            self.tray.setToolTip("LobbyHost")
            self.tray.show()
        self._connect_signals()
        self.resize(1040, 760)

    def _connect_signals(self) -> None:
        self.settings_action.triggered.connect(self._on_settings_action_triggered)
        self.quit_action.triggered.connect(self.close)
        self.host_controller.request_added.connect(self._on_host_controller_request_added)
        self.host_controller.state_changed.connect(self._on_host_controller_state_changed)
        if self.tray is not None:
            self.tray.messageClicked.connect(self._on_tray_message_clicked)

    def allow_close(self) -> None:
        """The controllers are shut down: the next close really closes."""
        self._may_close = True

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._may_close:
            if self.tray is not None:
                self.tray.hide()
            event.accept()
            return
        event.ignore()
        self.statusBar().showMessage("Closing the lobby and saying goodbye to guests…")
        self.close_requested.emit()

    def open_settings(self) -> SettingsDialog:
        """Show the settings dialog (window-modal, without a nested event loop)."""
        dialog = SettingsDialog(self.host_controller.settings, self)
        dialog.finished.connect(dialog.deleteLater)
        self.settings_dialog = dialog
        dialog.open()
        return dialog

    # Slots ----------------------------------------------------------------------------------

    def _on_settings_action_triggered(self) -> None:
        self.open_settings()

    def _on_host_controller_request_added(self, request: JoinRequested) -> None:
        if self.isActiveWindow():
            return
        if self.tray is not None and QSystemTrayIcon.supportsMessages():
            self.tray.showMessage(
                "Join request", f"{request.name} wants to join your lobby", app_icon(), 10_000
            )
        else:
            QApplication.alert(self)

    def _on_host_controller_state_changed(self, state: HostState) -> None:
        titles = {
            HostState.OPEN: f"LobbyHost: lobby {self.host_controller.code or ''} open",
            HostState.STARTING: "LobbyHost: opening…",
        }
        self.setWindowTitle(titles.get(state, "LobbyHost"))
        if state is HostState.OPEN and self.host_controller.code:
            self.statusBar().showMessage(f"Lobby {self.host_controller.code} is open", 5000)

    def _on_tray_message_clicked(self) -> None:
        self.tabs.setCurrentWidget(self.host_view)
        self.showNormal()
        self.raise_()
        self.activateWindow()
