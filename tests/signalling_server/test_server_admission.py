"""Joining, accepting and relaying, end to end over real websockets.

A real server on 127.0.0.1 port 0 and real websocket clients: every event kind
of a join goes through the transport's framing. The rules themselves (reject,
cancel, leave, kick, close, lock, password, full lobby, who may signal whom)
are proven without sockets in test_registry_lobby.py and test_registry_relay.py.
"""

from __future__ import annotations

from tests.signalling_server.wsclient import ANSWER, CANDIDATE, CODE, OFFER, Lab


async def test_join_accept_and_relay_sdp_ice_and_messages(lab: Lab) -> None:
    """A typed code finds the lobby; after accept, SDP, ICE (null too) and messages flow both ways."""
    host = await lab.client()
    await host.act("start_lobby", ref="s1", name="Friday game", display_name="Ann")
    started = await host.expect("lobby_started", ref="s1")
    code = started["lobby_id"]
    assert CODE.match(code), code
    assert started["peer_id"] == 1
    assert started["ice_servers"] == []
    assert isinstance(started["host_token"], str) and len(started["host_token"]) >= 22
    host.id = started["connection_id"]

    bob = await lab.client()
    typed = f"{code[:3]}-{code[3:]}".lower()  # as a user types it
    await bob.act("join_lobby", lobby_id=typed, name="  Bob\x07 ")
    assert await bob.expect("join_requested") == {"lobby_id": code, "name": "Friday game"}
    request = await host.expect("request_to_join")
    assert request["name"] == "Bob"
    bob.id = request["connection_id"]
    assert bob.id != host.id

    await host.act("accept_request", ref="a1", connection_id=bob.id)
    accepted = await bob.expect("request_accepted")
    assert accepted["lobby_id"] == code
    assert accepted["host_connection_id"] == host.id
    assert accepted["connection_id"] == bob.id
    assert accepted["peer_id"] == 2
    assert isinstance(accepted["guest_token"], str) and accepted["guest_token"]
    assert accepted["ice_servers"] == []
    guest_accepted = await host.expect("guest_accepted", ref="a1")
    assert guest_accepted == {"connection_id": bob.id, "peer_id": 2, "name": "Bob"}
    cy, cy_accepted = await lab.guest(host, code, "Cy")
    assert cy_accepted["peer_id"] == 3

    await host.act("set_session_description", connection_id=bob.id, description=OFFER)
    assert await bob.expect("received_session_description") == {
        "connection_id": host.id,
        "description": OFFER,
    }
    await bob.act("set_session_description", connection_id=host.id, description=ANSWER)
    assert await host.expect("received_session_description") == {
        "connection_id": bob.id,
        "description": ANSWER,
    }
    await host.act("send_ice_candidate", connection_id=bob.id, candidate=CANDIDATE)
    assert await bob.expect("received_ice_candidate") == {
        "connection_id": host.id,
        "candidate": CANDIDATE,
    }
    await bob.act("send_ice_candidate", connection_id=host.id, candidate=CANDIDATE)
    assert await host.expect("received_ice_candidate") == {
        "connection_id": bob.id,
        "candidate": CANDIDATE,
    }
    await bob.act("send_ice_candidate", connection_id=host.id, candidate=None)
    assert await host.expect("received_ice_candidate") == {
        "connection_id": bob.id,
        "candidate": None,
    }
    await host.act("send_ice_candidate", connection_id=bob.id, candidate=None)
    assert await bob.expect("received_ice_candidate") == {
        "connection_id": host.id,
        "candidate": None,
    }

    await host.act("send_message", connection_id=bob.id, data={"chat": ["hi", 1]})
    assert await bob.expect("received_message") == {
        "connection_id": host.id,
        "data": {"chat": ["hi", 1]},
    }
    await bob.act("send_message", connection_id=host.id, data="hello host")
    assert await host.expect("received_message") == {"connection_id": bob.id, "data": "hello host"}
    await host.act("send_message", connection_id="*", data="game starts")
    for guest in (bob, cy):
        assert await guest.expect("received_message") == {
            "connection_id": host.id,
            "data": "game starts",
        }
    for client in (host, bob, cy):
        await client.assert_silent()
