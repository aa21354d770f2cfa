"""NAT-PMP's codec and the gateway lookup, without a router (the lab tests speak to miniupnpd)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from lobbyhost_app.net.nat_pmp import (
    ExternalAddress,
    Mapping,
    NatPmpError,
    ResultCode,
    default_gateway,
    external_address_request,
    mapping_request,
    parse_response,
    result_words,
)

#: miniupnpd's answers, as captured in the NAT lab.
ADDRESS_ANSWER = b"\x00\x80\x00\x00\x00\x00*Td\x80\x00\x02"
REFUSED_MAPPING = b'\x00\x82\x00\x03\x00\x00*T"="=\x00\x00\x00<'


def test_requests_are_rfc_6886_bytes() -> None:
    """The external address request is 2 bytes; a TCP mapping request carries ports and lifetime."""
    assert external_address_request() == b"\x00\x00"
    assert mapping_request("tcp", 8765, 8765, 60) == struct.pack("!BBHHHI", 0, 2, 0, 8765, 8765, 60)
    assert mapping_request("UDP", 27960, 0, 0)[1] == 1
    with pytest.raises(ValueError, match="SCTP"):
        mapping_request("SCTP", 1, 1, 1)


def test_responses_decode_to_values_with_the_routers_result() -> None:
    """A real router's answers: its external address, and a mapping refused with Network Failure."""
    assert parse_response(ADDRESS_ANSWER, external_address_request()) == ExternalAddress(
        ResultCode.SUCCESS, "100.128.0.2"
    )
    refused = parse_response(REFUSED_MAPPING, mapping_request("TCP", 8765, 8765, 60))
    assert refused == Mapping(ResultCode.NETWORK_FAILURE, 8765, 8765, 60)
    assert result_words(refused.result).startswith("Network Failure")
    newer = b"\x00\x82\x00\x63" + REFUSED_MAPPING[4:]
    assert parse_response(newer, mapping_request("TCP", 8765, 8765, 60)).result == 99


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"\x00\x80", "too short"),
        (ADDRESS_ANSWER, "not the response asked for"),  # to a mapping request
        (REFUSED_MAPPING[:12], "without its ports"),
        (REFUSED_MAPPING[:8] + struct.pack("!HHI", 1, 1, 60), "another port"),
    ],
)
def test_anything_but_the_answer_asked_for_is_a_typed_error(data: bytes, words: str) -> None:
    """Short, foreign or mismatched datagrams raise NatPmpError (the client keeps listening)."""
    with pytest.raises(NatPmpError, match=words):
        parse_response(data, mapping_request("TCP", 8765, 8765, 60))


def test_the_default_gateway_is_read_from_the_routing_table(tmp_path: Path) -> None:
    """Linux's /proc/net/route format: the default route through a router gives its address."""
    table = tmp_path / "route"
    table.write_text(
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
        "eth0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
        "eth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
    )
    assert default_gateway(table) == "192.168.1.1"
    table.write_text(table.read_text().splitlines()[0] + "\n")
    assert default_gateway(table) is None
    assert default_gateway(tmp_path / "missing") is None
