"""Small widgets shared by the views: error banner, log and chat panel, confirmation, icon."""

from __future__ import annotations

import html
import time

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractButton,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

ACCENT = "#2f6fdf"


def app_icon() -> QIcon:
    """The LobbyHost icon, drawn: a blue rounded square with "LH"."""
    icon = QIcon()
    for size in (16, 32, 64, 128):
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setBrush(QColor(ACCENT))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawRoundedRect(QRectF(0, 0, size, size), size * 0.2, size * 0.2)
        font = QFont()
        font.setBold(True)
        font.setPixelSize(max(6, int(size * 0.45)))
        painter.setFont(font)
        painter.setPen(QColor("white"))
        painter.drawText(QRectF(0, 0, size, size), Qt.AlignmentFlag.AlignCenter, "LH")
        painter.end()
        icon.addPixmap(pixmap)
    return icon


def heading_font(point_size: int, *, monospace: bool = False) -> QFont:
    font = QFont("DejaVu Sans Mono") if monospace else QFont()
    if monospace:
        font.setStyleHint(QFont.StyleHint.Monospace)
    font.setPointSize(point_size)
    font.setBold(True)
    return font


class ErrorBanner(QFrame):
    """A red strip with one readable error message and a dismiss button; hidden when empty."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("errorBanner")
        self.setStyleSheet(
            "#errorBanner { background: #fde8e8; border: 1px solid #e0a0a0; border-radius: 4px; }"
            "#errorBanner QLabel { color: #8a1c1c; }"
        )
        self.label = QLabel(self)
        self.label.setTextFormat(Qt.TextFormat.PlainText)  # messages may quote others' text
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.dismiss_button = QPushButton("Dismiss", self)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.dismiss_button)
        self.dismiss_button.clicked.connect(self.clear)
        self.hide()

    def show_message(self, text: str) -> None:
        self.label.setText(text)
        self.show()

    def clear(self) -> None:
        self.label.clear()
        self.hide()

    def text(self) -> str:
        return self.label.text()


class ConfirmationBox(QMessageBox):
    """A question with a confirm button and Cancel (the default), window-modal.

    Show it with ``open()``, never ``exec()``: a nested event loop would stall
    the asyncio tasks sharing Qt's loop. It deletes itself when closed.

    Signals: ``confirmed()`` when the confirm button is clicked.
    """

    confirmed = Signal()

    def __init__(self, title: str, text: str, confirm_label: str, parent: QWidget) -> None:
        super().__init__(parent)
        self.setIcon(QMessageBox.Icon.Question)
        self.setWindowTitle(title)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setText(text)
        self.confirm_button = self.addButton(confirm_label, QMessageBox.ButtonRole.AcceptRole)
        self.cancel_button = self.addButton(QMessageBox.StandardButton.Cancel)
        self.setDefaultButton(self.cancel_button)
        self.setEscapeButton(self.cancel_button)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.buttonClicked.connect(self._on_self_button_clicked)

    def _on_self_button_clicked(self, button: QAbstractButton) -> None:
        if button is self.confirm_button:
            self.confirmed.emit()


class LogPanel(QWidget):
    """Lobby events and chat in one transcript, with a line to type chat into.

    Signals: ``chat_submitted(str)`` when the user sends a line.
    """

    chat_submitted = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.transcript = QPlainTextEdit(self)
        self.transcript.setReadOnly(True)
        self.transcript.setMaximumBlockCount(2000)
        self.transcript.setAccessibleName("Log and chat")
        self.chat_input = QLineEdit(self)
        self.chat_input.setPlaceholderText("Type a message and press Enter")
        self.chat_input.setMaxLength(2000)
        self.chat_input.setAccessibleName("Chat message")
        self.send_button = QPushButton("Send", self)
        row = QHBoxLayout()
        row.addWidget(self.chat_input, 1)
        row.addWidget(self.send_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.transcript, 1)
        layout.addLayout(row)
        self._connect_signals()

    def _connect_signals(self) -> None:
        self.send_button.clicked.connect(self._on_send_button_clicked)
        self.chat_input.returnPressed.connect(self._on_send_button_clicked)

    def log(self, text: str) -> None:
        """An event line, greyed, with the time."""
        self._append(f'<span style="color:#777">{html.escape(text)}</span>')

    def chat(self, who: str, text: str) -> None:
        """A chat line: the speaker in bold."""
        self._append(f"<b>{html.escape(who)}:</b> {html.escape(text)}")

    def error(self, text: str) -> None:
        self._append(f'<span style="color:#a11">{html.escape(text)}</span>')

    def plain_text(self) -> str:
        return self.transcript.toPlainText()

    def _append(self, body: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        self.transcript.appendHtml(f'<span style="color:#999">{stamp}</span> {body}')

    def _on_send_button_clicked(self) -> None:
        text = self.chat_input.text().strip()
        if text:
            self.chat_input.clear()
            self.chat_submitted.emit(text)
