"""The host window's QR code of the invite link."""

from __future__ import annotations

import segno
from PySide6.QtCore import QSettings
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from lobbyhost_app.controllers.host_controller import HostState
from lobbyhost_app.invite import QR_BORDER, invite_qr_png

from .helpers import hosting, wait_until


def modules(image: QImage, size: int, scale: int) -> list[list[bool]]:
    """The dark/light modules read back from the middle of each scale x scale cell."""
    return [
        [
            QColor(
                image.pixel(
                    (QR_BORDER + col) * scale + scale // 2, (QR_BORDER + row) * scale + scale // 2
                )
            ).lightness()
            < 128
            for col in range(size)
        ]
        for row in range(size)
    ]


def test_qr_png_encodes_the_link() -> None:
    """The PNG's modules are exactly the QR symbol of the link (read back pixel by pixel)."""
    link = "http://192.168.1.20:8765/join/K7QX2M"
    image = QImage.fromData(invite_qr_png(link, scale=4))
    symbol = segno.make(link, error="m", micro=False)
    size = int(symbol.symbol_size(border=0)[0])
    assert image.width() == (size + 2 * QR_BORDER) * 4
    expected = [[bool(cell) for cell in row] for row in symbol.matrix]
    assert modules(image, size, 4) == expected


async def test_qr_button_shows_the_invite_link_as_a_qr_code(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """QR code (enabled only while a lobby is open) opens a dialog with the code's image and the link beside it."""
    async with hosting(qtbot, settings_store) as h:
        assert h.view.qr_button.isEnabled()
        h.click(h.view.qr_button)
        dialog = h.view.qr_dialog
        assert dialog is not None and dialog.isVisible()
        link = h.view.invite_edit.text()
        assert dialog.link_label.text() == link
        pixmap = dialog.qr_label.pixmap()
        assert not pixmap.isNull() and pixmap.width() >= 200
        size = int(segno.make(link, error="m", micro=False).symbol_size(border=0)[0])
        expected = [[bool(c) for c in row] for row in segno.make(link, error="m").matrix]
        assert modules(pixmap.toImage(), size, 8) == expected

        close = dialog.buttons.button(QDialogButtonBox.StandardButton.Close)
        h.click(close)
        assert not dialog.isVisible()
        h.click(h.view.close_button)
        controller = h.controller
        await wait_until(lambda: controller.state is HostState.IDLE, controller.state_changed)
        assert not h.view.qr_button.isEnabled()
