"""Lobby-wide chat and the member list over the ``lobby`` channel: a real server, real aiortc peers."""

from __future__ import annotations

from collections.abc import Callable

from lobbyhost_app.session_values import (
    ChatReceived,
    GuestChat,
    GuestEvent,
    Member,
    MemberChat,
    MembersChanged,
    PeerGone,
)

from .recorder import Recorder
from .test_sessions import Lobby, connect_guest, lobby, server

__all__ = ["lobby", "server"]

ANN = Member("Ann", 1, host=True)


def members_are(*members: Member) -> Callable[[GuestEvent], bool]:
    return lambda e: isinstance(e, MembersChanged) and e.members == members


def chat_of(events: Recorder[GuestEvent]) -> list[GuestEvent]:
    return [e for e in events.events if isinstance(e, GuestChat | MemberChat)]


async def test_a_guests_line_reaches_the_host_and_every_other_guest_with_its_name(
    lobby: Lobby,
) -> None:
    """The host reports a guest's line and relays it, named, to the other guests, never back to its sender."""
    bob, bob_events, bob_id = await connect_guest(lobby, "Bob")
    cy, cy_events, cy_id = await connect_guest(lobby, "Cy")

    bob.send_chat("hi all")
    heard = await lobby.events.wait_for(lambda e: isinstance(e, ChatReceived))
    assert heard == ChatReceived(bob_id, "Bob", "hi all")
    assert await cy_events.wait_for(lambda e: isinstance(e, MemberChat)) == MemberChat(
        "Bob", 2, "hi all"
    )

    cy.send_chat("hi Bob")
    assert await bob_events.wait_for(lambda e: isinstance(e, MemberChat)) == MemberChat(
        "Cy", 3, "hi Bob"
    )
    # The lobby channel is ordered: an echo of Bob's own line would have come first.
    assert chat_of(bob_events) == [MemberChat("Cy", 3, "hi Bob")]

    lobby.host.send_chat("welcome both")
    assert await bob_events.wait_for(lambda e: isinstance(e, GuestChat)) == GuestChat(
        "welcome both"
    )
    assert await cy_events.wait_for(lambda e: isinstance(e, GuestChat)) == GuestChat("welcome both")
    assert cy_id != bob_id
    await cy.leave()
    await bob.leave()


async def test_guests_get_the_member_list_when_they_connect_and_when_it_changes(
    lobby: Lobby,
) -> None:
    """Each guest is sent the host and the connected guests on connecting, and again as guests come and go."""
    bob, bob_events, _ = await connect_guest(lobby, "Bob")
    await bob_events.wait_for(members_are(ANN, Member("Bob", 2)))

    cy, cy_events, cy_id = await connect_guest(lobby, "Cy")
    everyone = (ANN, Member("Bob", 2), Member("Cy", 3))
    await cy_events.wait_for(members_are(*everyone))
    await bob_events.wait_for(members_are(*everyone))
    assert lobby.host.members() == everyone

    mark = bob_events.mark
    await cy.leave()
    await lobby.events.wait_for(lambda e: isinstance(e, PeerGone) and e.connection_id == cy_id)
    await bob_events.wait_for(members_are(ANN, Member("Bob", 2)), after=mark)
    assert bob.members == (ANN, Member("Bob", 2))
    await bob.leave()
