"""Draw LobbyHost's icon (resources/icons/lobbyhost.png, 256 px) with Qt, offscreen.

Run from the repository root: ``.venv/bin/python resources/icons/make_icon.py``
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QImage, QPainter, QPainterPath

SIZE = 256


def draw() -> QImage:
    image = QImage(SIZE, SIZE, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    path = QPainterPath()
    path.addRoundedRect(QRectF(8, 8, SIZE - 16, SIZE - 16), 48, 48)
    painter.fillPath(path, QColor("#2f6fde"))
    # Three guests around a host: the star the app connects.
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor("#ffffff"))
    centre, radius = SIZE / 2, 70
    for dx, dy in ((0, -radius), (-radius * 0.87, radius / 2), (radius * 0.87, radius / 2)):
        painter.drawEllipse(QRectF(centre + dx - 22, centre + dy - 22, 44, 44))
    painter.setBrush(QColor("#ffd166"))
    painter.drawEllipse(QRectF(centre - 34, centre - 34, 68, 68))
    font = QFont("DejaVu Sans", 26, QFont.Weight.Bold)
    painter.setFont(font)
    painter.setPen(QColor("#1b3f80"))
    painter.drawText(QRectF(centre - 34, centre - 34, 68, 68), Qt.AlignmentFlag.AlignCenter, "LH")
    painter.end()
    return image


def main() -> int:
    QGuiApplication(sys.argv[:1])
    output = Path(__file__).with_name("lobbyhost.png")
    if not draw().save(str(output)):
        print(f"could not write {output}", file=sys.stderr)
        return 1
    print(f"saved {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
