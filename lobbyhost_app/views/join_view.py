"""Join mode: server address, code and name in; where things stand, RTT, members and chat out."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from signalling_server.protocol import CloseReason, KickReason, RejectReason

from ..controllers.settings import AppSettings
from ..errors import LobbyHostError
from ..invite import parse_join_target
from ..session_values import ENDED, GuestPhase, GuestStatus, Member
from .game_ports_panel import JoinGamePortsPanel
from .widgets import ErrorBanner, LogPanel, heading_font

if TYPE_CHECKING:
    # Only a type here: the controller module loads the network stack (aiortc).
    from ..controllers.guest_controller import GuestController

_COLOURS = {
    GuestPhase.CONNECTED: "#1d7a35",
    GuestPhase.WAITING: "#2f6fdf",
    GuestPhase.CONNECTING: "#2f6fdf",
    GuestPhase.HOST_AWAY: "#a66b00",
}


def describe_status(status: GuestStatus, lobby_name: str | None = None) -> str:
    """Where a guest stands, as one plain sentence.

    Words come from the phase and the server's reason; what the host typed
    (``status.detail`` when rejected or kicked) is quoted as it is, never read
    as a reason.
    """
    lobby = lobby_name or "the lobby"
    said = status.detail
    match status.phase:
        case GuestPhase.IDLE:
            return "Not in a lobby."
        case GuestPhase.WAITING:
            return f"Waiting for the host of {lobby} to let you in…"
        case GuestPhase.CONNECTING:
            return "Accepted! Connecting to the host…"
        case GuestPhase.CONNECTED:
            return f"Connected to {lobby}."
        case GuestPhase.REJECTED if status.reason is RejectReason.TIMEOUT:
            return "The host did not answer your request in time."
        case GuestPhase.REJECTED:
            return f"The host turned down your request: {said or 'no reason given'}."
        case GuestPhase.HOST_AWAY:
            return f"The host lost its connection; waiting up to {said} s for it."
        case GuestPhase.HOST_LEFT:
            return "The host left; the lobby is over."
        case GuestPhase.LOBBY_CLOSED if status.reason is CloseReason.SERVER_SHUTDOWN:
            return "The signalling server shut down; the lobby is over."
        case GuestPhase.LOBBY_CLOSED:
            return "The host closed the lobby."
        case GuestPhase.KICKED:
            return "The host removed you from the lobby" + (f": {said}." if said else ".")
        case GuestPhase.FAILED if status.reason is KickReason.UNREACHABLE:
            return f"The host could not reach you: {said}."
        case GuestPhase.FAILED:
            return f"Could not join: {said}" if said else "Could not join."
        case GuestPhase.LEFT:
            return "You left the lobby."
        case GuestPhase.PROMOTED:
            return "The host left and handed the lobby to you: you are the host now."
    return status.phase.value


def describe_member(member: Member, own_peer_id: int | None) -> str:
    """A line of the member list: the name, and whether it is the host or you."""
    if member.host:
        return f"{member.name} (host)"
    if member.peer_id == own_peer_id:
        return f"{member.name} (you)"
    return member.name


class JoinView(QWidget):
    """Join a lobby as a guest; talks only to a :class:`GuestController`."""

    def __init__(self, controller: GuestController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        settings = controller.settings.load()
        self.error_banner = ErrorBanner(self)
        self.server_edit = QLineEdit(settings.join_server_url, self)
        self.server_edit.setPlaceholderText("192.168.1.20:8765, or paste an invite link")
        self.server_edit.setAccessibleName("Server address")
        self.code_edit = QLineEdit(self)
        self.code_edit.setPlaceholderText("e.g. K7QX2M")
        self.code_edit.setMaxLength(16)
        self.code_edit.setAccessibleName("Join code")
        self.name_edit = QLineEdit(settings.display_name, self)
        self.name_edit.setMaxLength(32)
        self.name_edit.setAccessibleName("Your name")
        self.password_edit = QLineEdit(self)
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setPlaceholderText("only if the host set one")
        self.password_edit.setAccessibleName("Lobby password")
        self.join_button = QPushButton("Join", self)
        self.join_button.setDefault(True)
        self.leave_button = QPushButton("Leave", self)
        self.status_label = QLabel(self)
        self.status_label.setTextFormat(Qt.TextFormat.PlainText)  # carries the host's reasons
        self.status_label.setFont(heading_font(14))
        self.status_label.setWordWrap(True)
        self.status_label.setAccessibleName("Status")
        self.rtt_label = QLabel(self)
        self.rtt_label.setAccessibleName("Round-trip time")
        self.log_panel = LogPanel(self)
        self.members_list = QListWidget(self)  # items are plain text: names are others' words
        self.members_list.setAccessibleName("Members")
        self.members_list.setSelectionMode(QListWidget.SelectionMode.NoSelection)
        #: The code last taken from an invite link (replaced while the link is edited).
        self._filled_code: str | None = None

        form_box = QGroupBox("Join a lobby", self)
        form = QFormLayout(form_box)
        form.addRow("Server", self.server_edit)
        form.addRow("Code", self.code_edit)
        form.addRow("Your name", self.name_edit)
        form.addRow("Password", self.password_edit)
        buttons = QHBoxLayout()
        buttons.addWidget(self.join_button)
        buttons.addWidget(self.leave_button)
        buttons.addStretch(1)
        form.addRow(buttons)
        status_box = QGroupBox("Status", self)
        status_layout = QVBoxLayout(status_box)
        status_layout.addWidget(self.status_label)
        status_layout.addWidget(self.rtt_label)
        chat_box = QGroupBox("Log and chat", self)
        QVBoxLayout(chat_box).addWidget(self.log_panel)
        members_box = QGroupBox("In the lobby", self)
        QVBoxLayout(members_box).addWidget(self.members_list)
        lobby_row = QHBoxLayout()
        lobby_row.addWidget(chat_box, 3)
        lobby_row.addWidget(members_box, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.error_banner)
        layout.addWidget(form_box)
        layout.addWidget(status_box)
        self.game_ports_panel = JoinGamePortsPanel(controller.game_ports, self)
        layout.addWidget(self.game_ports_panel)
        layout.addLayout(lobby_row, 1)
        self._connect_signals()
        self._show_status(controller.status)
        self._on_controller_active_changed(controller.active)

    def _connect_signals(self) -> None:
        c = self.controller
        self.join_button.clicked.connect(self._on_join_button_clicked)
        self.code_edit.returnPressed.connect(self._on_join_button_clicked)
        self.password_edit.returnPressed.connect(self._on_join_button_clicked)
        self.leave_button.clicked.connect(self._on_leave_button_clicked)
        self.server_edit.textEdited.connect(self._on_server_edit_text_edited)
        self.log_panel.chat_submitted.connect(c.send_chat)
        c.active_changed.connect(self._on_controller_active_changed)
        c.status_changed.connect(self._on_controller_status_changed)
        c.rtt_measured.connect(self._on_controller_rtt_measured)
        c.chat_received.connect(self._on_controller_chat_received)
        c.member_chat_received.connect(self._on_controller_member_chat_received)
        c.members_changed.connect(self._on_controller_members_changed)
        c.chat_sent.connect(self._on_controller_chat_sent)
        c.message_logged.connect(self.log_panel.log)
        c.error_occurred.connect(self._on_controller_error_occurred)
        c.settings.changed.connect(self._on_settings_changed)

    # User actions -------------------------------------------------------------------------

    def _on_join_button_clicked(self) -> None:
        if self.controller.active:
            return
        self.error_banner.clear()
        self.controller.join(
            self.server_edit.text(),
            self.code_edit.text(),
            self.name_edit.text(),
            self.password_edit.text(),
        )

    def _on_leave_button_clicked(self) -> None:
        self.controller.leave()

    def _on_server_edit_text_edited(self, text: str) -> None:
        """A pasted invite link fills in the code."""
        try:
            target = parse_join_target(text)
        except LobbyHostError:
            return  # not an address yet; Join says what is wrong
        typed = self.code_edit.text().strip()
        if target.code and (not typed or typed == self._filled_code):
            self.code_edit.setText(target.code)
            self._filled_code = target.code

    # Controller signals ---------------------------------------------------------------------

    def _on_controller_active_changed(self, active: bool) -> None:
        self.join_button.setEnabled(not active)
        self.leave_button.setEnabled(active)
        for edit in (self.server_edit, self.code_edit, self.name_edit, self.password_edit):
            edit.setReadOnly(active)

    def _on_controller_status_changed(self, status: GuestStatus) -> None:
        self._show_status(status)
        self.log_panel.log(describe_status(status, self.controller.lobby_name))
        if status.phase is not GuestPhase.CONNECTED:
            self.rtt_label.clear()

    def _on_controller_rtt_measured(self, rtt_ms: float) -> None:
        self.rtt_label.setText(f"Round-trip time to the host: {rtt_ms:.1f} ms")

    def _on_controller_chat_received(self, text: str) -> None:
        self.log_panel.chat("Host", text)

    def _on_controller_member_chat_received(self, name: str, text: str) -> None:
        self.log_panel.chat(name, text)

    def _on_controller_members_changed(self, members: tuple[Member, ...]) -> None:
        self.members_list.clear()
        for member in members:
            self.members_list.addItem(describe_member(member, self.controller.peer_id))

    def _on_controller_chat_sent(self, text: str) -> None:
        self.log_panel.chat("You", text)

    def _on_controller_error_occurred(self, message: str) -> None:
        self.error_banner.show_message(message)
        self.log_panel.error(message)

    def _on_settings_changed(self, settings: AppSettings) -> None:
        """A new display name shows here unless the user typed one of their own."""
        if not self.controller.active and not self.name_edit.isModified():
            self.name_edit.setText(settings.display_name)

    def _show_status(self, status: GuestStatus) -> None:
        self.status_label.setText(describe_status(status, self.controller.lobby_name))
        colour = _COLOURS.get(status.phase, "#a11" if status.phase in ENDED else "palette(text)")
        if status.phase in (GuestPhase.LEFT, GuestPhase.IDLE):
            colour = "palette(text)"
        self.status_label.setStyleSheet(f"color: {colour};")
