"""Shared game ports as values: parsing what users type, the ports message, channel labels."""

from __future__ import annotations

import pytest

from lobbyhost_app.net.forwards import (
    MAX_SHARED_PORTS,
    ForwardSpecError,
    SharedPort,
    Transport,
    channel_label,
    parse_channel_label,
    parse_local_port,
    parse_ports,
    parse_shared_port,
    ports_message,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("25565/tcp=Minecraft", SharedPort(25565, Transport.TCP, "Minecraft")),
        ("27960/udp", SharedPort(27960, Transport.UDP, "")),
        (" 7777/UDP = Terraria server ", SharedPort(7777, Transport.UDP, "Terraria server")),
        ("1/tcp=a\nb\tc", SharedPort(1, Transport.TCP, "a b c")),
    ],
)
def test_a_forward_spec_reads_as_port_protocol_and_label(text: str, expected: SharedPort) -> None:
    """``PORT/PROTO[=LABEL]`` is read leniently on spaces and case; labels lose control characters."""
    assert parse_shared_port(text) == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("25565", "write PORT/tcp or PORT/udp"),
        ("25565/sctp", "must be tcp or udp"),
        ("x/tcp", "'x' is not a port number"),
        ("0/tcp", "from 1 to 65535"),
        ("70000/udp", "from 1 to 65535"),
    ],
)
def test_a_bad_forward_spec_says_what_is_wrong(text: str, words: str) -> None:
    """A spec that cannot be used raises ForwardSpecError naming the problem."""
    with pytest.raises(ForwardSpecError, match=words):
        parse_shared_port(text)


def test_local_port_choice_reads_hostport_equals_localport() -> None:
    """``--forward-port 25565=25566`` maps the host's port to a local one; other shapes are refused."""
    assert parse_local_port("25565=25566") == (25565, 25566)
    with pytest.raises(ForwardSpecError):
        parse_local_port("25565")
    with pytest.raises(ForwardSpecError):
        parse_local_port("25565=0")


def test_a_shared_port_prints_as_it_is_typed() -> None:
    """str() gives back the spec, so JSON lines and the README read alike."""
    assert str(SharedPort(25565, Transport.TCP, "Minecraft")) == "25565/tcp=Minecraft"
    assert str(SharedPort(27960, Transport.UDP)) == "27960/udp"


def test_the_ports_message_round_trips() -> None:
    """What one side lists, the other side reads back the same."""
    ports = (SharedPort(25565, Transport.TCP, "Minecraft"), SharedPort(27960, Transport.UDP))
    message = ports_message(ports)
    assert message["type"] == "ports"
    assert parse_ports(message["ports"]) == ports


def test_a_hostile_ports_message_yields_only_real_ports() -> None:
    """Entries that are not ports are left out, duplicates and the excess cut, labels cleaned."""
    junk: list[object] = [
        "25565/tcp",
        {"port": True, "proto": "tcp"},
        {"port": 0, "proto": "tcp"},
        {"port": 70000, "proto": "udp"},
        {"port": 80, "proto": "icmp"},
        {"port": 80, "proto": "tcp", "label": 5},
        {"port": 80, "proto": "tcp", "label": "x" * 500 + "\x00"},
        {"port": 80, "proto": "tcp", "label": "again"},
    ]
    assert parse_ports(junk) == (SharedPort(80, Transport.TCP, "x" * 40),)
    assert parse_ports({"port": 80}) == ()
    many = [{"port": port, "proto": "udp"} for port in range(1, 1000)]
    assert len(parse_ports(many)) == MAX_SHARED_PORTS


@pytest.mark.parametrize(
    "label",
    [
        "fwd/tcp/080",
        "fwd/tcp/0",
        "fwd/tcp/65536",
        "fwd/udp/²",
        "fwd/tcp/80/x",
        "fwd/raw/80",
        "lobby",
    ],
)
def test_only_well_formed_bridge_labels_name_a_port(label: str) -> None:
    """Labels with leading zeros, out-of-range ports, unknown protocols or extra parts name nothing."""
    assert parse_channel_label(label) is None


def test_bridge_labels_round_trip() -> None:
    """fwd/tcp/<port> and fwd/udp/<port> name their protocol and port."""
    assert channel_label(Transport.TCP, 25565) == "fwd/tcp/25565"
    assert parse_channel_label("fwd/udp/27960") == (Transport.UDP, 27960)
