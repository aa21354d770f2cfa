"""Shared fixtures, and the loopback-only network namespace the suite runs in as root.

Run as root (with ``unshare`` and iproute2's ``ip``), the session re-executes
itself once inside a fresh network namespace that has nothing but ``lo``:
every test, and the browser above all (Chromium gathers ICE candidates on
every interface it sees), can then reach nothing but loopback. The namespace
goes away when pytest exits. Not root: the tests run as they are, loopback by
construction, and the browser tests skip, or fail under CI (tests/browser/conftest.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

# GUI tests need no display: Qt reads this when the QApplication is created.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

#: Set inside the namespace, so the session re-executes itself only once.
NETNS_ENV = "LOBBYHOST_NETNS"


def _can_make_network_namespace() -> bool:
    if os.geteuid() != 0 or os.environ.get(NETNS_ENV) or sys.platform != "linux":
        return False
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    # A container may forbid namespaces even to root: then run as we are.
    probe = subprocess.run(["unshare", "--net", "true"], capture_output=True, check=False)
    return probe.returncode == 0


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """As root, run this very session again inside a loopback-only network namespace."""
    if not _can_make_network_namespace():
        return
    capture = config.pluginmanager.getplugin("capturemanager")
    if capture is not None:
        capture.stop_global_capturing()  # give the new process the real stdout and stderr
    os.environ[NETNS_ENV] = "1"
    os.chdir(config.invocation_params.dir)
    args = [str(arg) for arg in config.invocation_params.args]
    command = ["unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"]
    os.execvp("unshare", [*command, sys.executable, "-m", "pytest", *args])  # noqa: S606
