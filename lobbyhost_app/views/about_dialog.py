"""Help → About: what LobbyHost is, its version, and what it runs on."""

from __future__ import annotations

import platform

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt, qVersion
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from .. import __version__
from .widgets import app_icon, heading_font


class AboutDialog(QDialog):
    """The app's name and version, one line on what it does, the Qt and Python versions.

    Opened with ``open()`` (no nested event loop); it deletes itself when closed.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About LobbyHost")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        icon = QLabel(self)
        icon.setPixmap(app_icon().pixmap(64, 64))
        self.title_label = QLabel(f"LobbyHost {__version__}", self)
        self.title_label.setFont(heading_font(16))
        self.title_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.title_label.setAccessibleName("Version")
        about = QLabel(
            "Host a peer-to-peer game lobby: guests join with a code or an invite link, "
            "you accept them, and each gets a direct WebRTC connection to you.",
            self,
        )
        about.setWordWrap(True)
        self.versions_label = QLabel(
            f"Qt {qVersion()}, PySide6 {pyside_version}, Python {platform.python_version()}",
            self,
        )
        self.versions_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        layout = QVBoxLayout(self)
        layout.addWidget(icon, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.title_label, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(about)
        layout.addWidget(self.versions_label)
        layout.addWidget(self.buttons)
        self.buttons.rejected.connect(self.reject)
