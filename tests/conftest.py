"""Shared fixtures."""

from __future__ import annotations

import os

# GUI tests need no display: Qt reads this when the QApplication is created.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
