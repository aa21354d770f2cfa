"""What importing the app's parts loads: models, views and session values stay clear of aiortc."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Modules a view or model may import without pulling in the network stack.
LIGHT = (
    "lobbyhost_app.session_values",
    "lobbyhost_app.models.join_requests",
    "lobbyhost_app.models.peers",
    "lobbyhost_app.models.game_ports",
    "lobbyhost_app.views.game_ports_panel",
    "lobbyhost_app.net.forwards",
    "lobbyhost_app.views.host_view",
    "lobbyhost_app.views.join_view",
    "lobbyhost_app.views.main_window",
    "lobbyhost_app.views.peers_table",
    "lobbyhost_app.views.qr_dialog",
    "lobbyhost_app.views.request_list",
    "lobbyhost_app.views.settings_dialog",
    "lobbyhost_app.views.widgets",
    "lobbyhost_app.net.ice",
)
HEAVY = ("aiortc", "aioice", "av", "websockets")


def test_models_and_views_load_neither_aiortc_nor_websockets() -> None:
    """A fresh interpreter importing every model and view module has no aiortc, aioice or websockets."""
    program = (
        "import importlib, sys\n"
        f"for name in {LIGHT!r}: importlib.import_module(name)\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
