"""Browser tests: Debian's chromium as the guest, on a qasync loop like the desktop app.

They run only where ``lo`` is the only network interface; as root the whole
suite re-runs itself in such a namespace (``tests/conftest.py``), elsewhere
they are skipped with the reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.lobbyhost_app.loopback import loopback_ice
from tests.qt_fixtures import (
    isolated_qsettings,
    pytest_asyncio_loop_factories,
    settings_store,
)

from .harness import browser_unavailable_reason

__all__ = ["isolated_qsettings", "loopback_ice", "pytest_asyncio_loop_factories", "settings_store"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = browser_unavailable_reason()
    if reason is None:
        return
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.skip(reason=reason))
