"""Fixtures shared by the tests that run the Qt app: a qasync loop, isolated settings."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Mapping
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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """After each test's teardown, Qt objects left in reference cycles are freed on this thread.

    qasync's loop and its timer and signaller QObjects hold each other in a
    cycle (and so may a test's widgets), so only the cyclic collector frees
    them, and it runs in whichever thread allocates when a threshold is
    passed. Freed on another thread (the NAT lab's output readers, an
    executor), a QObject with timers corrupts Qt's event dispatcher and the
    next ``processEvents()`` crashes: a CI run died at pytest-qt's setup of
    tests/natlab/test_port_mapping.py so. Once the whole teardown is done (the
    test's loop closed and let go), they are collected here, on the main
    thread: ~50 ms a test, for the tests that use Qt only.
    """
    try:
        return (yield)
    finally:
        gc.collect()


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
