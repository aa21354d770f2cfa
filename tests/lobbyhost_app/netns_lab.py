"""Two network namespaces joined by a veth, for the game bridge's tests with real programs.

``bridge-h<pid>-<n>`` (the host's machine, 192.0.2.1) and ``bridge-g<pid>-<n>``
(the guest's, 192.0.2.2), linked by a veth on documentation addresses, each with
its own ``lo``: a server bound to 127.0.0.1 on the host side cannot be reached
from the guest side except through the bridge. Nothing routes out: no link to
the namespace the tests run in. Deleted when the block ends.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

from tests.ci import cannot_run

HOST_ADDRESS = "192.0.2.1"
GUEST_ADDRESS = "192.0.2.2"
_serial = itertools.count()


@dataclass(frozen=True)
class Lab:
    host_ns: str
    guest_ns: str

    def host(self, *command: str) -> list[str]:
        """``command`` run inside the host's namespace."""
        return ["ip", "netns", "exec", self.host_ns, *command]

    def guest(self, *command: str) -> list[str]:
        """``command`` run inside the guest's namespace."""
        return ["ip", "netns", "exec", self.guest_ns, *command]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def require_programs(*names: str) -> None:
    """Each program must be installed (Debian packages in .ci/run); else the test cannot run."""
    missing = [name for name in names if shutil.which(name) is None]
    if missing:
        cannot_run(f"not installed: {', '.join(missing)} (see the apt list in .ci/run)")


@contextlib.contextmanager
def lab() -> Iterator[Lab]:
    """A fresh host/guest namespace pair linked by a veth; removed afterwards."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        cannot_run("network namespaces need root and iproute2")
    tag = f"{os.getpid()}-{next(_serial)}"
    made = Lab(f"bridge-h{tag}", f"bridge-g{tag}")
    veth_host, veth_guest = f"brh{tag}"[:15], f"brg{tag}"[:15]
    try:
        _ip("netns", "add", made.host_ns)
        _ip("netns", "add", made.guest_ns)
        _ip("link", "add", veth_host, "type", "veth", "peer", "name", veth_guest)
        _ip("link", "set", veth_host, "netns", made.host_ns)
        _ip("link", "set", veth_guest, "netns", made.guest_ns)
        for ns, veth, address in (
            (made.host_ns, veth_host, HOST_ADDRESS),
            (made.guest_ns, veth_guest, GUEST_ADDRESS),
        ):
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "addr", "add", f"{address}/24", "dev", veth)
            _ip("-n", ns, "link", "set", veth, "up")
    except subprocess.CalledProcessError as exc:
        _remove(made)
        cannot_run(f"cannot make network namespaces here: {exc.stderr.decode(errors='replace')}")
    try:
        yield made
    finally:
        _remove(made)


def _remove(made: Lab) -> None:
    for ns in (made.host_ns, made.guest_ns):  # deleting a namespace deletes its veth end too
        subprocess.run(["ip", "netns", "delete", ns], capture_output=True, check=False)
