"""The router's port mapping as one status line in the host view."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

if TYPE_CHECKING:
    from ..net.port_mapping import PortMappingState

#: Colours of the line by status (value of :class:`PortMappingStatus`).
_COLOURS = {"opened": "#2e7d32", "refused": "#b26a00", "no_router": "#b26a00"}


class PortMappingStatusLine(QLabel):
    """Says "Port 8765 opened on your router", or what to do when it was not; hidden until asked."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setWordWrap(True)
        self.setAccessibleName("Router port")
        self.hide()

    def show_state(self, state: PortMappingState | None) -> None:
        """Show ``state``'s sentence (the router's reason as a tooltip); ``None`` hides the line."""
        if state is None:
            self.clear()
            self.hide()
            return
        self.setText(state.message)
        self.setToolTip(f"The router said: {state.reason}" if state.reason else "")
        colour = _COLOURS.get(state.status.value)
        self.setStyleSheet(f"color: {colour};" if colour else "")
        self.show()
