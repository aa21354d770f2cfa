"""Asking before a guest is kicked: an optional reason they will read, and whether to block them.

The dialog is window-modal and opened with ``open()``, never ``exec()``: a
nested event loop under qasync can wedge the network tasks.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

#: The server's limit on the host's own words.
MAX_MESSAGE_LENGTH = 200


class KickDialog(QDialog):
    """Kick, Kick and block, or Cancel, for one guest.

    Signals: ``kick_confirmed(int peer_id, str message, bool block)``; nothing on Cancel.
    """

    kick_confirmed = Signal(int, str, bool)

    def __init__(self, peer_id: int, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.peer_id = peer_id
        self.setWindowTitle(f"Kick {name}?")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.question_label = QLabel(f"Remove {name} from the lobby?", self)
        # A guest chose this name: show it as text, never as Qt rich text.
        self.question_label.setTextFormat(Qt.TextFormat.PlainText)
        self.question_label.setWordWrap(True)
        self.reason_edit = QLineEdit(self)
        self.reason_edit.setMaxLength(MAX_MESSAGE_LENGTH)
        self.reason_edit.setPlaceholderText("optional; they will read it")
        self.reason_edit.setAccessibleName(f"Reason to kick {name}")
        self.buttons = QDialogButtonBox(self)
        self.kick_button = QPushButton("&Kick", self)
        self.kick_button.setToolTip(f"Disconnect {name}; they may ask to join again")
        self.block_button = QPushButton("Kick and &block", self)
        self.block_button.setToolTip(
            f"Disconnect {name} and keep their address out of this lobby until it closes"
        )
        self.buttons.addButton(self.kick_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(self.block_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.kick_button.setDefault(True)
        form = QFormLayout()
        form.addRow("&Reason", self.reason_edit)
        layout = QVBoxLayout(self)
        layout.addWidget(self.question_label)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self.reason_edit.setFocus()
        self._connect_signals()

    def _connect_signals(self) -> None:
        self.kick_button.clicked.connect(self._on_kick_button_clicked)
        self.block_button.clicked.connect(self._on_block_button_clicked)
        self.buttons.rejected.connect(self.reject)

    def _on_kick_button_clicked(self) -> None:
        self._confirm(block=False)

    def _on_block_button_clicked(self) -> None:
        self._confirm(block=True)

    def _confirm(self, *, block: bool) -> None:
        self.kick_confirmed.emit(self.peer_id, self.reason_edit.text().strip(), block)
        self.accept()
