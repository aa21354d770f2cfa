"""The NAT lab itself: named per run, sealed off, translating as told, and gone afterwards."""

from __future__ import annotations

import os
import socket
import subprocess

import pytest

from .conftest import check_lab_can_run
from .lab import CLOUD_ADDRESS, Lab, NatKind
from .processes import LabError


def lab_namespaces() -> set[str]:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    return {line.split()[0] for line in listed.stdout.splitlines() if line.strip()}


def links_here() -> list[str]:
    """This namespace's interfaces (the test session's own)."""
    return [name for _, name in socket.if_nameindex()]


def mapped_ports(lab: Lab, source_port: int) -> set[int]:
    """The ports the guest's router translated ``source_port`` of the guest to, by conntrack."""
    table = lab.run(lab.guest_router, "cat", "/proc/net/nf_conntrack")
    ports = set()
    for entry in table.splitlines():
        fields = entry.split()
        if "udp" not in fields or f"src={lab.guest.address}" not in fields:
            continue
        if f"sport={source_port}" not in fields:
            continue
        # The reply tuple comes second: its dport is the port outside.
        dports = [field for field in fields if field.startswith("dport=")]
        ports.add(int(dports[1].removeprefix("dport=")))
    return ports


def test_namespaces_are_named_per_run_and_removed_with_the_lab() -> None:
    """Every namespace is natlab-<pid>-<n>-<role>, the test's own network gains no link, and closing removes all."""
    check_lab_can_run()
    before = links_here()
    with Lab() as lab:
        made = lab_namespaces() - {ns for ns in lab_namespaces() if not ns.startswith(lab.prefix)}
        assert lab.prefix.startswith(f"natlab-{os.getpid()}-")
        assert len(made) == 6 and all(ns.startswith(f"{lab.prefix}-") for ns in made)
        assert links_here() == before  # nothing links the lab to where it was built
    assert not {ns for ns in lab_namespaces() if ns.startswith(lab.prefix)}


def test_a_lab_that_fails_half_built_leaves_nothing_behind() -> None:
    """When building stops half-way (a router that cannot be set up), every namespace made so far is deleted."""
    check_lab_can_run()

    class BrokenRouterLab(Lab):
        def set_router_up(self) -> None:
            raise LabError("this router cannot be set up")

        def build(self) -> None:
            super().build()
            self.set_router_up()

    lab = BrokenRouterLab()
    with pytest.raises(LabError, match="cannot be set up"), lab:
        pass
    assert not {ns for ns in lab_namespaces() if ns.startswith(lab.prefix)}


def test_cone_keeps_one_port_outside_and_symmetric_takes_one_per_destination() -> None:
    """Through the cone router a socket keeps one outside port for every peer; through the symmetric one it gets a new port per peer."""
    check_lab_can_run()
    destinations = [(CLOUD_ADDRESS, 9), ("100.128.0.2", 9), (CLOUD_ADDRESS, 10)]
    with Lab() as lab:
        for nat in (NatKind.CONE, NatKind.SYMMETRIC):
            lab.set_nat(lab.guest_router, nat)
            with lab.inside(lab.guest), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                udp.bind((lab.guest.address, 0))
                for destination in destinations:
                    udp.sendto(b"ping", destination)
                port = udp.getsockname()[1]
            outside = mapped_ports(lab, port)
            if nat is NatKind.CONE:
                assert outside == {port}
            else:
                assert len(outside) == len(destinations)


def test_a_lab_left_by_a_process_that_died_is_removed_by_the_next_one() -> None:
    """Namespaces named for a dead process (a crashed run) and what runs in them are gone once a new lab is built."""
    check_lab_can_run()
    dead = subprocess.Popen(["true"])
    dead.wait()  # its pid now names no process
    stale = f"natlab-{dead.pid}-1-host"
    subprocess.run(["ip", "netns", "add", stale], check=True)
    leftover = subprocess.Popen(
        ["ip", "netns", "exec", stale, "sh", "-c", "echo inside; exec sleep 600"],
        stdout=subprocess.PIPE,
    )
    assert leftover.stdout is not None
    # Only once it runs inside the namespace can a new lab find it there.
    assert leftover.stdout.readline() == b"inside\n"
    try:
        with Lab():
            assert stale not in lab_namespaces()
        assert leftover.wait(timeout=10) != 0  # killed
    finally:
        if leftover.poll() is None:
            leftover.kill()
            leftover.wait()
        leftover.stdout.close()
        subprocess.run(["ip", "netns", "del", stale], capture_output=True, check=False)
