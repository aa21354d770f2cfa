"""Lobby policies: approval, topology, offerer, peer ids and resume vary by policy, rules do not."""

from __future__ import annotations

import pytest

from signalling_server.policy import (
    Approval,
    LobbyPolicy,
    Offerer,
    PeerIds,
    Topology,
    register_policy,
)

from .harness import Harness, accept, join, open_lobby

#: A lobby kind the native protocol never starts, to prove the seam: every
#: joiner is let in at once, members signal each other, the guests offer and
#: choose their peer ids, and nobody keeps a place after dropping.
OPEN_MESH = register_policy(
    LobbyPolicy(
        name="test-open-mesh",
        approval=Approval.AUTOMATIC,
        topology=Topology.MESH,
        offerer=Offerer.GUEST,
        peer_ids=PeerIds.CHOSEN,
        resume=False,
        host_away_notices=False,
    )
)


def test_native_lobbies_refuse_a_chosen_peer_id() -> None:
    """Native lobbies give out peer ids; a joiner naming one gets invalid_message."""
    h = Harness()
    host, code, _ = open_lobby(h)
    bob = h.client("127.0.0.2")
    bob.act("join_lobby", lobby_id=code, peer_id=7)
    bob.expect_error("invalid_message", "join_lobby")
    host.assert_silent()


def test_automatic_approval_lets_joiners_in_at_once() -> None:
    """Under automatic approval a joiner is accepted without asking the host; the host hears guest_accepted."""
    h = Harness(policy=OPEN_MESH.name)
    host, code, _ = open_lobby(h)
    bob = h.client("127.0.0.2")
    bob.act("join_lobby", lobby_id=code, name="Bob", peer_id=40)
    bob.expect("join_requested")
    accepted = bob.expect("request_accepted")
    assert accepted["peer_id"] == 40 and accepted["offerer"] == "guest"
    assert host.expect("guest_accepted") == {"connection_id": bob.id, "peer_id": 40, "name": "Bob"}
    host.assert_silent()


def test_chosen_peer_ids_are_unique_in_the_lobby() -> None:
    """A peer id already in use (by a guest or the host) is refused; one without a choice gets a free one."""
    h = Harness(policy=OPEN_MESH.name)
    host, code, _ = open_lobby(h)
    bob = h.client("127.0.0.2")
    bob.act("join_lobby", lobby_id=code, peer_id=2)
    bob.expect("join_requested")
    bob.expect("request_accepted")
    host.expect("guest_accepted")
    cy = h.client("127.0.0.3")
    cy.act("join_lobby", lobby_id=code, peer_id=2)
    cy.expect_error("invalid_message", "join_lobby")
    dee = h.client("127.0.0.4")
    dee.act("join_lobby", lobby_id=code)
    dee.expect("join_requested")
    assert dee.expect("request_accepted")["peer_id"] == 3
    host.expect("guest_accepted")


def test_mesh_lets_guests_signal_each_other_and_star_does_not() -> None:
    """In a mesh a guest may relay to another guest of its lobby; in a star that is unknown_connection."""
    mesh = Harness(policy=OPEN_MESH.name)
    host, code, _ = open_lobby(mesh)
    bob = mesh.client("127.0.0.2")
    bob.act("join_lobby", lobby_id=code, peer_id=5)
    cy = mesh.client("127.0.0.3")
    cy.act("join_lobby", lobby_id=code, peer_id=6)
    for client in (bob, cy):
        client.expect("join_requested")
        client.expect("request_accepted")
    bob.act("send_message", connection_id=cy.id, data={"hi": 1})
    assert cy.expect("received_message") == {"connection_id": bob.id, "data": {"hi": 1}}

    star = Harness()
    host, code, _ = open_lobby(star)
    ann, _ = accept(star, host, code, "Ann", address="127.0.0.2")
    ben, _ = accept(star, host, code, "Ben", address="127.0.0.3")
    ann.act("send_message", connection_id=ben.id, data="hi")
    ann.expect_error("unknown_connection", "send_message")
    ben.assert_silent()


def test_without_resume_a_dropped_guest_is_gone_and_a_dropped_host_ends_the_lobby() -> None:
    """A policy without resume frees a guest's place at once and closes the lobby when its host drops."""
    h = Harness(policy=OPEN_MESH.name)
    host, code, _ = open_lobby(h)
    bob = h.client("127.0.0.2")
    bob.act("join_lobby", lobby_id=code, peer_id=9)
    bob.expect("join_requested")
    token = bob.expect("request_accepted")["guest_token"]
    host.expect("guest_accepted")
    bob.disconnect()
    assert host.expect("guest_left") == {"connection_id": bob.id, "reason": "disconnected"}
    again = h.client("127.0.0.5")
    again.act("resume", token=token)
    again.expect_error("invalid_token")
    cy = h.client("127.0.0.3")
    cy.act("join_lobby", lobby_id=code, peer_id=9)  # bob's peer id is free again
    cy.expect("join_requested")
    cy.expect("request_accepted")
    host.expect("guest_accepted")
    host.disconnect()
    assert cy.expect("lobby_closed") == {"lobby_id": code, "reason": "host_left"}
    assert h.registry.backend.lobby_count() == 0


def test_a_policy_name_cannot_be_taken_twice() -> None:
    """Registering a different policy under a taken name is an error (re-registering the same is not)."""
    assert register_policy(OPEN_MESH) is OPEN_MESH
    with pytest.raises(ValueError, match="already called"):
        register_policy(LobbyPolicy(name=OPEN_MESH.name))


def test_unknown_policy_is_refused_at_connect() -> None:
    """A connection cannot be made for a policy nobody registered."""
    h = Harness()
    with pytest.raises(ValueError, match="unknown lobby policy"):
        h.registry.connect("127.0.0.1", policy="nope")


def test_pending_joiner_in_star_cannot_be_a_mesh_target() -> None:
    """Even in a mesh a guest cannot signal a joiner nobody has let in (host approval)."""
    policy = register_policy(
        LobbyPolicy(name="test-approved-mesh", topology=Topology.MESH, resume=True)
    )
    h = Harness(policy=policy.name)
    host, code, _ = open_lobby(h)
    bob, _ = accept(h, host, code, "Bob", address="127.0.0.2")
    waiting = join(h, host, code, "Wait", address="127.0.0.3")
    bob.act("send_ice_candidate", connection_id=waiting.id, candidate=None)
    bob.expect_error("unknown_connection", "send_ice_candidate")
    waiting.assert_silent()
