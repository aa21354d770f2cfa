"""The "Game ports" panels: what the host shares, and where a guest's game connects."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ..models.game_ports import ForwardsModel, SharedPortsModel
from ..net.forwards import MAX_LABEL_LENGTH, Transport

if TYPE_CHECKING:
    from ..controllers.game_ports import GuestPortsController, HostGamePortsController


def _table(parent: QWidget) -> QTableView:
    table = QTableView(parent)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().hide()
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    return table


class HostGamePortsPanel(QGroupBox):
    """Share a game server's port with every guest: add, remove, see its traffic."""

    def __init__(self, controller: HostGamePortsController, parent: QWidget | None = None) -> None:
        super().__init__("Game ports", parent)
        self.controller = controller
        self.model = SharedPortsModel(controller, self)
        self.port_spin = QSpinBox(self)
        self.port_spin.setRange(1, 65535)
        self.port_spin.setValue(25565)
        self.port_spin.setAccessibleName("Game port")
        self.protocol_combo = QComboBox(self)
        for transport in Transport:
            self.protocol_combo.addItem(transport.value.upper(), transport.value)
        self.protocol_combo.setAccessibleName("Protocol")
        self.label_edit = QLineEdit(self)
        self.label_edit.setPlaceholderText("Game (e.g. Minecraft)")
        self.label_edit.setMaxLength(MAX_LABEL_LENGTH)
        self.label_edit.setAccessibleName("Game name")
        self.add_button = QPushButton("Share port", self)
        self.remove_button = QPushButton("Stop sharing", self)
        self.remove_button.setEnabled(False)
        self.table = _table(self)
        self.table.setModel(self.model)
        hint = QLabel(
            "Guests' games connect to these ports through LobbyHost; "
            "your own game connects to your server directly.",
            self,
        )
        hint.setWordWrap(True)
        self.error_label = QLabel(self)
        self.error_label.setTextFormat(Qt.TextFormat.PlainText)
        self.error_label.setStyleSheet("color: #a11;")
        self.error_label.hide()
        #: Where this computer's games reach the servers guests share.
        self.guest_servers_label = QLabel(self)
        self.guest_servers_label.setTextFormat(Qt.TextFormat.PlainText)  # guests' labels
        self.guest_servers_label.setWordWrap(True)
        self.guest_servers_label.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
        )
        self.guest_servers_label.hide()

        form = QHBoxLayout()
        form.addWidget(QLabel("Port", self))
        form.addWidget(self.port_spin)
        form.addWidget(self.protocol_combo)
        form.addWidget(self.label_edit, 1)
        form.addWidget(self.add_button)
        form.addWidget(self.remove_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error_label)
        layout.addWidget(self.table)
        layout.addWidget(hint)
        layout.addWidget(self.guest_servers_label)
        self._connect_signals()

    def _connect_signals(self) -> None:
        self.controller.guest_forwards_changed.connect(self._on_controller_guest_forwards_changed)
        self.add_button.clicked.connect(self._on_add_button_clicked)
        self.remove_button.clicked.connect(self._on_remove_button_clicked)
        self.label_edit.returnPressed.connect(self._on_add_button_clicked)
        self.table.selectionModel().selectionChanged.connect(self._on_table_selection_changed)
        self.model.modelReset.connect(self._on_table_selection_changed)
        self.controller.error_occurred.connect(self._on_controller_error_occurred)

    def _on_add_button_clicked(self) -> None:
        transport = Transport(self.protocol_combo.currentData())
        if self.controller.add_port(self.port_spin.value(), transport, self.label_edit.text()):
            self.label_edit.clear()
            self.error_label.hide()

    def _on_controller_guest_forwards_changed(self) -> None:
        forwards = self.controller.guest_forwards
        lines = [
            f"{forward.shared.label or 'A server'} shared by a guest "
            f"({forward.shared.port}/{forward.shared.transport.value}): {forward.address}"
            for forward in forwards
        ]
        self.guest_servers_label.setText("\n".join(lines))
        self.guest_servers_label.setVisible(bool(lines))

    def _on_controller_error_occurred(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.show()

    def _on_remove_button_clicked(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self.controller.remove_port(self.model.port_at(rows[0].row()))

    def _on_table_selection_changed(self) -> None:
        self.remove_button.setEnabled(bool(self.table.selectionModel().selectedRows()))


class JoinGamePortsPanel(QGroupBox):
    """The host's game ports as addresses on this computer: give one to the game, or copy it."""

    def __init__(self, controller: GuestPortsController, parent: QWidget | None = None) -> None:
        super().__init__("Game ports", parent)
        self.controller = controller
        self.model = ForwardsModel(controller, self)
        self.table = _table(self)
        self.table.setModel(self.model)
        self.copy_button = QPushButton("Copy address", self)
        self.copy_button.setEnabled(False)
        self.hint_label = QLabel(self)
        self.hint_label.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.hint_label, 1)
        buttons.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        self._connect_signals()
        self._on_model_model_reset()

    def _connect_signals(self) -> None:
        self.copy_button.clicked.connect(self._on_copy_button_clicked)
        self.model.modelReset.connect(self._on_model_model_reset)

    def selected_address(self) -> str | None:
        """The selected row's address, or the only one when there is just one."""
        rows = self.table.selectionModel().selectedRows()
        if rows:
            return self.model.forward_at(rows[0].row()).address
        if self.model.rowCount() == 1:
            return self.model.forward_at(0).address
        return None

    def _on_copy_button_clicked(self) -> None:
        address = self.selected_address() or (
            self.model.forward_at(0).address if self.model.rowCount() else None
        )
        if address is not None:
            QGuiApplication.clipboard().setText(address)

    def _on_model_model_reset(self) -> None:
        count = self.model.rowCount()
        self.copy_button.setEnabled(count > 0)
        if count:
            self.hint_label.setText(
                f"In your game, connect to {self.model.forward_at(0).address}"
                + (" (or another address above)." if count > 1 else ".")
            )
        else:
            self.hint_label.setText("The host shares no game ports (yet).")
