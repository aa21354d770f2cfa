"""Joining, deciding, relaying, leaving and closing, end to end over real websockets.

A real server on 127.0.0.1 port 0 and real websocket clients.
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


async def test_relay_only_between_host_and_its_accepted_guests(lab: Lab) -> None:
    """Pending joiners, other guests and idle connections can't be signalled; each try errors."""
    host, started = await lab.host()
    code = started["lobby_id"]
    bob, _ = await lab.guest(host, code, "Bob")
    cy, _ = await lab.guest(host, code, "Cy")
    dee = await lab.joiner(host, code, "Dee")
    idle = await lab.client()

    await bob.act("send_message", connection_id=cy.id, data="psst")
    await bob.expect_error("unknown_connection", "send_message")
    await host.act("set_session_description", connection_id=dee.id, description=OFFER)
    await host.expect_error("not_accepted", "set_session_description")
    await dee.act("send_ice_candidate", connection_id=host.id, candidate=CANDIDATE)
    await dee.expect_error("not_accepted", "send_ice_candidate")
    await idle.act("send_message", connection_id=host.id, data="hi")
    await idle.expect_error("not_in_lobby", "send_message")
    for client in (host, bob, cy, dee, idle):
        await client.assert_silent()


async def test_reject_with_and_without_reason(lab: Lab) -> None:
    """A rejected joiner learns rejected_by_host and the host's words, if any, and may ask again."""
    host, started = await lab.host()
    code = started["lobby_id"]
    bob = await lab.joiner(host, code, "Bob")
    cy = await lab.joiner(host, code, "Cy")

    await host.act("reject_join_request", connection_id=bob.id, message="full for tonight")
    assert await bob.expect("request_rejected") == {
        "lobby_id": code,
        "reason": "rejected_by_host",
        "message": "full for tonight",
    }
    assert await host.expect("request_removed") == {
        "connection_id": bob.id,
        "reason": "rejected_by_host",
    }
    await host.act("reject_join_request", connection_id=cy.id)
    assert await cy.expect("request_rejected") == {"lobby_id": code, "reason": "rejected_by_host"}
    assert await host.expect("request_removed") == {
        "connection_id": cy.id,
        "reason": "rejected_by_host",
    }

    await host.act("accept_request", connection_id=bob.id)
    await host.expect_error("unknown_connection", "accept_request")
    await bob.act("join_lobby", lobby_id=code, name="Bob")
    await bob.expect("join_requested")
    assert (await host.expect("request_to_join"))["name"] == "Bob"
    for client in (host, bob, cy):
        await client.assert_silent()


async def test_cancel_join(lab: Lab) -> None:
    """A joiner who cancels is told so, the host drops the request, and can't accept it any more."""
    host, started = await lab.host()
    code = started["lobby_id"]
    bob = await lab.joiner(host, code, "Bob")

    await bob.act("cancel_join")
    assert await bob.expect("join_cancelled") == {"lobby_id": code}
    assert await host.expect("request_cancelled") == {"connection_id": bob.id}
    await host.act("accept_request", connection_id=bob.id)
    await host.expect_error("unknown_connection", "accept_request")
    await bob.act("cancel_join")
    await bob.expect_error("not_in_lobby", "cancel_join")
    await host.assert_silent()


async def test_leave_lobby(lab: Lab) -> None:
    """A guest who leaves is told so, the host gets guest_left(left), and it is no longer a target."""
    host, started = await lab.host()
    code = started["lobby_id"]
    bob, _ = await lab.guest(host, code, "Bob")

    await bob.act("leave_lobby")
    assert await bob.expect("left_lobby") == {"lobby_id": code}
    assert await host.expect("guest_left") == {"connection_id": bob.id, "reason": "left"}
    await host.act("send_message", connection_id=bob.id, data="still there?")
    await host.expect_error("unknown_connection", "send_message")
    await host.act("get_lobby_info")
    assert (await host.expect("lobby_info"))["guests"] == []
    await bob.act("send_message", connection_id=host.id, data="hi")
    await bob.expect_error("not_in_lobby", "send_message")
    await bob.assert_silent()


async def test_kick_guest(lab: Lab) -> None:
    """A kicked guest hears why, is out of the lobby, and its token no longer resumes."""
    host, started = await lab.host()
    code = started["lobby_id"]
    bob, accepted = await lab.guest(host, code, "Bob")
    cy, _ = await lab.guest(host, code, "Cy")

    await host.act("kick_guest", connection_id=bob.id, reason="spamming")  # an older client's field
    assert await bob.expect("kicked") == {
        "lobby_id": code,
        "reason": "kicked_by_host",
        "message": "spamming",
    }
    assert await host.expect("guest_left") == {"connection_id": bob.id, "reason": "kicked"}
    await bob.act("send_message", connection_id=host.id, data="let me back")
    await bob.expect_error("not_in_lobby", "send_message")
    await cy.act("kick_guest", connection_id=host.id)
    await cy.expect_error("not_host", "kick_guest")

    sneaky = await lab.client()
    await sneaky.act("resume", token=accepted["guest_token"])
    await sneaky.expect_error("invalid_token", "resume")
    for client in (host, bob, cy, sneaky):
        await client.assert_silent()


async def test_close_lobby(lab: Lab) -> None:
    """Closing tells host, guests and joiners lobby_closed(closed_by_host) and frees the code."""
    host, started = await lab.host()
    code = started["lobby_id"]
    bob, _ = await lab.guest(host, code, "Bob")
    cy = await lab.joiner(host, code, "Cy")

    await bob.act("close_lobby")
    await bob.expect_error("not_host", "close_lobby")
    await host.act("close_lobby", ref="bye")
    closed = {"lobby_id": code, "reason": "closed_by_host"}
    assert await host.expect("lobby_closed", ref="bye") == closed
    assert await bob.expect("lobby_closed") == closed
    assert await cy.expect("lobby_closed") == closed

    latecomer = await lab.client()
    await latecomer.act("join_lobby", lobby_id=code, name="Dee")
    await latecomer.expect_error("lobby_not_found", "join_lobby")
    await host.act("start_lobby")
    await host.expect("lobby_started")
    for client in (host, bob, cy, latecomer):
        await client.assert_silent()


async def test_locked_lobby_refuses_joins(lab: Lab) -> None:
    """While the host has the lobby locked, joins get lobby_locked; unlocking lets them in."""
    host, started = await lab.host()
    code = started["lobby_id"]
    await host.act("set_lobby_open", open=False)
    assert (await host.expect("lobby_info"))["open"] is False

    bob = await lab.client()
    await bob.act("join_lobby", lobby_id=code, name="Bob")
    await bob.expect_error("lobby_locked", "join_lobby")
    await host.assert_silent()
    await host.act("set_lobby_open", open=True)
    assert (await host.expect("lobby_info"))["open"] is True
    await bob.act("join_lobby", lobby_id=code, name="Bob")
    await bob.expect("join_requested")
    await host.expect("request_to_join")


async def test_password_protected_lobby(lab: Lab) -> None:
    """A missing or wrong password gets wrong_password; the right one reaches the host."""
    host, started = await lab.host(password="hunter2")
    code = started["lobby_id"]
    bob = await lab.client()
    await bob.act("join_lobby", lobby_id=code, name="Bob")
    await bob.expect_error("wrong_password", "join_lobby")
    await bob.act("join_lobby", lobby_id=code, name="Bob", password="hunter3")
    await bob.expect_error("wrong_password", "join_lobby")
    await host.assert_silent()
    await bob.act("join_lobby", lobby_id=code, name="Bob", password="hunter2")
    await bob.expect("join_requested")
    assert (await host.expect("request_to_join"))["name"] == "Bob"
    await host.act("get_lobby_info")
    assert (await host.expect("lobby_info"))["has_password"] is True


async def test_full_lobby(lab: Lab) -> None:
    """Once max_guests are accepted, joins and further accepts get lobby_full."""
    host, started = await lab.host(max_guests=1)
    code = started["lobby_id"]
    bob = await lab.joiner(host, code, "Bob")
    cy = await lab.joiner(host, code, "Cy")
    await host.act("accept_request", connection_id=bob.id)
    await bob.expect("request_accepted")
    await host.expect("guest_accepted")
    await host.act("accept_request", connection_id=cy.id)
    await host.expect_error("lobby_full", "accept_request")

    dee = await lab.client()
    await dee.act("join_lobby", lobby_id=code, name="Dee")
    await dee.expect_error("lobby_full", "join_lobby")
    for client in (host, bob, cy):
        await client.assert_silent()


async def test_no_delivery_across_lobbies(lab: Lab) -> None:
    """A host or guest can't reach, accept or kick a connection of another lobby."""
    ann, ann_started = await lab.host()
    zed, zed_started = await lab.host()
    bob, _ = await lab.guest(ann, ann_started["lobby_id"], "Bob")
    yan, _ = await lab.guest(zed, zed_started["lobby_id"], "Yan")
    xia = await lab.joiner(zed, zed_started["lobby_id"], "Xia")

    await ann.act("set_session_description", connection_id=yan.id, description=OFFER)
    await ann.expect_error("unknown_connection", "set_session_description")
    await ann.act("send_message", connection_id=yan.id, data="hi stranger")
    await ann.expect_error("unknown_connection", "send_message")
    await ann.act("accept_request", connection_id=xia.id)
    await ann.expect_error("unknown_connection", "accept_request")
    await ann.act("kick_guest", connection_id=yan.id)
    await ann.expect_error("unknown_connection", "kick_guest")
    await bob.act("send_ice_candidate", connection_id=zed.id, candidate=CANDIDATE)
    await bob.expect_error("unknown_connection", "send_ice_candidate")
    await ann.act("send_message", connection_id="*", data="only mine")
    assert (await bob.expect("received_message"))["data"] == "only mine"
    for client in (ann, zed, bob, yan, xia):
        await client.assert_silent()
