"""A NAT lab of network namespaces: two homes behind NAT routers, a cloud, an internet between.

::

    home "host"                      internet (a bridge)                 home "guest"
    host 192.168.1.10 -- host router ======== br0 ======== guest router -- guest 192.168.2.10
                         WAN 100.128.0.2       |           WAN 203.0.113.3
                                           cloud 203.0.113.10
                                           (coturn, lobbyhost-server)

Every namespace is named ``natlab-<pid>-<n>-<role>`` (``n`` counts labs in this
process), so parallel runs never collide, and :meth:`Lab.close` deletes them all,
with every process started in them, even when building the lab failed half-way.
Nothing routes out: the lab's links are veth pairs between its own namespaces,
none reaches the namespace the lab was built from. On the internet every address
is on-link (a default route through the bridge), like one flat public network.

Routers masquerade LAN traffic behind their WAN address with iptables-legacy
(miniupnpd's libiptc reads and writes the legacy tables): plain ``MASQUERADE``
keeps a source port per inside endpoint and filters replies by remote address
and port, a port-restricted cone NAT; ``--random-fully`` picks a new port per
destination, a symmetric NAT.

The host router's WAN address, 100.128.0.2, is outside every reserved range on
purpose: Debian 12's miniupnpd (2.3.1) refuses to map ports when its WAN address
is reserved (the documentation ranges included: UPnP error 501), as a real
router behind carrier-grade NAT does. The address exists only inside the lab's
namespaces and nothing is routed out of them. The guest router keeps a
documentation address (203.0.113.3), so a miniupnpd started there is a router
that refuses.

Use it as a context manager (``with Lab(...) as lab``) from a root process that
may create network namespaces; :func:`lab_unavailable` says why not otherwise.
"""

from __future__ import annotations

import contextlib
import ctypes
import enum
import itertools
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from .processes import (
    LabError,
    LabProcess,
    TurnServer,
    coturn_ready_line,
    python_module,
    start_logged,
    write_coturn_config,
)

#: Labs made by this process so far: part of every namespace name.
_lab_numbers = itertools.count(1)
_CLONE_NEWNET = 0x40000000
NETNS_DIR = Path("/var/run/netns")

CLOUD_ADDRESS = "203.0.113.10"
#: Public-looking (miniupnpd maps only on a non-reserved WAN address); lab-only.
HOST_ROUTER_WAN = "100.128.0.2"
GUEST_ROUTER_WAN = "203.0.113.3"
HOST_LAN = ("192.168.1.1", "192.168.1.10")
GUEST_LAN = ("192.168.2.1", "192.168.2.10")
STUN_PORT = 3478
#: Programs the lab runs, each from its Debian package.
REQUIRED_PROGRAMS = {"ip": "iproute2", "iptables-legacy": "iptables", "turnserver": "coturn"}


class NatKind(enum.Enum):
    """How a home router translates: port-restricted cone or symmetric."""

    CONE = "cone"
    SYMMETRIC = "symmetric"


@dataclass(frozen=True, slots=True)
class Machine:
    """One network namespace of the lab and its address (LAN or internet)."""

    namespace: str
    address: str

    def command(self, *argv: str) -> list[str]:
        """``argv`` run inside this machine's namespace."""
        return ["ip", "netns", "exec", self.namespace, *argv]


@dataclass(frozen=True, slots=True)
class Router(Machine):
    """A home router: ``address`` is its LAN side, ``wan_address`` its internet side."""

    wan_address: str
    lan_network: str
    nat: NatKind


def lab_unavailable() -> str | None:
    """Why no lab can be built here (``None`` when one can)."""
    if os.geteuid() != 0:
        return "the NAT lab needs root to create network namespaces"
    missing = [f"{name} ({package})" for name, package in REQUIRED_PROGRAMS.items()]
    missing = [m for m in missing if shutil.which(m.split()[0]) is None]
    if missing:
        return "the NAT lab needs " + ", ".join(missing)
    return None


class Lab:
    """The namespaces, links, NAT rules and processes of one lab; :meth:`close` removes all."""

    def __init__(self, *, host_nat: NatKind = NatKind.CONE, guest_nat: NatKind = NatKind.CONE):
        self.prefix = f"natlab-{os.getpid()}-{next(_lab_numbers)}"
        self.host_nat = host_nat
        self.guest_nat = guest_nat
        self.workdir = Path(tempfile.mkdtemp(prefix=f"{self.prefix}-"))
        self.namespaces: list[str] = []
        self.processes: list[LabProcess] = []
        #: The cloud's coturn, once started.
        self.turn: TurnServer | None = None
        #: miniupnpd by router namespace.
        self.port_mappers: dict[str, LabProcess] = {}
        self.internet = self._name("inet")
        self.cloud = Machine(self._name("cloud"), CLOUD_ADDRESS)
        self.host_router = Router(
            self._name("hostrouter"), HOST_LAN[0], HOST_ROUTER_WAN, "192.168.1.0/24", host_nat
        )
        self.guest_router = Router(
            self._name("guestrouter"), GUEST_LAN[0], GUEST_ROUTER_WAN, "192.168.2.0/24", guest_nat
        )
        self.host = Machine(self._name("host"), HOST_LAN[1])
        self.guest = Machine(self._name("guest"), GUEST_LAN[1])

    def _name(self, role: str) -> str:
        return f"{self.prefix}-{role}"

    # Building and tearing down ---------------------------------------------------------

    def __enter__(self) -> Lab:
        try:
            self.build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def build(self) -> None:
        """Create the namespaces, wire them and set the routers' NAT."""
        NETNS_DIR.mkdir(parents=True, exist_ok=True)
        remove_stale_labs()
        for namespace in (
            self.internet,
            self.cloud.namespace,
            self.host_router.namespace,
            self.guest_router.namespace,
            self.host.namespace,
            self.guest.namespace,
        ):
            _run("ip", "netns", "add", namespace)
            self.namespaces.append(namespace)
            _run("ip", "-n", namespace, "link", "set", "lo", "up")
        _run("ip", "-n", self.internet, "link", "add", "br0", "type", "bridge")
        _run("ip", "-n", self.internet, "link", "set", "br0", "up")
        self._attach_to_internet(self.cloud.namespace, "cloud", self.cloud.address)
        for router, machine in ((self.host_router, self.host), (self.guest_router, self.guest)):
            self._attach_to_internet(router.namespace, machine.namespace[-5:], router.wan_address)
            self._build_home(router, machine)

    def _attach_to_internet(self, namespace: str, port_name: str, address: str) -> None:
        """A ``wan`` link from ``namespace`` to the bridge; every internet address on-link."""
        _run(
            "ip",
            "-n",
            self.internet,
            "link",
            "add",
            port_name,
            "type",
            "veth",
            "peer",
            "name",
            "wan",
            "netns",
            namespace,
        )
        _run("ip", "-n", self.internet, "link", "set", port_name, "master", "br0", "up")
        _run("ip", "-n", namespace, "addr", "add", f"{address}/24", "dev", "wan")
        _run("ip", "-n", namespace, "link", "set", "wan", "up")
        _run("ip", "-n", namespace, "route", "add", "default", "dev", "wan")

    def _build_home(self, router: Router, machine: Machine) -> None:
        _run(
            "ip",
            "-n",
            router.namespace,
            "link",
            "add",
            "lan",
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            machine.namespace,
        )
        _run("ip", "-n", router.namespace, "addr", "add", f"{router.address}/24", "dev", "lan")
        _run("ip", "-n", router.namespace, "link", "set", "lan", "up")
        _run("ip", "-n", machine.namespace, "addr", "add", f"{machine.address}/24", "dev", "eth0")
        _run("ip", "-n", machine.namespace, "link", "set", "eth0", "up")
        _run("ip", "-n", machine.namespace, "route", "add", "default", "via", router.address)
        _run(*router.command("sysctl", "-q", "-w", "net.ipv4.ip_forward=1"))
        iptables = router.command("iptables-legacy")
        _run(*iptables, "-t", "nat", "-A", "POSTROUTING", "-o", "wan", *_masquerade(router.nat))
        # The chains miniupnpd adds its rules to (what Debian's iptables_init.sh makes).
        _run(*iptables, "-t", "nat", "-N", "MINIUPNPD")
        _run(*iptables, "-t", "nat", "-I", "PREROUTING", "-i", "wan", "-j", "MINIUPNPD")
        _run(*iptables, "-t", "nat", "-N", "MINIUPNPD-POSTROUTING")
        _run(
            *iptables, "-t", "nat", "-I", "POSTROUTING", "-o", "wan", "-j", "MINIUPNPD-POSTROUTING"
        )
        _run(*iptables, "-t", "filter", "-N", "MINIUPNPD")
        # A home router: replies and mapped ports in from the WAN, nothing else.
        _run(
            *iptables,
            "-t",
            "filter",
            "-A",
            "FORWARD",
            "-i",
            "wan",
            "-m",
            "conntrack",
            "--ctstate",
            "ESTABLISHED,RELATED",
            "-j",
            "ACCEPT",
        )
        _run(*iptables, "-t", "filter", "-A", "FORWARD", "-i", "wan", "-j", "MINIUPNPD")
        _run(*iptables, "-t", "filter", "-A", "FORWARD", "-i", "wan", "-j", "DROP")
        # Nothing new in to the router itself either. Besides being what home routers
        # do, it matters for hole punching: a check that reached the router's own
        # stack would leave a conntrack entry that makes its NAT pick another port
        # for the LAN's next packet to that peer (a symmetric NAT by accident).
        _run(
            *iptables,
            "-t",
            "filter",
            "-A",
            "INPUT",
            "-i",
            "wan",
            "-m",
            "conntrack",
            "--ctstate",
            "ESTABLISHED,RELATED",
            "-j",
            "ACCEPT",
        )
        _run(*iptables, "-t", "filter", "-A", "INPUT", "-i", "wan", "-j", "DROP")

    def set_nat(self, router: Router, nat: NatKind) -> Router:
        """Make ``router`` translate as ``nat`` from now on (flows under way keep theirs)."""
        iptables = router.command("iptables-legacy", "-t", "nat")
        _run(*iptables, "-D", "POSTROUTING", "-o", "wan", *_masquerade(router.nat))
        _run(*iptables, "-A", "POSTROUTING", "-o", "wan", *_masquerade(nat))
        changed = replace(router, nat=nat)
        if router == self.host_router:
            self.host_router = changed
        elif router == self.guest_router:
            self.guest_router = changed
        return changed

    @contextlib.contextmanager
    def slow_path_between_homes(self, rate: str = "64kbit") -> Iterator[None]:
        """For the block, traffic from one home to the other crawls at ``rate``; the cloud stays near.

        That is when a check through the relay can answer before a direct one
        (aioice then nominates the relay): a direct path far slower than the
        way to the TURN server. The routers shape what they send to the other
        home's WAN address with htb (a rate, so bigger packets wait longer);
        netem, which would add plain latency, is not in every kernel (not in
        this one).
        """
        shaped = ((self.host_router, self.guest_router), (self.guest_router, self.host_router))
        try:
            for router, other in shaped:
                tc = router.command("tc")
                _run(
                    *tc,
                    "qdisc",
                    "add",
                    "dev",
                    "wan",
                    "root",
                    "handle",
                    "1:",
                    "htb",
                    "default",
                    "10",
                )
                _run(
                    *tc,
                    "class",
                    "add",
                    "dev",
                    "wan",
                    "parent",
                    "1:",
                    "classid",
                    "1:10",
                    "htb",
                    "rate",
                    "1gbit",
                )
                _run(
                    *tc,
                    "class",
                    "add",
                    "dev",
                    "wan",
                    "parent",
                    "1:",
                    "classid",
                    "1:20",
                    "htb",
                    "rate",
                    rate,
                    "ceil",
                    rate,
                )
                _run(
                    *tc,
                    "filter",
                    "add",
                    "dev",
                    "wan",
                    "parent",
                    "1:",
                    "protocol",
                    "ip",
                    "u32",
                    "match",
                    "ip",
                    "dst",
                    f"{other.wan_address}/32",
                    "flowid",
                    "1:20",
                )
            yield
        finally:
            for router, _ in shaped:
                subprocess.run(
                    router.command("tc", "qdisc", "del", "dev", "wan", "root"),
                    capture_output=True,
                    check=False,
                )

    def close(self) -> None:
        """Stop every process, delete every namespace and the lab's files; never raises."""
        for process in reversed(self.processes):
            with contextlib.suppress(OSError):
                process.stop()
        self.processes.clear()
        for namespace in reversed(self.namespaces):
            # Deleting a namespace deletes its veth ends, and so their peers too.
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True, check=False)
        self.namespaces.clear()
        shutil.rmtree(self.workdir, ignore_errors=True)

    # Processes ---------------------------------------------------------------------------

    def start(self, machine: Machine | str, label: str, argv: Sequence[str]) -> LabProcess:
        """Start ``argv`` inside ``machine`` (or a namespace name); stopped by :meth:`close`."""
        namespace = machine if isinstance(machine, str) else machine.namespace
        started = start_logged(["ip", "netns", "exec", namespace, *argv], label, self.workdir)
        self.processes.append(started)
        return started

    def stop(self, process: LabProcess) -> None:
        """Stop one process started with :meth:`start` before the lab closes."""
        process.stop()
        if process in self.processes:
            self.processes.remove(process)

    def forwarded_ports(self, router: Router) -> set[tuple[str, int]]:
        """The ports ``router`` forwards now (protocol, port): miniupnpd's rules, read back."""
        rules = self.run(router, "iptables-legacy", "-t", "nat", "-S", "MINIUPNPD")
        ports = set()
        for rule in rules.splitlines():
            words = rule.split()
            if "--dport" in words and "-p" in words:
                protocol = words[words.index("-p") + 1].upper()
                ports.add((protocol, int(words[words.index("--dport") + 1])))
        return ports

    def run(self, machine: Machine, *argv: str) -> str:
        """Run ``argv`` in ``machine`` to its end; its output, or :class:`LabError`."""
        return _run(*machine.command(*argv))

    def start_turn_server(self, *, timeout: float = 10.0) -> TurnServer:
        """coturn in the cloud: STUN and TURN on 3478, TURN REST credentials (use-auth-secret)."""
        server = TurnServer(CLOUD_ADDRESS, STUN_PORT, secret=os.urandom(16).hex(), realm="natlab")
        config = write_coturn_config(server, self.workdir)
        process = self.start(self.cloud, "coturn", ["turnserver", "-c", str(config)])
        process.wait_for_output(coturn_ready_line(server), timeout)
        self.turn = server
        return server

    def start_signalling_server(
        self, turn: TurnServer | None = None, *, port: int = 8765, timeout: float = 20.0
    ) -> str:
        """The standalone ``lobbyhost-server`` in the cloud, handing out ``turn``'s ICE servers."""
        argv = [
            *python_module("signalling_server.cli"),
            "--host",
            CLOUD_ADDRESS,
            "--port",
            str(port),
        ]
        if turn is not None:
            argv += [
                "--stun",
                turn.stun_url,
                "--turn-secret-url",
                turn.turn_url,
                "--turn-secret",
                turn.secret,
            ]
        process = self.start(self.cloud, "lobbyhost-server", argv)
        process.wait_for_output("listening on ws://", timeout)
        return f"ws://{CLOUD_ADDRESS}:{port}/"

    def start_port_mapper(
        self,
        router: Router,
        *,
        upnp: bool = True,
        timeout: float = 10.0,
        allow_ports: str = "1024-65535",
    ) -> LabProcess:
        """Debian's miniupnpd on ``router``: NAT-PMP, and UPnP-IGD unless ``upnp`` is false.

        One per router: a miniupnpd already running there is stopped first.
        """
        running = self.port_mappers.pop(router.namespace, None)
        if running is not None:
            self.stop(running)
        config = self.workdir / f"miniupnpd-{router.namespace[-11:]}.conf"
        config.write_text(
            "\n".join(
                [
                    "ext_ifname=wan",
                    "listening_ip=lan",
                    "port=5000",
                    "enable_natpmp=yes",
                    f"enable_upnp={'yes' if upnp else 'no'}",
                    "secure_mode=yes",
                    "system_uptime=yes",
                    "notify_interval=60",
                    "clean_ruleset_interval=600",
                    "uuid=3e9b5b6c-0f3a-4d7a-9c55-6c1f0e2d4a10",
                    f"allow {allow_ports} {router.lan_network} {allow_ports}",
                    "deny 0-65535 0.0.0.0/0 0-65535",
                    "",
                ]
            )
        )
        pid_file = self.workdir / f"miniupnpd-{router.namespace[-11:]}.pid"
        process = self.start(
            router,
            f"miniupnpd-{router.namespace.rsplit('-', 1)[-1]}",
            ["miniupnpd", "-d", "-f", str(config), "-P", str(pid_file)],
        )
        process.wait_for_output("Listening for NAT-PMP/PCP traffic on port 5351", timeout)
        if upnp:
            process.wait_for_output("HTTP listening on port 5000", timeout)
        self.port_mappers[router.namespace] = process
        return process

    def program_inside(self, machine: Machine, program: str) -> Path:
        """A script that runs ``program`` (with its arguments) inside ``machine``.

        For launchers that take an executable's path, e.g. Playwright's for chromium.
        """
        script = self.workdir / f"{Path(program).name}-in-{machine.namespace.rsplit('-', 1)[-1]}"
        script.write_text(f'#!/bin/sh\nexec ip netns exec {machine.namespace} {program} "$@"\n')
        script.chmod(0o755)
        return script

    # Entering a namespace ------------------------------------------------------------

    @contextlib.contextmanager
    def inside(self, machine: Machine) -> Iterator[None]:
        """Run this thread inside ``machine``'s namespace for the block.

        Sockets opened by the thread (and processes and threads it starts) in
        the block live in ``machine``'s network; those opened before stay where
        they were. For in-process peers, e.g. the app's hosting service on the
        lab's host machine.
        """
        libc = ctypes.CDLL(None, use_errno=True)
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(NETNS_DIR / machine.namespace, os.O_RDONLY)
        try:
            if libc.setns(target, _CLONE_NEWNET) != 0:
                raise LabError(f"setns {machine.namespace}: {os.strerror(ctypes.get_errno())}")
            try:
                yield
            finally:
                if libc.setns(own, _CLONE_NEWNET) != 0:
                    raise LabError(f"setns back: {os.strerror(ctypes.get_errno())}")
        finally:
            os.close(target)
            os.close(own)


def remove_stale_labs() -> list[str]:
    """Delete the labs of processes that died without closing theirs (a crash, a kill -9).

    Their namespaces carry the dead process's pid (``natlab-<pid>-...``): the
    processes still running inside are killed, the namespaces and files removed.
    Returns the namespaces removed.
    """
    removed = []
    for entry in sorted(NETNS_DIR.glob("natlab-*")) if NETNS_DIR.is_dir() else []:
        pid = entry.name.split("-")[1]
        if not pid.isdigit() or Path(f"/proc/{pid}").exists():
            continue
        pids = subprocess.run(
            ["ip", "netns", "pids", entry.name], capture_output=True, text=True, check=False
        ).stdout.split()
        for inside in pids:
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(inside), signal.SIGKILL)
        subprocess.run(["ip", "netns", "del", entry.name], capture_output=True, check=False)
        removed.append(entry.name)
        for workdir in Path(tempfile.gettempdir()).glob(f"natlab-{pid}-*"):
            shutil.rmtree(workdir, ignore_errors=True)
    return removed


def _masquerade(nat: NatKind) -> list[str]:
    """The iptables target that makes a router this kind of NAT."""
    if nat is NatKind.SYMMETRIC:
        return ["-j", "MASQUERADE", "--random-fully"]
    return ["-j", "MASQUERADE"]


def _run(*argv: str) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise LabError(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout
