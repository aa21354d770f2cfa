"""``lobbyhost`` on the command line: --version, no display, options in the window, quiet quits."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from pytestqt.qtbot import QtBot

from lobbyhost_app.cli import INTERRUPTED, NO_DISPLAY, build_parser, host_overrides
from lobbyhost_app.controllers.host_controller import HostOverrides, HostState
from lobbyhost_app.controllers.settings import Settings
from lobbyhost_app.net.guest import GuestPhase
from tests.timeouts import scaled

from .helpers import RealGuest, running_app, wait_until

ROOT = Path(__file__).resolve().parents[3]
PROGRAM = "import sys; from lobbyhost_app.cli import main; sys.exit(main(sys.argv[1:]))"

#: The app, with a real SIGINT (Ctrl+C in its terminal) once its window is shown, and a
#: second one while it is shutting down, as an impatient person presses it twice.
INTERRUPTED_WHEN_SHOWN = """
import os, signal, sys
from PySide6.QtWidgets import QMainWindow
from lobbyhost_app import app
from lobbyhost_app.views.main_window import MainWindow

def interrupt_when_shown(window, event):
    QMainWindow.showEvent(window, event)
    os.kill(os.getpid(), signal.SIGINT)

shutdown = app.shutdown

async def interrupted_shutdown(parts):
    os.kill(os.getpid(), signal.SIGINT)
    await shutdown(parts)

MainWindow.showEvent = interrupt_when_shown
app.shutdown = interrupted_shutdown
from lobbyhost_app.cli import main
sys.exit(main(sys.argv[1:]))
"""

#: The app, with a real SIGINT while it is still loading (when aiortc is first imported).
INTERRUPTED_WHILE_LOADING = """
import os, signal, sys

class InterruptOnImport:
    def find_spec(self, name, path=None, target=None):
        if name == "aiortc":
            os.kill(os.getpid(), signal.SIGINT)
        return None

sys.meta_path.insert(0, InterruptOnImport())
from lobbyhost_app.cli import main
sys.exit(main(sys.argv[1:]))
"""

#: The app, its window closed (as with the title bar's button) once shown.
CLOSED_WHEN_SHOWN = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMainWindow
from lobbyhost_app.views.main_window import MainWindow

def close_when_shown(window, event):
    QMainWindow.showEvent(window, event)
    QTimer.singleShot(0, window.close)

MainWindow.showEvent = close_when_shown
from lobbyhost_app.cli import main
sys.exit(main(sys.argv[1:]))
"""


def run(
    program: str, *args: str, home: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``program`` in a fresh interpreter, settings under ``home``; offscreen unless ``env``."""
    if env is None:
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    env = {**env, "HOME": str(home), "XDG_CONFIG_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-c", program, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=scaled(60),
        check=False,
    )


def test_version_prints_the_installed_version(tmp_path: Path) -> None:
    """lobbyhost --version prints "lobbyhost <version>" and exits 0."""
    done = run(PROGRAM, "--version", home=tmp_path)
    assert (done.returncode, done.stdout) == (0, f"lobbyhost {version('lobbyhost')}\n")


def test_no_display_is_a_sentence_pointing_to_headless(tmp_path: Path) -> None:
    """Without DISPLAY or WAYLAND_DISPLAY, lobbyhost exits 2 with a sentence, not Qt's xcb abort."""
    bare = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    done = run(PROGRAM, "--quit-when-shown", home=tmp_path, env=bare)
    assert done.returncode == 2, done.stderr
    assert done.stderr == NO_DISPLAY + "\n"
    assert "lobbyhost --headless" in done.stderr
    assert done.stdout == ""


def test_ctrl_c_quits_quietly_even_when_pressed_twice(tmp_path: Path) -> None:
    """SIGINT with the window up, then again while closing: exit 0 and no traceback."""
    done = run(INTERRUPTED_WHEN_SHOWN, home=tmp_path)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 0, done.stderr


def test_ctrl_c_while_loading_quits_quietly(tmp_path: Path) -> None:
    """SIGINT before the window exists (imports under way): exit 130, no traceback."""
    done = run(INTERRUPTED_WHILE_LOADING, home=tmp_path)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == INTERRUPTED


def test_closing_the_window_quits_quietly(tmp_path: Path) -> None:
    """Closing the window (no guests) quits with 0 and nothing like a traceback on stderr."""
    done = run(CLOSED_WHEN_SHOWN, home=tmp_path)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 0, done.stderr


def test_window_options_come_from_the_command_line() -> None:
    """--listen, --name, --code and --auto-accept become the window's choices for this run."""
    args = build_parser().parse_args(
        ["--listen", "127.0.0.1:0", "--name", "Zed", "--code", "k7qx2m", "--auto-accept"]
    )
    assert host_overrides(args) == HostOverrides(
        listen=("127.0.0.1", 0), display_name="Zed", code="k7qx2m", auto_accept=True
    )
    assert host_overrides(build_parser().parse_args([])) == HostOverrides()


async def test_the_window_honours_listen_name_code_and_auto_accept(
    qtbot: QtBot, settings_store: QSettings
) -> None:
    """The window hosts where --listen says, with --code, as --name, auto-accepting; saved settings stay."""
    # Saved settings that cannot work here (a documentation address): the options must win.
    Settings(settings_store).update(listen_host="192.0.2.1", listen_port=1)
    overrides = HostOverrides(
        listen=("127.0.0.1", 0), display_name="Zed", code="K7QX2M", auto_accept=True
    )
    async with running_app(settings_store, overrides=overrides) as parts:
        view = parts.window.host_view
        assert view.auto_accept_check.isChecked()
        qtbot.mouseClick(view.open_button, Qt.MouseButton.LeftButton)
        await wait_until(lambda: parts.host.state is HostState.OPEN, parts.host.state_changed)
        assert parts.host.code == "K7QX2M"
        assert parts.host.server_url is not None
        assert parts.host.server_url.startswith("ws://127.0.0.1:")
        guest = RealGuest(parts.host.server_url)
        try:
            await guest.join("K7QX2M", "Bob")
            waiting = await guest.wait_phase(GuestPhase.WAITING)
            assert waiting.detail == "Zed's lobby"
            await guest.wait_phase(GuestPhase.CONNECTED)  # nobody clicked Accept
        finally:
            await guest.close()
    saved = Settings(settings_store).load()
    assert (saved.listen_host, saved.listen_port, saved.display_name) == ("192.0.2.1", 1, "Ann")
