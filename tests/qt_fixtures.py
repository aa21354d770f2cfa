"""Fixtures shared by the tests that run the Qt app: a qasync loop, isolated settings."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import qasync
from PySide6.QtCore import QSettings

from lobbyhost_app.app import create_application, new_event_loop
from lobbyhost_app.controllers.settings import Settings

LoopFactory = Callable[[], Any]


def _qasync_loop() -> qasync.QEventLoop:
    return new_event_loop(create_application(["pytest"]))


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, LoopFactory]:
    """Async tests run on a qasync loop: Qt and asyncio share one loop, as in the app."""
    return {"qasync": _qasync_loop}


@pytest.fixture(autouse=True)
def isolated_qsettings(tmp_path: Path) -> None:
    """Anything that builds a default QSettings writes under tmp_path, never in $HOME."""
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path))


def loopback_settings(path: Path, display_name: str = "Ann") -> QSettings:
    """Host settings in the INI file ``path``: server and ICE on loopback only, no ICE servers."""
    store = QSettings(str(path), QSettings.Format.IniFormat)
    Settings(store).update(
        display_name=display_name,
        listen_host="127.0.0.1",
        listen_port=0,
        ice_allowed_addresses=("127.0.0.1",),
        stun_urls=(),
        turn_url="",
    )
    return store


@pytest.fixture
def settings_store(tmp_path: Path) -> QSettings:
    """Desktop host settings on a fresh INI file: loopback-only server and ICE, no ICE servers."""
    return loopback_settings(tmp_path / "lobbyhost.ini")
