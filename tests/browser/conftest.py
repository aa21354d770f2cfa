"""Browser tests: Debian's chromium as the guest, on a qasync loop like the desktop app.

They run only where ``lo`` is the only network interface; as root the whole
suite re-runs itself in such a namespace (``tests/conftest.py``), elsewhere
they are skipped with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import qasync
from PySide6.QtCore import QSettings

from lobbyhost_app.app import create_application
from lobbyhost_app.controllers.settings import Settings

from .harness import browser_unavailable_reason

LoopFactory = Callable[[], Any]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = browser_unavailable_reason()
    if reason is None:
        return
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.skip(reason=reason))


def _qasync_loop() -> qasync.QEventLoop:
    return qasync.QEventLoop(create_application(["pytest"]))


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, LoopFactory]:
    """Qt and asyncio share one loop, so the desktop host window works in these tests too."""
    return {"qasync": _qasync_loop}


@pytest.fixture(autouse=True)
def isolated_qsettings(tmp_path: Path) -> None:
    """Anything that builds a default QSettings writes under tmp_path, never in $HOME."""
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path))


@pytest.fixture
def settings_store(tmp_path: Path) -> QSettings:
    """Desktop host settings: server and ICE on loopback only, no ICE servers."""
    store = QSettings(str(tmp_path / "lobbyhost.ini"), QSettings.Format.IniFormat)
    Settings(store).update(
        display_name="Ann",
        listen_host="127.0.0.1",
        listen_port=0,
        ice_allowed_addresses=("127.0.0.1",),
        stun_urls=(),
        turn_url="",
    )
    return store
