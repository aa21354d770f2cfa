"""Join requests as cards: name, time waiting, a reason field, Accept and Reject.

The list follows a :class:`~lobbyhost_app.models.join_requests.JoinRequestsModel`:
one card per row, in row order. Everything is reachable with Tab, oldest card
first (Accept, Reject, reason); Space presses the focused button, Enter in a
card's reason field rejects with that reason. Anywhere in the window,
Ctrl+Enter accepts the oldest request and Ctrl+Shift+R rejects it (with the
reason typed on its card).
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from ..models.join_requests import JoinRequestsModel

AnyIndex = QModelIndex | QPersistentModelIndex

#: Accept the oldest request: Ctrl+Enter, with either Enter key.
ACCEPT_OLDEST_KEYS = (
    QKeySequence(Qt.Modifier.CTRL | Qt.Key.Key_Return),
    QKeySequence(Qt.Modifier.CTRL | Qt.Key.Key_Enter),
)
#: Reject the oldest request (not Ctrl+Backspace: text fields delete a word with it).
REJECT_OLDEST_KEYS = (QKeySequence(Qt.Modifier.CTRL | Qt.Modifier.SHIFT | Qt.Key.Key_R),)


def _key_text(keys: tuple[QKeySequence, ...]) -> str:
    return keys[0].toString(QKeySequence.SequenceFormat.NativeText)


class JoinRequestCard(QFrame):
    """One waiting guest.

    Signals: ``accept_clicked(str connection_id)``,
    ``reject_clicked(str connection_id, str reason)``.
    """

    accept_clicked = Signal(str)
    reject_clicked = Signal(str, str)

    def __init__(self, connection_id: str, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.connection_id = connection_id
        self.setObjectName("requestCard")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet(
            "#requestCard { background: palette(base); border: 1px solid palette(mid);"
            " border-radius: 6px; }"
        )
        self.name_label = QLabel(name, self)
        # A guest chose this name: show it as text, never as Qt rich text.
        self.name_label.setTextFormat(Qt.TextFormat.PlainText)
        font = self.name_label.font()
        font.setBold(True)
        font.setPointSize(font.pointSize() + 1)
        self.name_label.setFont(font)
        self.waiting_label = QLabel(self)
        self.waiting_label.setStyleSheet("color: palette(placeholder-text);")
        self.reason_input = QLineEdit(self)
        self.reason_input.setPlaceholderText("Reason if you reject (optional)")
        self.reason_input.setMaxLength(200)
        self.reason_input.setAccessibleName(f"Reason to reject {name}")
        self.accept_button = QPushButton("Accept", self)
        self.accept_button.setAccessibleName(f"Accept {name}")
        self.accept_button.setToolTip(
            f"Let {name} in ({_key_text(ACCEPT_OLDEST_KEYS)} accepts the oldest request)"
        )
        self.accept_button.setStyleSheet("font-weight: bold;")
        self.reject_button = QPushButton("Reject", self)
        self.reject_button.setAccessibleName(f"Reject {name}")
        self.reject_button.setToolTip(
            f"Turn {name} away, with the reason below if you typed one "
            f"({_key_text(REJECT_OLDEST_KEYS)} rejects the oldest request)"
        )
        for button in (self.accept_button, self.reject_button):
            button.setAutoDefault(True)  # Enter on a focused button presses it
        top = QHBoxLayout()
        top.addWidget(self.name_label, 1)
        top.addWidget(self.waiting_label)
        bottom = QHBoxLayout()
        bottom.addWidget(self.accept_button, 1)
        bottom.addWidget(self.reject_button, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.addLayout(top)
        layout.addWidget(self.reason_input)
        layout.addLayout(bottom)
        # No focus proxy: Qt would count the card as a Tab stop of its own,
        # apart from its buttons, and Tab would jump back to it out of order.
        self.setTabOrder(self.accept_button, self.reject_button)
        self.setTabOrder(self.reject_button, self.reason_input)
        self._connect_signals()

    def _connect_signals(self) -> None:
        self.accept_button.clicked.connect(self._on_accept_button_clicked)
        self.reject_button.clicked.connect(self._on_reject_button_clicked)
        self.reason_input.returnPressed.connect(self._on_reject_button_clicked)

    def set_waiting(self, text: str) -> None:
        self.waiting_label.setText(f"waiting {text}")

    def focus_chain(self) -> tuple[QWidget, ...]:
        """The card's controls in Tab order."""
        return (self.accept_button, self.reject_button, self.reason_input)

    def is_ready(self) -> bool:
        """No decision is under way for this card."""
        return self.accept_button.isEnabled()

    def _on_accept_button_clicked(self) -> None:
        self._set_busy()
        self.accept_clicked.emit(self.connection_id)

    def _on_reject_button_clicked(self) -> None:
        self._set_busy()
        self.reject_clicked.emit(self.connection_id, self.reason_input.text().strip())

    def _set_busy(self) -> None:
        """One decision per card: the card goes when the server confirms it."""
        for widget in (self.accept_button, self.reject_button, self.reason_input):
            widget.setEnabled(False)

    def set_ready(self) -> None:
        for widget in (self.accept_button, self.reject_button, self.reason_input):
            widget.setEnabled(True)


class JoinRequestList(QScrollArea):
    """Cards for a :class:`JoinRequestsModel`, oldest on top.

    Signals: ``accept_requested(str connection_id)``,
    ``reject_requested(str connection_id, str reason)``.
    """

    accept_requested = Signal(str)
    reject_requested = Signal(str, str)

    def __init__(self, model: JoinRequestsModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.cards: list[JoinRequestCard] = []
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setMinimumWidth(260)
        # Tab goes straight to the cards' buttons; the list itself is no stop.
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.accept_shortcuts = [QShortcut(keys, self) for keys in ACCEPT_OLDEST_KEYS]
        self.reject_shortcuts = [QShortcut(keys, self) for keys in REJECT_OLDEST_KEYS]
        body = QWidget(self)
        self._layout = QVBoxLayout(body)
        self._layout.setContentsMargins(2, 2, 2, 2)
        self._layout.setSpacing(6)
        self.empty_label = QLabel("No one is waiting to join.", body)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setStyleSheet("color: palette(placeholder-text); padding: 12px;")
        self._layout.addWidget(self.empty_label)
        self._layout.addStretch(1)
        self.setWidget(body)
        self._connect_signals()
        self._on_model_model_reset()

    def _connect_signals(self) -> None:
        for shortcut in self.accept_shortcuts:
            shortcut.activated.connect(self.accept_oldest)
        for shortcut in self.reject_shortcuts:
            shortcut.activated.connect(self.reject_oldest)
        self.model.rowsInserted.connect(self._on_model_rows_inserted)
        self.model.rowsAboutToBeRemoved.connect(self._on_model_rows_about_to_be_removed)
        self.model.modelReset.connect(self._on_model_model_reset)
        self.model.dataChanged.connect(self._on_model_data_changed)

    def card_for(self, connection_id: str) -> JoinRequestCard | None:
        return next((card for card in self.cards if card.connection_id == connection_id), None)

    def oldest_ready_card(self) -> JoinRequestCard | None:
        """The oldest request no decision is under way for."""
        return next((card for card in self.cards if card.is_ready()), None)

    def accept_oldest(self) -> None:
        """Accept the oldest request, as its Accept button would."""
        card = self.oldest_ready_card()
        if card is not None:
            card.accept_button.click()

    def reject_oldest(self) -> None:
        """Reject the oldest request (with the reason typed on its card), as its Reject would."""
        card = self.oldest_ready_card()
        if card is not None:
            card.reject_button.click()

    def focus_chain(self) -> list[QWidget]:
        """Every card's controls in Tab order, oldest card first."""
        return [widget for card in self.cards for widget in card.focus_chain()]

    def enable_card(self, connection_id: str) -> None:
        """Let the user decide again (the last decision failed)."""
        card = self.card_for(connection_id)
        if card is not None:
            card.set_ready()

    # Model signals ----------------------------------------------------------------------------

    def _on_model_rows_inserted(self, parent: AnyIndex, first: int, last: int) -> None:
        for row in range(first, last + 1):
            index = self.model.index(row)
            card = JoinRequestCard(
                str(index.data(JoinRequestsModel.ConnectionIdRole)),
                str(index.data(JoinRequestsModel.NameRole)),
                self.widget(),
            )
            card.set_waiting(str(index.data(JoinRequestsModel.WaitingRole)))
            card.accept_clicked.connect(self.accept_requested)
            card.reject_clicked.connect(self.reject_requested)
            self.cards.insert(row, card)
            self._layout.insertWidget(row, card)
        self._update_empty()

    def _on_model_rows_about_to_be_removed(self, parent: AnyIndex, first: int, last: int) -> None:
        for card in self.cards[first : last + 1]:
            self._layout.removeWidget(card)
            card.hide()
            card.deleteLater()
        del self.cards[first : last + 1]
        self._update_empty()

    def _on_model_model_reset(self) -> None:
        for card in self.cards:
            self._layout.removeWidget(card)
            card.hide()
            card.deleteLater()
        self.cards.clear()
        if self.model.rowCount():
            self._on_model_rows_inserted(QModelIndex(), 0, self.model.rowCount() - 1)
        self._update_empty()

    def _on_model_data_changed(
        self, top_left: AnyIndex, bottom_right: AnyIndex, roles: object = None
    ) -> None:
        for row in range(top_left.row(), min(bottom_right.row() + 1, len(self.cards))):
            waiting = self.model.index(row).data(JoinRequestsModel.WaitingRole)
            self.cards[row].set_waiting(str(waiting))

    def _update_empty(self) -> None:
        self.empty_label.setVisible(not self.cards)
