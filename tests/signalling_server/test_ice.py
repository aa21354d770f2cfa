"""ICE server configuration and TURN REST credentials."""

from __future__ import annotations

import msgspec

from signalling_server.ice import IceConfig, TurnSecretServer, TurnServer, turn_rest_credentials


def test_turn_rest_credentials_follow_the_coturn_scheme() -> None:
    """username is "<expiry>:<name>", credential base64(HMAC-SHA1(secret, username))."""
    username, credential = turn_rest_credentials("s3cret", "alice", expires_at=1_800_000_000)
    assert username == "1800000000:alice"
    # Made outside Python, once:
    # printf '%s' '1800000000:alice' | openssl dgst -sha1 -hmac 's3cret' -binary | base64
    assert credential == "3i66Yob+5ER4xVxIRXhvnAp6moo="


def test_default_is_no_ice_servers() -> None:
    """Nothing configured means an empty list, never a public default."""
    assert IceConfig().servers_for("c", 0) == []


def test_servers_for_lists_stun_static_turn_and_minted_turn() -> None:
    """STUN, static TURN and secret-based TURN entries appear as RTCIceServer dicts."""
    config = IceConfig(
        stun_urls=("stun:127.0.0.1:3478",),
        turn=(TurnServer(urls=("turn:127.0.0.1:3478",), username="u", credential="p"),),
        turn_secret=(TurnSecretServer(urls=("turns:127.0.0.1:5349",), secret="k", ttl_s=600),),
    )
    stun, static, minted = (msgspec.to_builtins(s) for s in config.servers_for("conn1", 1000.7))
    assert stun == {"urls": ["stun:127.0.0.1:3478"]}
    assert static == {"urls": ["turn:127.0.0.1:3478"], "username": "u", "credential": "p"}
    assert minted["urls"] == ["turns:127.0.0.1:5349"]
    assert minted["username"] == "1600:conn1"
    # printf '%s' '1600:conn1' | openssl dgst -sha1 -hmac 'k' -binary | base64
    assert minted["credential"] == "CFytzkTGiFb2G6sJSPZiRLhUGTM="
