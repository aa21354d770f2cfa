"""Processes of the NAT lab: started with their output copied to a log, coturn's setup.

Also usable outside a lab (a coturn on loopback for tests of the peers alone).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


class LabError(RuntimeError):
    """The lab could not be built or a process in it did not start."""


@dataclass(frozen=True, slots=True)
class TurnServer:
    """The cloud's coturn: STUN and TURN on one port, TURN REST credentials from ``secret``."""

    host: str
    port: int
    secret: str
    realm: str

    @property
    def stun_url(self) -> str:
        return f"stun:{self.host}:{self.port}"

    @property
    def turn_url(self) -> str:
        return f"turn:{self.host}:{self.port}?transport=udp"

    def rest_credentials(self, ttl_s: int = 3600) -> tuple[str, str]:
        """A TURN REST username (the expiry alone, no colon) and its credential."""
        username = str(int(time.time()) + ttl_s)
        digest = hmac.new(self.secret.encode(), username.encode(), hashlib.sha1).digest()
        return username, base64.b64encode(digest).decode()

    def turn_argument(self, ttl_s: int = 3600) -> str:
        """The TURN server as an ``--ice-server`` value with fresh REST credentials."""
        username, credential = self.rest_credentials(ttl_s)
        return f"turn:{username}:{credential}@{self.host}:{self.port}"


class LabProcess:
    """A process running in a lab namespace; a thread copies its output to a log file as it comes.

    Daemons say they are ready only in their output: :meth:`wait_for_output`
    waits on the copying thread's notice of each new line, with a timeout.
    """

    def __init__(self, label: str, process: subprocess.Popen[bytes], output_path: Path) -> None:
        self.label = label
        self.process = process
        self.output_path = output_path
        self._text = ""
        self._ended = False
        self._changed = threading.Condition()
        self._copier = threading.Thread(target=self._copy, name=f"lab-{label}", daemon=True)
        self._copier.start()

    def _copy(self) -> None:
        assert self.process.stdout is not None
        with self.output_path.open("wb") as log:
            for line in iter(self.process.stdout.readline, b""):
                log.write(line)
                log.flush()
                with self._changed:
                    self._text += line.decode("utf-8", "replace")
                    self._changed.notify_all()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def output(self) -> str:
        with self._changed:
            return self._text

    def wait_for_output(self, text: str, timeout: float) -> None:
        """Until ``text`` shows in its output; :class:`LabError` if it exits or time runs out."""
        with self._changed:
            self._changed.wait_for(lambda: text in self._text or self._ended, timeout)
            if text in self._text:
                return
            ended = self._ended
        if ended:
            self.process.wait()
            raise LabError(f"{self.label} exited ({self.process.returncode}):\n{self.output()}")
        raise LabError(f"{self.label} never said {text!r} within {timeout:g} s:\n{self.output()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._copier.join(5)
        if self.process.stdout is not None:
            self.process.stdout.close()


def start_logged(argv: Sequence[str], label: str, workdir: Path) -> LabProcess:
    """Start ``argv`` with its output copied to ``workdir/label.log``; the caller stops it."""
    process = subprocess.Popen(
        list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    return LabProcess(label, process, workdir / f"{label}.log")


def write_coturn_config(server: TurnServer, workdir: Path, *, loopback: bool = False) -> Path:
    """A coturn configuration for ``server``: STUN, TURN over UDP, REST credentials, no TLS.

    ``loopback`` lets it relay between loopback addresses (tests outside the lab).
    """
    config = workdir / "turnserver.conf"
    lines = [
        f"listening-ip={server.host}",
        f"relay-ip={server.host}",
        f"listening-port={server.port}",
        "min-port=49152",
        "max-port=65535",
        "use-auth-secret",
        f"static-auth-secret={server.secret}",
        f"realm={server.realm}",
        "fingerprint",
        "no-tls",
        "no-dtls",
        "no-tcp-relay",
        "no-cli",
        "no-software-attribute",
        f"pidfile={workdir / 'turnserver.pid'}",
        f"userdb={workdir / 'turndb.sqlite'}",
        "log-file=stdout",
        "simple-log",
        "verbose",
    ]
    if loopback:
        lines.append("allow-loopback-peers")
    config.write_text("\n".join([*lines, ""]))
    return config


def coturn_ready_line(server: TurnServer) -> str:
    """What coturn logs once it answers on ``server``'s UDP port."""
    return f"UDP listener opened on: {server.host}:{server.port}"


def python_module(module: str) -> list[str]:
    """How to run ``main()`` of ``module`` from this checkout with this Python."""
    root = Path(__file__).resolve().parents[2]
    code = f"import sys; sys.path.insert(0, {str(root)!r}); from {module} import main; sys.exit(main(sys.argv[1:]))"
    return [sys.executable, "-c", code]
