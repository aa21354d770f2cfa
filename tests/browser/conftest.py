"""Browser tests: Debian's chromium as the guest, on a qasync loop like the desktop app.

They run only where ``lo`` is the only network interface; as root the whole
suite re-runs itself in such a namespace (``tests/conftest.py``), elsewhere
they are skipped with the reason, and under CI (``CI=true``) they fail with it.
"""

from __future__ import annotations

import pytest

from tests.ci import cannot_run
from tests.lobbyhost_app.loopback import loopback_ice
from tests.qt_fixtures import (
    isolated_qsettings,
    pytest_asyncio_loop_factories,
    pytest_runtest_teardown,
    settings_store,
)

from .harness import browser_unavailable_reason

__all__ = [
    "isolated_qsettings",
    "loopback_ice",
    "pytest_asyncio_loop_factories",
    "pytest_runtest_teardown",
    "settings_store",
]


@pytest.fixture(autouse=True)
def browser_available() -> None:
    """Every browser test first checks it can run safely: skip if not, or fail under CI."""
    reason = browser_unavailable_reason()
    if reason is not None:
        cannot_run(reason)
