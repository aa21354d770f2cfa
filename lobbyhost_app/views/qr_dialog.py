"""The invite link as a QR code, for guests who join from a phone."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from ..invite import invite_qr_png


class InviteQrDialog(QDialog):
    """Shows the QR code of an invite link with the link written beside it."""

    def __init__(self, link: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Invite link as a QR code")
        self.link = link
        pixmap = QPixmap()
        pixmap.loadFromData(invite_qr_png(link), "PNG")
        self.qr_label = QLabel(self)
        self.qr_label.setPixmap(pixmap)
        self.qr_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.qr_label.setAccessibleName("QR code of the invite link")
        hint = QLabel("Point a phone's camera at the code to open the join page.", self)
        self.link_label = QLabel(link, self)
        # Plain text: a link is data, never markup.
        self.link_label.setTextFormat(Qt.TextFormat.PlainText)
        self.link_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.link_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.link_label.setAccessibleName("Invite link")
        self.buttons = buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.qr_label)
        layout.addWidget(hint)
        layout.addWidget(self.link_label)
        layout.addWidget(buttons)
