"""Host mode: lobby controls and code, join requests, live peers, log and chat."""

from __future__ import annotations

import itertools
import time
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ..controllers.settings import AppSettings
from ..session_values import HostState, SnapshotLoaded, SnapshotStored
from .game_ports_panel import HostGamePortsPanel
from .invite_address_chooser import InviteAddressChooser
from .kick_dialog import KickDialog
from .peers_table import PeersTable
from .port_mapping_status import PortMappingStatusLine
from .qr_dialog import InviteQrDialog
from .request_list import JoinRequestList
from .widgets import ACCENT, ConfirmationBox, ErrorBanner, LogPanel, heading_font

if TYPE_CHECKING:
    # Only a type here: the controller module loads the network stack (aiortc).
    from signalling_server.protocol import LobbyInfo

    from ..controllers.host_controller import HostController

#: The code label while no lobby is open.
NO_CODE = "\N{EN DASH}" * 6

_STATE_WORDS = {
    HostState.IDLE: "No lobby open.",
    HostState.STARTING: "Opening the lobby…",
    HostState.OPEN: "Lobby open: share the code or the invite link.",
    HostState.CLOSING: "Closing the lobby…",
}


def describe_snapshot(saved_at: float, size: int) -> str:
    """The last snapshot as the host view shows it: local time of the save and its size."""
    when = time.strftime("%H:%M:%S", time.localtime(saved_at))
    amount = f"{size} bytes" if size < 1024 else f"{size / 1024:.1f} KiB"
    return f"Last snapshot {when}, {amount}"


class HostView(QWidget):
    """Everything a host needs on one page; talks only to a :class:`HostController`."""

    def __init__(self, controller: HostController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        settings = controller.settings.load()
        self.error_banner = ErrorBanner(self)

        # Lobby group ------------------------------------------------------------------
        self.open_button = QPushButton("Open lobby", self)
        self.open_button.setDefault(True)
        self.close_button = QPushButton("Close lobby", self)
        self.hand_over_button = QPushButton("Hand over", self)
        self.hand_over_button.setToolTip(
            "Give the lobby to the guest who joined first, and leave it"
        )
        #: The question asked before closing a lobby guests are connected to, while open.
        self.close_confirmation: ConfirmationBox | None = None
        self.state_label = QLabel(self)
        self.code_label = QLabel(NO_CODE, self)
        self.code_label.setFont(heading_font(30, monospace=True))
        self.code_label.setStyleSheet(f"color: {ACCENT}; letter-spacing: 4px;")
        self.code_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.code_label.setAccessibleName("Join code")
        self.copy_code_button = QPushButton("Copy code", self)
        self.invite_edit = QLineEdit(self)
        self.invite_edit.setReadOnly(True)
        self.invite_edit.setPlaceholderText("The invite link appears when the lobby is open")
        self.invite_edit.setAccessibleName("Invite link")
        self.copy_link_button = QPushButton("Copy link", self)
        self.qr_button = QPushButton("QR code", self)
        self.qr_button.setToolTip("Show the invite link as a QR code for phones")
        self.qr_dialog: InviteQrDialog | None = None
        self.password_edit = QLineEdit(self)
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setPlaceholderText("none")
        self.password_edit.setAccessibleName("Lobby password")
        self.max_guests_spin = QSpinBox(self)
        self.max_guests_spin.setRange(1, 64)
        self.max_guests_spin.setValue(settings.max_guests)
        self.max_guests_spin.setAccessibleName("Maximum guests")
        self.lock_check = QCheckBox("Locked (no new requests)", self)
        self.auto_accept_check = QCheckBox("Auto-accept requests", self)
        self.auto_accept_check.setChecked(settings.auto_accept)
        self.migratable_check = QCheckBox("Let a guest take over if I leave", self)
        self.migratable_check.setToolTip(
            "If you leave or lose your connection, a guest hosts the lobby on (with a "
            "signalling server that outlives this app: Settings > remote server)"
        )
        #: The last game-state snapshot the server keeps: its time and size.
        self.snapshot_label = QLabel(self)
        self.snapshot_label.setTextFormat(Qt.TextFormat.PlainText)
        self.info_label = QLabel(self)

        lobby_box = QGroupBox("Lobby", self)
        grid = QGridLayout(lobby_box)
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.close_button)
        buttons.addWidget(self.hand_over_button)
        buttons.addWidget(self.state_label, 1)
        grid.addLayout(buttons, 0, 0, 1, 4)
        grid.addWidget(QLabel("Code", lobby_box), 1, 0)
        code_row = QHBoxLayout()
        code_row.addWidget(self.code_label)
        code_row.addWidget(self.copy_code_button)
        code_row.addStretch(1)
        code_row.addWidget(self.info_label)
        grid.addLayout(code_row, 1, 1, 1, 3)
        grid.addWidget(QLabel("Invite link", lobby_box), 2, 0)
        grid.addWidget(self.invite_edit, 2, 1, 1, 2)
        link_buttons = QHBoxLayout()
        link_buttons.addWidget(self.copy_link_button)
        link_buttons.addWidget(self.qr_button)
        grid.addLayout(link_buttons, 2, 3)
        self.invite_address_chooser = InviteAddressChooser(controller.invite, lobby_box)
        grid.addWidget(QLabel("Link address", lobby_box), 3, 0)
        grid.addWidget(self.invite_address_chooser, 3, 1, 1, 3)
        options = QHBoxLayout()
        options.addWidget(QLabel("Password", lobby_box))
        options.addWidget(self.password_edit)
        options.addWidget(QLabel("Max guests", lobby_box))
        options.addWidget(self.max_guests_spin)
        options.addSpacing(12)
        options.addWidget(self.lock_check)
        options.addWidget(self.auto_accept_check)
        options.addStretch(1)
        grid.addLayout(options, 4, 0, 1, 4)
        self.port_mapping_line = PortMappingStatusLine(lobby_box)
        grid.addWidget(self.port_mapping_line, 5, 0, 1, 4)
        migration = QHBoxLayout()
        migration.addWidget(self.migratable_check)
        migration.addStretch(1)
        migration.addWidget(self.snapshot_label)
        grid.addLayout(migration, 6, 0, 1, 4)
        grid.setColumnStretch(1, 1)

        # Requests, peers, log --------------------------------------------------------------
        self.request_list = JoinRequestList(controller.requests, self)
        self.requests_box = QGroupBox("Join requests", self)
        QVBoxLayout(self.requests_box).addWidget(self.request_list)
        self.peers_table = PeersTable(controller.peers, self)
        self.peers_box = QGroupBox("Peers", self)
        QVBoxLayout(self.peers_box).addWidget(self.peers_table)
        self.game_ports_panel = HostGamePortsPanel(controller.game_ports, self)
        self.log_panel = LogPanel(self)
        log_box = QGroupBox("Log and chat", self)
        QVBoxLayout(log_box).addWidget(self.log_panel)

        middle = QSplitter(Qt.Orientation.Horizontal, self)
        middle.addWidget(self.requests_box)
        middle.addWidget(self.peers_box)
        middle.setStretchFactor(0, 0)
        middle.setStretchFactor(1, 1)
        middle.setSizes([300, 700])
        vertical = QSplitter(Qt.Orientation.Vertical, self)
        vertical.addWidget(middle)
        vertical.addWidget(self.game_ports_panel)
        vertical.addWidget(log_box)
        vertical.setStretchFactor(0, 3)
        vertical.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(self.error_banner)
        layout.addWidget(lobby_box)
        layout.addWidget(vertical, 1)

        self.kick_dialog: KickDialog | None = None
        self._connect_signals()
        self._update_tab_order()
        self._on_controller_state_changed(controller.state)
        self._update_counts()

    def _update_tab_order(self, *_: object) -> None:
        """Tab goes top to bottom, left to right, through every control, cards and Kick included.

        Widgets made later (a card, a Kick button) would otherwise come last in
        the window's chain, so the whole chain is laid again as they come and go.
        """
        chain: list[QWidget] = [
            self.error_banner.dismiss_button,
            self.open_button,
            self.close_button,
            self.copy_code_button,
            self.invite_edit,
            self.copy_link_button,
            self.qr_button,
            self.password_edit,
            self.max_guests_spin,
            self.lock_check,
            self.auto_accept_check,
            *self.request_list.focus_chain(),
            self.peers_table,
            *self.peers_table.kick_buttons(),
            self.log_panel.transcript,
            self.log_panel.chat_input,
            self.log_panel.send_button,
        ]
        for first, second in itertools.pairwise(chain):
            self.setTabOrder(first, second)

    def _connect_signals(self) -> None:
        c = self.controller
        self.open_button.clicked.connect(self._on_open_button_clicked)
        self.close_button.clicked.connect(self._on_close_button_clicked)
        self.hand_over_button.clicked.connect(self._on_hand_over_button_clicked)
        self.copy_code_button.clicked.connect(self._on_copy_code_button_clicked)
        self.copy_link_button.clicked.connect(self._on_copy_link_button_clicked)
        self.qr_button.clicked.connect(self._on_qr_button_clicked)
        self.lock_check.clicked.connect(self._on_lock_check_clicked)
        self.auto_accept_check.clicked.connect(self._on_auto_accept_check_clicked)
        self.request_list.accept_requested.connect(c.accept)
        self.request_list.reject_requested.connect(c.reject)
        self.peers_table.kick_requested.connect(self._on_peers_table_kick_requested)
        self.log_panel.chat_submitted.connect(c.send_chat)
        c.state_changed.connect(self._on_controller_state_changed)
        c.lobby_opened.connect(self._on_controller_lobby_opened)
        c.invite.link_changed.connect(self._on_invite_link_changed)
        c.lobby_closed.connect(self._on_controller_lobby_closed)
        c.lobby_info_changed.connect(self._on_controller_lobby_info_changed)
        c.snapshot_stored.connect(self._on_controller_snapshot_stored)
        c.message_logged.connect(self.log_panel.log)
        c.port_mapping_changed.connect(self.port_mapping_line.show_state)
        c.chat_received.connect(self.log_panel.chat)
        c.chat_sent.connect(self._on_controller_chat_sent)
        c.error_occurred.connect(self._on_controller_error_occurred)
        c.decision_failed.connect(self.request_list.enable_card)
        c.settings.changed.connect(self._on_settings_changed)
        c.requests.rowsInserted.connect(self._update_counts)
        c.requests.rowsRemoved.connect(self._update_counts)
        c.requests.modelReset.connect(self._update_counts)
        c.peers.rowsInserted.connect(self._update_counts)
        c.peers.rowsRemoved.connect(self._update_counts)
        c.peers.rowsRemoved.connect(self._close_kick_dialog_of_gone_peer)
        c.peers.modelReset.connect(self._close_kick_dialog_of_gone_peer)
        c.peers.modelReset.connect(self._update_counts)
        # The list and the table make their widgets first (they connected first).
        for model in (c.requests, c.peers):
            model.rowsInserted.connect(self._update_tab_order)
            model.rowsRemoved.connect(self._update_tab_order)
            model.modelReset.connect(self._update_tab_order)

    # User actions -------------------------------------------------------------------------

    def _on_open_button_clicked(self) -> None:
        self.error_banner.clear()
        self.controller.open_lobby(
            password=self.password_edit.text(),
            max_guests=self.max_guests_spin.value(),
            migratable=self.migratable_check.isChecked(),
        )

    def _on_hand_over_button_clicked(self) -> None:
        self.error_banner.clear()
        self.controller.hand_over()

    def _on_close_button_clicked(self) -> None:
        guests = self.controller.peers.rowCount()
        if not guests:
            self.controller.close_lobby()
            return
        if self.close_confirmation is not None:
            self.close_confirmation.raise_()
            return
        people = "1 guest is" if guests == 1 else f"{guests} guests are"
        box = ConfirmationBox(
            "Close the lobby?",
            f"{people} connected. Closing the lobby disconnects everyone.",
            "Close lobby",
            self,
        )
        box.confirmed.connect(self.controller.close_lobby)
        box.finished.connect(self._on_close_confirmation_finished)
        self.close_confirmation = box
        box.open()  # not exec(): no nested event loop under qasync

    def _on_close_confirmation_finished(self) -> None:
        self.close_confirmation = None

    def _on_copy_code_button_clicked(self) -> None:
        if self.controller.code:
            QGuiApplication.clipboard().setText(self.controller.code)
            self.log_panel.log("Code copied to the clipboard")

    def _on_copy_link_button_clicked(self) -> None:
        if self.controller.invite_link:
            QGuiApplication.clipboard().setText(self.controller.invite_link)
            self.log_panel.log("Invite link copied to the clipboard")

    def _on_qr_button_clicked(self) -> None:
        link = self.controller.invite_link
        if not link:
            return
        if self.qr_dialog is not None:
            self.qr_dialog.close()
        self.qr_dialog = InviteQrDialog(link, self)
        self.qr_dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.qr_dialog.destroyed.connect(self._on_qr_dialog_destroyed)
        self.qr_dialog.open()  # not exec(): no nested event loop under qasync

    def _on_qr_dialog_destroyed(self) -> None:
        self.qr_dialog = None

    def _on_peers_table_kick_requested(self, peer_id: int) -> None:
        row = self.controller.peers.row_of_peer(peer_id)
        if row is None:
            return
        if self.kick_dialog is not None:
            self.kick_dialog.close()
        name = self.controller.peers.peer_at(row).name
        self.kick_dialog = dialog = KickDialog(peer_id, name, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.kick_confirmed.connect(self._on_kick_dialog_kick_confirmed)
        dialog.finished.connect(self._on_kick_dialog_finished)
        dialog.open()  # not exec(): no nested event loop under qasync

    def _on_kick_dialog_kick_confirmed(self, peer_id: int, message: str, block: bool) -> None:
        # Look the guest up now: one that resumed meanwhile has a new connection id.
        peers = self.controller.peers
        row = peers.row_of_peer(peer_id)
        if row is not None:
            self.controller.kick(peers.peer_at(row).connection_id, message, block=block)

    def _on_kick_dialog_finished(self) -> None:
        # finished comes at once (an old dialog is closed before a new one is made).
        self.kick_dialog = None

    def _close_kick_dialog_of_gone_peer(self, *_: object) -> None:
        dialog = self.kick_dialog
        if dialog is not None and self.controller.peers.row_of_peer(dialog.peer_id) is None:
            dialog.close()

    def _on_lock_check_clicked(self, checked: bool) -> None:
        self.controller.set_locked(checked)

    def _on_auto_accept_check_clicked(self, checked: bool) -> None:
        self.controller.set_auto_accept(checked)

    # Controller signals ---------------------------------------------------------------------

    def _on_controller_state_changed(self, state: HostState) -> None:
        idle, is_open = state is HostState.IDLE, state is HostState.OPEN
        self.state_label.setText(_STATE_WORDS[state])
        self.open_button.setEnabled(idle)
        self.close_button.setEnabled(is_open)
        self.hand_over_button.setEnabled(is_open and self.controller.migratable)
        self.password_edit.setEnabled(idle)
        self.max_guests_spin.setEnabled(idle)
        self.migratable_check.setEnabled(idle)
        self.lock_check.setEnabled(is_open)
        self.copy_code_button.setEnabled(is_open)
        self.copy_link_button.setEnabled(is_open)
        self.qr_button.setEnabled(is_open)
        if idle:
            self.lock_check.setChecked(False)

    def _on_controller_lobby_opened(self, code: str, invite_link: str) -> None:
        self.code_label.setText(code)
        self.invite_edit.setText(invite_link)
        self._update_counts()

    def _on_controller_snapshot_stored(self, snapshot: SnapshotStored | SnapshotLoaded) -> None:
        self.snapshot_label.setText(describe_snapshot(snapshot.saved_at, snapshot.size))

    def _on_invite_link_changed(self, link: str, note: str) -> None:
        self.invite_edit.setText(link)

    def _on_controller_lobby_closed(self, reason: str) -> None:
        self.snapshot_label.clear()
        self.code_label.setText(NO_CODE)
        self.invite_edit.clear()
        if self.qr_dialog is not None:
            self.qr_dialog.close()
        self._update_counts()

    def _on_controller_lobby_info_changed(self, info: LobbyInfo) -> None:
        self.lock_check.setChecked(not info.open)
        self._update_counts()

    def _on_controller_chat_sent(self, text: str) -> None:
        self.log_panel.chat("You", text)

    def _on_controller_error_occurred(self, message: str) -> None:
        self.error_banner.show_message(message)
        self.log_panel.error(message)

    def _on_settings_changed(self, settings: AppSettings) -> None:
        self.auto_accept_check.setChecked(settings.auto_accept)

    def _update_counts(self, *_: object) -> None:
        waiting = self.controller.requests.rowCount()
        peers = self.controller.peers.rowCount()
        self.requests_box.setTitle(f"Join requests ({waiting})")
        self.peers_box.setTitle(f"Peers ({peers})")
        if self.controller.state is not HostState.OPEN:
            self.info_label.clear()
            return
        parts = [f"{peers} of {self.max_guests_spin.value()} guests"]
        if self.lock_check.isChecked():
            parts.append("locked")
        if self.password_edit.text():
            parts.append("password")
        self.info_label.setText(" · ".join(parts))
