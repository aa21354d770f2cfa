"""The invite link's address: pick one of this computer's, the public one, or type another."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QWidget

from ..controllers.invite_controller import InviteController
from ..errors import LobbyHostError
from ..invite_address import InviteAddress


class InviteAddressChooser(QWidget):
    """Which address the invite link uses, and who can reach it ("only on your network")."""

    def __init__(self, controller: InviteController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.address_combo = QComboBox(self)
        self.address_combo.setAccessibleName("Invite address")
        self.address_combo.setToolTip(
            "The address in the invite link: one of this computer's, the public address "
            "a STUN server saw, or your router's"
        )
        self.other_edit = QLineEdit(self)
        self.other_edit.setPlaceholderText("or type one (lobby.example.org)")
        self.other_edit.setAccessibleName("Other invite address")
        self.use_button = QPushButton("Use", self)
        self.reach_label = QLabel(self)
        # Interface names and typed addresses are not ours: never rich text.
        self.reach_label.setTextFormat(Qt.TextFormat.PlainText)
        self.reach_label.setAccessibleName("Who the invite link reaches")

        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.address_combo, 2)
        row.addWidget(self.other_edit, 1)
        row.addWidget(self.use_button)
        row.addWidget(self.reach_label, 1)
        self._connect_signals()
        self._show_choices(controller.choices)

    def _connect_signals(self) -> None:
        self.address_combo.activated.connect(self._on_address_combo_activated)
        self.use_button.clicked.connect(self._on_use_button_clicked)
        self.other_edit.returnPressed.connect(self._on_use_button_clicked)
        self.controller.choices_changed.connect(self._on_controller_choices_changed)
        self.controller.link_changed.connect(self._on_controller_link_changed)

    def _on_address_combo_activated(self, index: int) -> None:
        address = self.address_combo.itemData(index)
        if isinstance(address, InviteAddress):
            self.controller.choose(address)

    def _on_use_button_clicked(self) -> None:
        try:
            self.controller.choose_typed(self.other_edit.text())
        except LobbyHostError as exc:
            self.reach_label.setText(str(exc))
            return
        self.other_edit.clear()

    def _on_controller_choices_changed(self, choices: list[InviteAddress]) -> None:
        self._show_choices(choices)

    def _on_controller_link_changed(self, link: str, note: str) -> None:
        chosen = self.controller.chosen
        self.reach_label.setText(note[:1].upper() + note[1:] if link else "")
        if chosen is not None:
            self.address_combo.setCurrentIndex(self._index_of(chosen))

    def _show_choices(self, choices: list[InviteAddress]) -> None:
        self.address_combo.clear()
        for address in choices:
            self.address_combo.addItem(address.describe(), address)
        if self.controller.chosen is not None:
            self.address_combo.setCurrentIndex(self._index_of(self.controller.chosen))
        editable = bool(choices)
        for widget in (self.address_combo, self.other_edit, self.use_button):
            widget.setEnabled(editable)

    def _index_of(self, address: InviteAddress) -> int:
        for index in range(self.address_combo.count()):
            if self.address_combo.itemData(index) == address:
                return index
        return -1
