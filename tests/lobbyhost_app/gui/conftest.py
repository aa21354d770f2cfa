"""GUI test fixtures: a qasync loop per async test, settings in a temporary INI file.

Async GUI tests run on ``qasync.QEventLoop`` (pytest-asyncio's
``pytest_asyncio_loop_factories`` hook), so Qt and asyncio share one loop as in
the app. They wait with ``helpers.wait_until`` (a future completed from Qt
signals), never with ``qtbot.wait``/``waitSignal``: those spin a nested Qt loop
inside a coroutine.

Everything live (window, server, peers) is opened and closed inside the test's
own coroutine (``async with`` helpers), not in async fixtures: pytest-qt runs
``processEvents()`` between setup, call and teardown, outside the asyncio loop,
and a task woken there finds no running loop.
"""

from __future__ import annotations

from tests.qt_fixtures import (
    isolated_qsettings,
    pytest_asyncio_loop_factories,
    pytest_runtest_teardown,
    settings_store,
)

__all__ = [
    "isolated_qsettings",
    "pytest_asyncio_loop_factories",
    "pytest_runtest_teardown",
    "settings_store",
]
