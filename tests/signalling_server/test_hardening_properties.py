"""Whatever a client sends in its headers or before its request, the parsers answer, never crash."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from signalling_server.address_keys import budget_key
from signalling_server.origins import OriginPolicy
from signalling_server.transport.client_address import ClientAddresses
from signalling_server.transport.proxy_protocol import (
    V1_PREFIX,
    V2_SIGNATURE,
    ProxyHeaderError,
    parse_proxy_header,
)

latin1 = st.text(st.characters(max_codepoint=255))


@given(origin=latin1, host=latin1)
def test_any_origin_and_host_get_a_yes_or_no(origin: str, host: str) -> None:
    """The Origin check takes any header text and answers with a bool."""
    assert OriginPolicy().allows(origin, host) in (True, False)
    assert OriginPolicy(["https://games.example.org"]).allows(origin, None) in (True, False)


@given(forwarded=st.binary(max_size=200), peer=st.sampled_from(["127.0.0.1", "::1", "x"]))
def test_any_forwarded_for_gives_an_address(forwarded: bytes, peer: str) -> None:
    """X-Forwarded-For from a trusted proxy yields the peer or a parsed address, never an error."""
    addresses = ClientAddresses(["127.0.0.0/8", "::1"])
    client = addresses.resolve(peer, [(b"x-forwarded-for", forwarded)])
    assert client == peer or budget_key(client) != ""


@given(
    data=st.one_of(
        st.binary(max_size=120),
        st.binary(max_size=120).map(lambda tail: V1_PREFIX + tail),
        st.binary(max_size=80).map(lambda tail: V2_SIGNATURE + tail),
    )
)
def test_any_bytes_are_a_header_more_please_or_a_typed_error(data: bytes) -> None:
    """The PROXY parser answers a header, None (wait), or ProxyHeaderError; nothing else."""
    try:
        header = parse_proxy_header(data)
    except ProxyHeaderError:
        return
    if header is not None:
        assert 0 < header.length <= len(data)
