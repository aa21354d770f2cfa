"""The desktop app: a QApplication, qasync's loop and the main window.

Qt and asyncio share one thread: the asyncio loop *is* Qt's event loop
(``qasync.QEventLoop``), started through ``asyncio.Runner(loop_factory=...)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import qasync
from PySide6.QtCore import QEvent, QObject, QSettings
from PySide6.QtWidgets import QApplication

from .controllers.guest_controller import GuestController
from .controllers.host_controller import HostController, HostOverrides
from .controllers.settings import APPLICATION, ORGANIZATION, AppSettings, Settings
from .errors import LobbyHostError
from .net.ice import install_address_allow_list
from .views.main_window import MainWindow
from .views.widgets import app_icon

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class AppParts:
    """What :func:`build` makes: the settings, both controllers and the window."""

    settings: Settings
    host: HostController
    guest: GuestController
    window: MainWindow
    #: Set when the user asks to quit (window closed, Quit, SIGINT/SIGTERM).
    quit_requested: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.window.close_requested.connect(self.quit_requested.set)


def new_event_loop(app: QApplication) -> qasync.QEventLoop:
    """The qasync loop Qt and asyncio share, its blocking helpers on plain Python threads.

    asyncio needs an executor only to look names up (a listen or server address
    that is not an IP literal). qasync's own default starts ten QThreads per
    loop; QThreads that outlive their loop can take the process down, and two
    plain threads do the job.
    """
    loop = qasync.QEventLoop(app)
    loop.set_default_executor(ThreadPoolExecutor(max_workers=2, thread_name_prefix="lookup"))
    return loop


def create_application(argv: Sequence[str] | None = None) -> QApplication:
    """The QApplication (the existing one if there is one), named for QSettings."""
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(list(argv or sys.argv))
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("LobbyHost")
    app.setWindowIcon(app_icon())
    # Quitting is run_window's job (after guests are told): Qt must not stop the loop itself.
    app.setQuitOnLastWindowClosed(False)
    return app


def build(store: QSettings | None = None, *, overrides: HostOverrides | None = None) -> AppParts:
    """Settings, controllers and the main window, wired; nothing started yet.

    ``overrides`` are the command line's choices for this run's lobbies.
    """
    settings = Settings(store)
    host = HostController(settings, overrides=overrides)
    guest = GuestController(settings)
    window = MainWindow(host, guest)
    return AppParts(settings, host, guest, window)


async def shutdown(parts: AppParts) -> None:
    """Leave and close everything the app holds (guests are told the lobby closed)."""
    await parts.guest.shutdown()
    await parts.host.shutdown()


class _FirstPaint(QObject):
    """Sets a future when the watched widget paints for the first time."""

    def __init__(self, painted: asyncio.Future[None]) -> None:
        super().__init__()
        self._painted = painted

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and not self._painted.done():
            self._painted.set_result(None)
        return False


def seconds_since_process_start() -> float | None:
    """How long this process has existed (Linux), bootloader and imports included."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")
        return time.clock_gettime(time.CLOCK_BOOTTIME) - started
    except (OSError, ValueError, IndexError):
        return None


async def report_when_shown(parts: AppParts) -> None:
    """Print how long the window took to be painted since the process started, then quit."""
    painted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    watcher = _FirstPaint(painted)
    parts.window.installEventFilter(watcher)
    await painted
    parts.window.removeEventFilter(watcher)
    elapsed = seconds_since_process_start()
    shown = f"{elapsed * 1000:.0f} ms" if elapsed is not None else "unknown time"
    print(f"window shown {shown} after the process started", flush=True)
    parts.quit_requested.set()


async def run_window(parts: AppParts, *, quit_when_shown: bool = False) -> None:
    """Show the window until the user closes it, then shut down cleanly and close it."""
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, parts.quit_requested.set)
        loop.add_signal_handler(signal.SIGTERM, parts.quit_requested.set)
    reporter = asyncio.create_task(report_when_shown(parts)) if quit_when_shown else None
    parts.window.show()
    try:
        await parts.quit_requested.wait()
    finally:
        if reporter is not None:
            reporter.cancel()
        try:
            # Still ours while guests are told goodbye: a second Ctrl+C changes nothing.
            await shutdown(parts)
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(signum)
            parts.window.allow_close()
            parts.window.close()


def follow_address_allow_list(settings: Settings) -> None:
    """Install the ICE allow-list of the settings now, and again whenever they are saved.

    Process-wide (see :mod:`lobbyhost_app.net.ice`), so done here, by the app
    that owns the process, not by each session.
    """

    def install(values: AppSettings) -> None:
        try:
            install_address_allow_list(values.ice_allowed_addresses)
        except LobbyHostError as exc:  # a hand-edited settings file; the dialog checks input
            logger.warning("ICE allow-list not changed: %s", exc)

    install(settings.load())
    settings.changed.connect(install)


def run_gui(
    argv: Sequence[str] | None = None,
    *,
    quit_when_shown: bool = False,
    overrides: HostOverrides | None = None,
) -> int:
    """``lobbyhost``: run the desktop app until its window closes."""
    app = create_application(argv)
    parts = build(overrides=overrides)
    follow_address_allow_list(parts.settings)
    with asyncio.Runner(loop_factory=lambda: new_event_loop(app)) as runner:
        runner.run(run_window(parts, quit_when_shown=quit_when_shown))
    return 0
