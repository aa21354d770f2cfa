"""Lab tests: each module builds one NAT lab (tests/natlab/lab.py) and shares it.

They need root (network namespaces) and Debian's iproute2, iptables, coturn and
miniupnpd: without them they skip with the reason, and under CI
(``CI=true``) they fail with it. As root the suite runs inside its own
loopback-only namespace (tests/conftest.py); the lab's namespaces are made
from there with ``ip netns add`` and linked only to each other.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.ci import cannot_run
from tests.qt_fixtures import (
    isolated_qsettings,
    pytest_asyncio_loop_factories,
    pytest_runtest_teardown,
)

from .lab import Lab, lab_unavailable

__all__ = [
    "isolated_qsettings",
    "pytest_asyncio_loop_factories",
    "pytest_runtest_teardown",
]


def check_lab_can_run(*programs: str) -> None:
    """Skip (or, under CI, fail) the test when no lab can be built here."""
    reason = lab_unavailable()
    missing = [program for program in programs if shutil.which(program) is None]
    if reason is None and missing:
        reason = f"the NAT lab needs {', '.join(missing)}"
    if reason is not None:
        cannot_run(reason)


@pytest.fixture(scope="module")
def cone_lab() -> Iterator[Lab]:
    """Two homes behind port-restricted cone NATs, miniupnpd on both routers, coturn in the cloud.

    The host router maps ports; the guest router, whose WAN address is a
    documentation address, refuses (Debian 12's miniupnpd maps only for a
    public WAN address).
    """
    check_lab_can_run("miniupnpd")
    with Lab() as lab:
        lab.start_turn_server()
        lab.start_port_mapper(lab.host_router)
        lab.start_port_mapper(lab.guest_router)
        yield lab
