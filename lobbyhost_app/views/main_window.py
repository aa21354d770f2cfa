"""The main window: Host and Join tabs, menus, the tray, a remembered layout, a clean quit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QMainWindow,
    QSplitter,
    QSystemTrayIcon,
    QTabWidget,
    QWidget,
)

from ..session_values import HostState, JoinRequested
from .about_dialog import AboutDialog
from .host_view import HostView
from .join_view import JoinView
from .settings_dialog import SettingsDialog
from .tray import TrayMenu
from .widgets import ConfirmationBox, app_icon

if TYPE_CHECKING:
    # Only types here: the controller modules load the network stack (aiortc).
    from ..controllers.guest_controller import GuestController
    from ..controllers.host_controller import HostController

#: The name the window's geometry is saved under (see ``Settings.window_state``).
GEOMETRY = "geometry"


def shortcuts(*keys: QKeySequence | QKeySequence.StandardKey) -> list[QKeySequence]:
    """The given keys and the platform's bindings of standard keys, without duplicates.

    Some platforms bind no key to a standard action (Preferences is empty on
    most Linux desktops), so the usual key is always given as well.
    """
    found: list[QKeySequence] = []
    for key in keys:
        bound = (
            QKeySequence.keyBindings(key) if isinstance(key, QKeySequence.StandardKey) else [key]
        )
        found.extend(sequence for sequence in bound if sequence not in found)
    return found


class MainWindow(QMainWindow):
    """Host and Join modes side by side in tabs.

    Closing the window does not close it at once: with guests connected it
    first asks (``quit_confirmation``); then it emits ``close_requested``;
    the app shuts the controllers down (guests are told) and calls
    :meth:`allow_close` and ``close()``. The window's geometry and splitter
    positions are saved on that last close and restored by the next window.

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
        self.about_dialog: AboutDialog | None = None
        self.quit_confirmation: ConfirmationBox | None = None
        self._may_close = False
        self._quit_asked = False

        menu = self.menuBar().addMenu("&LobbyHost")
        self.settings_action = QAction("&Settings…", self)
        self.settings_action.setShortcuts(
            shortcuts(QKeySequence("Ctrl+,"), QKeySequence.StandardKey.Preferences)
        )
        self.settings_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.quit_action = QAction("&Quit", self)
        self.quit_action.setShortcuts(
            shortcuts(QKeySequence("Ctrl+Q"), QKeySequence.StandardKey.Quit)
        )
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        menu.addAction(self.settings_action)
        menu.addSeparator()
        menu.addAction(self.quit_action)
        help_menu = self.menuBar().addMenu("&Help")
        self.about_action = QAction("&About LobbyHost", self)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        help_menu.addAction(self.about_action)

        self.tray_menu = TrayMenu(self)
        self.tray: QSystemTrayIcon | None = None
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.tray = QSystemTrayIcon(app_icon(), self)
            self.tray.setToolTip("LobbyHost")
            self.tray.setContextMenu(self.tray_menu)
            self.tray.show()
        self._connect_signals()
        self.resize(1040, 760)
        self._restore_layout()

    def _connect_signals(self) -> None:
        self.settings_action.triggered.connect(self._on_settings_action_triggered)
        self.quit_action.triggered.connect(self.close)
        self.about_action.triggered.connect(self._on_about_action_triggered)
        self.tray_menu.show_action.triggered.connect(self.bring_to_front)
        self.tray_menu.copy_link_action.triggered.connect(self._on_copy_link_action_triggered)
        self.tray_menu.quit_action.triggered.connect(self.close)
        self.host_controller.request_added.connect(self._on_host_controller_request_added)
        self.host_controller.state_changed.connect(self._on_host_controller_state_changed)
        self.guest_controller.promoted.connect(self._on_guest_controller_promoted)
        self.guest_controller.host_requested.connect(self._on_guest_controller_host_requested)
        if self.tray is not None:
            self.tray.messageClicked.connect(self._on_tray_message_clicked)
            self.tray.activated.connect(self._on_tray_activated)

    def allow_close(self) -> None:
        """The controllers are shut down: the next close really closes."""
        self._may_close = True

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._may_close:
            self._save_layout()
            if self.tray is not None:
                self.tray.hide()
            event.accept()
            return
        event.ignore()
        guests = self.host_controller.peers.rowCount()
        if guests and not self._quit_asked:
            self._ask_before_quitting(guests)
            return
        self.statusBar().showMessage("Closing the lobby and saying goodbye to guests…")
        self.close_requested.emit()

    def _ask_before_quitting(self, guests: int) -> None:
        """Quit only once the host confirms; a question already open is brought up again."""
        if self.quit_confirmation is not None:
            self.quit_confirmation.raise_()
            return
        people = "1 guest is" if guests == 1 else f"{guests} guests are"
        box = ConfirmationBox(
            "Quit LobbyHost?",
            f"{people} connected. Quitting closes the lobby and disconnects everyone.",
            "Quit",
            self,
        )
        box.confirmed.connect(self._on_quit_confirmation_confirmed)
        box.finished.connect(self._on_quit_confirmation_finished)
        self.quit_confirmation = box
        box.open()  # not exec(): no nested event loop under qasync

    def _restore_layout(self) -> None:
        settings = self.host_controller.settings
        geometry = settings.window_state(GEOMETRY)
        if geometry is not None:
            self.restoreGeometry(geometry)
        for name, splitter in self._splitters().items():
            state = settings.window_state(name)
            if state is not None:
                splitter.restoreState(state)

    def _save_layout(self) -> None:
        states = {GEOMETRY: self.saveGeometry()}
        states.update({name: s.saveState() for name, s in self._splitters().items()})
        self.host_controller.settings.save_window_state(states)

    def _splitters(self) -> dict[str, QSplitter]:
        """Every splitter of the views, by a name that stays the same from run to run."""
        found: dict[str, QSplitter] = {}
        for view_name, view in (("host", self.host_view), ("join", self.join_view)):
            for index, splitter in enumerate(view.findChildren(QSplitter)):
                found[f"{view_name}_splitter_{index}"] = splitter
        return found

    def bring_to_front(self) -> None:
        """Show the window (restored if minimised or hidden), raised and active."""
        self.showNormal()
        self.raise_()
        self.activateWindow()

    def open_about(self) -> AboutDialog:
        """Show Help → About (without a nested event loop)."""
        if self.about_dialog is not None:
            self.about_dialog.raise_()
            return self.about_dialog
        dialog = AboutDialog(self)
        dialog.finished.connect(self._on_about_dialog_finished)
        self.about_dialog = dialog
        dialog.open()
        return dialog

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

    def _on_about_action_triggered(self) -> None:
        self.open_about()

    def _on_about_dialog_finished(self) -> None:
        self.about_dialog = None

    def _on_quit_confirmation_confirmed(self) -> None:
        self._quit_asked = True
        self.close()

    def _on_quit_confirmation_finished(self) -> None:
        self.quit_confirmation = None

    def _on_copy_link_action_triggered(self) -> None:
        link = self.host_controller.invite_link
        if link:
            QGuiApplication.clipboard().setText(link)
            self.statusBar().showMessage("Invite link copied to the clipboard", 5000)

    def _on_tray_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason is QSystemTrayIcon.ActivationReason.Trigger:
            self.bring_to_front()

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
        self.tray_menu.copy_link_action.setEnabled(
            state is HostState.OPEN and bool(self.host_controller.invite_link)
        )
        if state is HostState.OPEN and self.host_controller.code:
            self.statusBar().showMessage(f"Lobby {self.host_controller.code} is open", 5000)

    def _on_guest_controller_promoted(self, session: object, promoted: object, url: str) -> None:
        # Direct connection: the host session must listen before the next event arrives.
        self.host_controller.take_over(session, promoted, url)  # type: ignore[arg-type]
        self.tabs.setCurrentWidget(self.host_view)

    def _on_guest_controller_host_requested(self, session: object, request: object) -> None:
        self.host_controller.take_moved_lobby(session, request)  # type: ignore[arg-type]
        self.tabs.setCurrentWidget(self.host_view)

    def _on_tray_message_clicked(self) -> None:
        self.tabs.setCurrentWidget(self.host_view)
        self.bring_to_front()
