"""Drops, grace periods, resume and shutdown, end to end over real websockets.

A real server on 127.0.0.1 port 0 and real websocket clients: sockets that
close, a grace timer that fires, close codes, a recipient whose socket is
closing. Resume and backlog rules are proven without sockets in
test_registry_reconnect.py.
"""

from __future__ import annotations

from signalling_server import serve
from tests.signalling_server.wsclient import (
    LONG,
    OFFER,
    SHORT,
    Lab,
    loopback_config,
    open_lab,
    short_timeouts,
)


async def test_host_drop_past_grace_closes_lobby() -> None:
    """When the host stays away past its grace, guests get lobby_closed(host_left); code is freed."""
    async with open_lab(timeouts=short_timeouts(host_grace=SHORT)) as lab:
        host, started = await lab.host()
        code = started["lobby_id"]
        bob, _ = await lab.guest(host, code, "Bob")

        await host.close()
        await bob.expect("host_disconnected")
        assert await bob.expect("lobby_closed") == {"lobby_id": code, "reason": "host_left"}
        await bob.act("join_lobby", lobby_id=code, name="Bob")
        await bob.expect_error("lobby_not_found", "join_lobby")
        late_host = await lab.client()
        await late_host.act("resume", token=started["host_token"])
        await late_host.expect_error("invalid_token", "resume")
        assert lab.server.counters.lobbies == 0
        for client in (bob, late_host):
            await client.assert_silent()


async def test_guest_drop_and_resume() -> None:
    """The host sees guest_left(disconnected) then guest_resumed with the old and new ids."""
    async with open_lab(timeouts=short_timeouts(guest_grace=LONG)) as lab:
        host, started = await lab.host()
        code = started["lobby_id"]
        bob, accepted = await lab.guest(host, code, "Bob")

        await bob.close()
        assert await host.expect("guest_left") == {
            "connection_id": bob.id,
            "reason": "disconnected",
        }
        bob2 = await lab.client()
        await bob2.act("resume", token=accepted["guest_token"])
        resumed = await bob2.expect("resumed")
        bob2.id = resumed["connection_id"]
        assert resumed == {
            "role": "guest",
            "lobby_id": code,
            "connection_id": bob2.id,
            "peer_id": 2,
        }
        assert await host.expect("guest_resumed") == {
            "old_connection_id": bob.id,
            "connection_id": bob2.id,
        }

        await host.act("set_session_description", connection_id=bob2.id, description=OFFER)
        assert await bob2.expect("received_session_description") == {
            "connection_id": host.id,
            "description": OFFER,
        }
        await bob2.act("send_ice_candidate", connection_id=host.id, candidate=None)
        assert await host.expect("received_ice_candidate") == {
            "connection_id": bob2.id,
            "candidate": None,
        }
        await host.act("send_message", connection_id=bob.id, data="old id")
        await host.expect_error("unknown_connection", "send_message")
        await host.act("get_lobby_info")
        guests = (await host.expect("lobby_info"))["guests"]
        assert guests == [{"connection_id": bob2.id, "name": "Bob", "peer_id": 2}]
        for client in (host, bob2):
            await client.assert_silent()


async def test_guest_resume_takes_over_a_live_socket(lab: Lab) -> None:
    """A guest token used while the old socket is open moves the place and closes the old with 4000."""
    host, started = await lab.host()
    bob, accepted = await lab.guest(host, started["lobby_id"], "Bob")

    bob2 = await lab.client()
    await bob2.act("resume", token=accepted["guest_token"])
    resumed = await bob2.expect("resumed")
    bob2.id = resumed["connection_id"]
    assert resumed["role"] == "guest"
    await bob.expect_closed(4000)
    assert await host.expect("guest_resumed") == {
        "old_connection_id": bob.id,
        "connection_id": bob2.id,
    }
    await host.act("send_message", connection_id=bob2.id, data="hi again")
    assert (await bob2.expect("received_message"))["data"] == "hi again"
    for client in (host, bob2):
        await client.assert_silent()


async def test_server_shutdown_closes_lobbies_then_sockets() -> None:
    """On shutdown every lobby member gets lobby_closed(server_shutdown), then close code 1001."""
    labs: list[Lab] = []
    try:
        async with serve(loopback_config()) as server:
            lab = Lab(server)
            labs.append(lab)
            host, started = await lab.host()
            code = started["lobby_id"]
            bob, _ = await lab.guest(host, code, "Bob")
            cy = await lab.joiner(host, code, "Cy")
            idle = await lab.client()
            await idle.assert_silent()
        # The block has ended: the server has shut down while everyone was connected.
        for member in (host, bob, cy):
            assert await member.expect("lobby_closed") == {
                "lobby_id": code,
                "reason": "server_shutdown",
            }
            await member.expect_closed(1001)
        await idle.expect_closed(1001)
    finally:
        for opened in labs:
            await opened.close_clients()


async def test_relay_to_a_socket_already_closing_errors_to_the_sender(lab: Lab) -> None:
    """A relay that finds its recipient's socket closing is never dropped silently: the sender gets an error."""
    host, started = await lab.host()
    bob, _ = await lab.guest(host, started["lobby_id"], "Bob")
    # The server starts closing Bob's socket; Bob's side does not read, so the
    # closing handshake hangs and the server has not yet handled the disconnect.
    bob.ws.transport.pause_reading()
    assert lab.server.close_connection(bob.id, 1001, "test")
    await host.act("send_message", connection_id=bob.id, data="are you there?")
    error = await host.expect_error("unknown_connection")
    assert "disconnected" in error["message"]
    bob.ws.transport.resume_reading()
    assert await host.expect("guest_left") == {"connection_id": bob.id, "reason": "disconnected"}
