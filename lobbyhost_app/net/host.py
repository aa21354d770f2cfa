"""The host's session: a lobby on a signalling server and a peer link per guest.

:class:`HostSession` is Qt-free: the desktop app's controller (through
:class:`~lobbyhost_app.net.hosting.HostingService`), the headless host and the
tests drive it the same way. It reports what happens as the events of
:mod:`lobbyhost_app.session_values` (:data:`HostEvent`), to listeners added
with :meth:`HostSession.add_listener`.

The host is the offerer: on accept it makes the ``RTCPeerConnection``, opens
the ``lobby`` and ``game`` channels and sends the offer; the guest answers and
trickles its candidates, which the host applies as they come.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgspec
from aiortc import RTCPeerConnection

from signalling_server.protocol import (
    AcceptRequest,
    CloseLobby,
    CloseReason,
    GetLobbyInfo,
    GuestAccepted,
    GuestLeft,
    GuestResumed,
    HandOver,
    HostMigrated,
    IceCandidate,
    IceServerInfo,
    KickGuest,
    KickReason,
    LeaveReason,
    LoadSnapshot,
    LobbyClosed,
    LobbyInfo,
    LobbyStarted,
    Promoted,
    ReceivedIceCandidate,
    ReceivedSessionDescription,
    RejectJoinRequest,
    RequestCancelled,
    RequestRemoved,
    RequestToJoin,
    Resumed,
    SaveSnapshot,
    SeatInfo,
    SeatRequest,
    SendIceCandidate,
    SetLobbyOpen,
    SetSessionDescription,
    Snapshot,
    SnapshotInfo,
    SnapshotSaved,
    StartLobby,
    decode_candidate,
    decode_description,
)
from signalling_server.protocol.actions import MAX_NAME_LENGTH, clean_text

from ..session_values import (
    ChatReceived,
    HostEvent,
    JoinRequested,
    LinkState,
    LinkStats,
    LobbyEnded,
    LobbyHandedOver,
    LobbyInfoChanged,
    LobbyOpened,
    Member,
    PeerConnectionLost,
    PeerGone,
    PeerResumed,
    PeerUpdated,
    RequestGone,
    SignallingStatus,
    SnapshotLoaded,
    SnapshotStored,
)
from .channels import GUEST_BYES, HOST_PEER_ID, GameChannel, LobbyChannel
from .clock import SYSTEM_CLOCK, Clock, within
from .errors import NetError, PeerError, ServerError
from .ice import IceSettings, installed_address_allow_list
from .link import END_OF_CANDIDATES, PeerLink
from .prepared_offer import LinkParts, OfferPreparer
from .signalling_api import (
    ConnectionClosed,
    ConnectionLost,
    ResumeFailed,
    Signalling,
    SignallingEvent,
    expect_reply,
)

logger = logging.getLogger(__name__)
#: How long closing waits for peer links to say bye and close.
_CLOSE_WAIT_S = 5.0
#: Reasons a host tells a guest before closing its link on purpose.
_BYE_REASONS = frozenset({"kicked", "closed", "handed_over"})
T = TypeVar("T")
HostLinkListener = Callable[[str, PeerLink, LobbyChannel], None]


@dataclass(slots=True, eq=False)
class _Guest:
    connection_id: str
    name: str
    peer_id: int
    link: PeerLink
    lobby: LobbyChannel
    game: GameChannel
    handshake: asyncio.Task[None] | None = None
    signalling_lost: bool = False
    #: Set once the guest's answer is applied.
    answered: asyncio.Event = field(default_factory=asyncio.Event)


class HostSession:
    """Hosts one lobby: join requests in, a WebRTC link per accepted guest out."""

    def __init__(
        self,
        signalling: Signalling,
        ice: IceSettings,
        *,
        auto_accept: bool = False,
        ping_interval: float = 2.0,
        handshake_timeout: float = 20.0,
        answer_timeout: float = 10.0,
        clock: Clock = SYSTEM_CLOCK,
        guest_grace: float = 30.0,
        prepare_offers: bool = True,
    ) -> None:
        """``guest_grace`` is how long the server keeps a dropped guest's place (its
        ``guest_grace``: 30 s unless the server was set up otherwise). A guest whose
        answer to the offer has not come within ``answer_timeout``, or whose link is
        not open within ``handshake_timeout``, is dropped as unreachable: sockets that
        never answer cannot hold an auto-accept lobby's seats for long. ``prepare_offers``
        keeps the next offer made ahead (:mod:`.prepared_offer`); off, each is made on accept."""
        self.signalling = signalling
        self.ice = ice
        self.auto_accept = auto_accept
        self.lobby_id: str | None = None
        self._ping_interval = ping_interval
        self._handshake_timeout = handshake_timeout
        self._answer_timeout = answer_timeout
        self._clock = clock  # handshake deadlines run on it
        self._guest_grace = guest_grace
        self._listeners: list[Callable[[HostEvent], None]] = []
        self._guests: dict[str, _Guest] = {}
        self._requests: dict[str, JoinRequested] = {}
        self._server_ice: list[IceServerInfo] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._link_closes: set[asyncio.Task[None]] = set()
        #: The host's name as the server keeps it (``start_lobby``'s ``display_name``).
        self._host_name = "Host"
        #: 1 for the host that started the lobby; a promoted guest keeps its own.
        self.peer_id = HOST_PEER_ID
        #: Guests away when this host was promoted: offered to when they resume.
        self._away: dict[str, tuple[str, int]] = {}
        #: The latest snapshot's sequence number (the next save goes above it).
        self.snapshot_seq = 0
        #: The seats a lobby that moved here keeps for its guests, with their tokens.
        self.seat_tokens: list[SeatInfo] = []
        self._members_sent: tuple[Member, ...] = ()
        self._link_listeners: list[HostLinkListener] = []
        self._next_offer = OfferPreparer(
            self._link_parts, self._offer_settings, enabled=prepare_offers
        )
        signalling.add_listener(self._on_signal)

    # Public API -------------------------------------------------------------------------

    def add_listener(self, listener: Callable[[HostEvent], None]) -> None:
        self._listeners.append(listener)

    def add_link_listener(self, listener: HostLinkListener) -> None:
        """Called with each guest's connection id, link and ``lobby`` channel as they are made
        (before the offer): how users of other channels, like the game bridge, join in."""
        self._link_listeners.append(listener)

    @property
    def requests(self) -> list[JoinRequested]:
        return list(self._requests.values())

    def peer(self, connection_id: str) -> LinkStats | None:
        guest = self._guests.get(connection_id)
        return guest.link.stats() if guest else None

    async def start(
        self,
        *,
        name: str | None = None,
        lobby_id: str | None = None,
        max_guests: int | None = None,
        password: str | None = None,
        display_name: str | None = None,
        migratable: bool = False,
        peer_id: int | None = None,
        seats: Sequence[SeatRequest] = (),
    ) -> LobbyOpened:
        """Open a lobby; raises :class:`ServerError` (code taken, bad password ...).

        With ``migratable`` a guest takes over when this host leaves. A lobby
        moving here keeps this host's ``peer_id`` and ``seats`` for its guests
        (their tokens are in :attr:`seat_tokens`; offered to as they resume).
        """
        action = StartLobby(
            name=name,
            lobby_id=lobby_id,
            max_guests=max_guests,
            password=password,
            display_name=display_name,
            migratable=migratable,
            peer_id=peer_id,
            seats=list(seats) or None,
        )
        started = expect_reply(await self.signalling.request(action), LobbyStarted, action)
        self.peer_id = started.peer_id
        self.seat_tokens = list(started.seats or ())
        names = {seat.peer_id: seat.name for seat in seats}
        for seat in self.seat_tokens:
            self._away[f"seat.{seat.peer_id}"] = (names.get(seat.peer_id, "Guest"), seat.peer_id)
        self.lobby_id = started.lobby_id
        self._server_ice = list(started.ice_servers)
        self._next_offer.prepare()
        if display_name is not None:  # the server accepted it: it cleans it the same way
            self._host_name = clean_text(display_name, field="name", max_length=MAX_NAME_LENGTH)
        event = LobbyOpened(started.lobby_id, started.connection_id)
        self._emit(event)
        return event

    def adopt(self, promoted: Promoted, host_name: str | None = None) -> LobbyOpened:
        """Host the lobby this connection was just promoted in: offer to every guest there.

        The join requests waiting are listed, guests still away are offered to
        when they resume, and the snapshot that came with the promotion is
        reported (:class:`SnapshotLoaded`).
        """
        self.lobby_id = promoted.lobby_id
        self.peer_id = promoted.peer_id
        self._server_ice = list(promoted.ice_servers)
        if host_name is not None:
            self._host_name = clean_text(host_name, field="name", max_length=MAX_NAME_LENGTH)
        opened = LobbyOpened(promoted.lobby_id, promoted.connection_id)
        self._emit(opened)
        if promoted.snapshot is not None:
            self._snapshot_loaded(promoted.snapshot)
        for request in promoted.pending:
            if request.connection_id not in self._requests:
                self._request_to_join(RequestToJoin(request.connection_id, request.name))
        for guest in promoted.guests:
            if guest.connection_id not in self._guests:
                self._add_guest(guest.connection_id, guest.name, guest.peer_id)
        self._away = {guest.connection_id: (guest.name, guest.peer_id) for guest in promoted.away}
        return opened

    async def hand_over(self, connection_id: str | None = None) -> LobbyHandedOver:
        """Give the lobby to a guest (``None``: the earliest accepted) and leave it.

        Raises :class:`ServerError` (``not_migratable``, ``no_successor`` ...).
        The guests' links close with a ``handed_over`` bye; they reconnect to the new host.
        """
        action = HandOver(connection_id=connection_id)
        migrated = expect_reply(await self.signalling.request(action), HostMigrated, action)
        return await self.handed_over(migrated.name, migrated.peer_id)

    async def handed_over(self, name: str, peer_id: int) -> LobbyHandedOver:
        """The lobby is ``name``'s now: close every guest's link with a ``handed_over`` bye."""
        for guest in list(self._guests.values()):
            await self._drop(guest, "handed_over")
        self._requests.clear()
        self.lobby_id = None
        handed = LobbyHandedOver(name, peer_id)
        self._emit(handed)
        return handed

    def roster(self) -> list[tuple[str, str, int]]:
        """Every guest with a link: ``(connection_id, name, peer_id)``, by peer id."""
        guests = sorted(self._guests.values(), key=lambda g: g.peer_id)
        return [(g.connection_id, g.name, g.peer_id) for g in guests]

    async def save_snapshot(self, data: str | bytes, seq: int | None = None) -> SnapshotStored:
        """Keep ``data`` (JSON text) on the server as the game's latest state.

        ``seq`` defaults to one above the latest; raises :class:`ServerError`
        (``snapshot_too_large``, ``stale_snapshot``) or :class:`NetError`.
        """
        raw = data.encode() if isinstance(data, str) else bytes(data)
        try:
            msgspec.json.decode(raw)
        except msgspec.DecodeError as exc:
            raise NetError(f"a snapshot must be JSON: {exc}") from exc
        action = SaveSnapshot(seq=seq or self.snapshot_seq + 1, data=msgspec.Raw(raw))
        saved = expect_reply(await self.signalling.request(action), SnapshotSaved, action)
        self.snapshot_seq = max(self.snapshot_seq, saved.seq)
        stored = SnapshotStored(saved.seq, saved.saved_at, saved.size)
        self._emit(stored)
        return stored

    async def load_snapshot(self, seq: int | None = None) -> SnapshotLoaded | None:
        """A kept snapshot (``None``: the latest), or ``None`` when there is none."""
        action = LoadSnapshot(seq=seq)
        reply = expect_reply(await self.signalling.request(action), Snapshot, action)
        return None if reply.snapshot is None else self._snapshot_loaded(reply.snapshot)

    def _snapshot_loaded(self, snapshot: SnapshotInfo) -> SnapshotLoaded:
        self.snapshot_seq = max(self.snapshot_seq, snapshot.seq)
        data = bytes(snapshot.data).decode()
        loaded = SnapshotLoaded(snapshot.seq, snapshot.saved_at, snapshot.size, data)
        self._emit(loaded)
        return loaded

    async def accept(self, connection_id: str) -> None:
        await self.signalling.request(AcceptRequest(connection_id=connection_id))

    async def reject(self, connection_id: str, message: str | None = None) -> None:
        """Turn a request down; ``message`` (the host's own words) is shown to the guest."""
        await self.signalling.request(
            RejectJoinRequest(connection_id=connection_id, message=message or None)
        )

    async def kick(
        self, connection_id: str, message: str | None = None, *, block: bool = False
    ) -> None:
        """Remove a guest; ``message`` (the host's own words) is shown to it.

        With ``block`` its address may not join this lobby again.
        """
        guest = self._guests.get(connection_id)
        await self.signalling.request(
            KickGuest(connection_id=connection_id, message=message or None, block=block)
        )
        if guest is not None:
            await self._drop(guest, LeaveReason.KICKED)

    async def set_open(self, is_open: bool) -> None:
        await self.signalling.request(SetLobbyOpen(open=is_open))

    async def lobby_info(self) -> LobbyInfo:
        action = GetLobbyInfo()
        return expect_reply(await self.signalling.request(action), LobbyInfo, action)

    def send_chat(self, text: str, to: str | None = None) -> None:
        """Chat over the ``lobby`` channel to one guest or to every connected guest."""
        sender = Member(self._host_name, self.peer_id, host=True)
        for guest in self._guests.values():
            if to is None or guest.connection_id == to:
                guest.lobby.send_chat(text, sender=sender)

    def members(self) -> tuple[Member, ...]:
        """Who is in the lobby: the host, then every connected guest by peer id."""
        connected = [g for g in self._guests.values() if g.link.state is LinkState.CONNECTED]
        guests = sorted(connected, key=lambda g: g.peer_id)
        host = Member(self._host_name, self.peer_id, host=True)
        return (host, *(Member(g.name, g.peer_id) for g in guests))

    def send_game(self, connection_id: str, data: str | bytes) -> None:
        guest = self._guests.get(connection_id)
        if guest is not None:
            guest.game.send(data)

    async def close(self, *, close_lobby: bool = True) -> None:
        """Close the lobby, say bye to every guest, close the signalling connection."""
        if close_lobby and self.lobby_id is not None and self.signalling.connected:
            with contextlib.suppress(NetError):
                await self.signalling.request(CloseLobby())
        for guest in list(self._guests.values()):
            await self._drop(guest, "closed")
        # Let the links finish saying bye and closing; stop whatever else is left.
        if self._link_closes:
            await asyncio.wait(self._link_closes, timeout=_CLOSE_WAIT_S)
        await self._next_offer.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.signalling.close()

    # Signalling events -------------------------------------------------------------------

    def _on_signal(self, event: SignallingEvent) -> None:
        match event:
            case RequestToJoin():
                self._request_to_join(event)
            case RequestCancelled(connection_id=connection_id):
                self._request_gone(connection_id, "cancelled")
            case RequestRemoved(connection_id=connection_id, reason=reason):
                self._request_gone(connection_id, reason)
            case GuestAccepted():
                self._guest_accepted(event)
            case ReceivedSessionDescription():
                self._received_description(event)
            case ReceivedIceCandidate():
                self._received_candidate(event)
            case GuestLeft():
                self._guest_left(event)
            case GuestResumed():
                self._guest_resumed(event)
            case LobbyInfo():
                self._emit(LobbyInfoChanged(event))
            case Promoted(lobby_id=lobby_id) if lobby_id == self.lobby_id:
                self.adopt(event)  # everyone had dropped and this host came back first
            case LobbyClosed(reason=reason):
                self._lobby_closed(LobbyEnded(reason))
            case ConnectionLost():
                self._emit(SignallingStatus("lost"))
            case Resumed():
                self._emit(SignallingStatus("restored"))
            case ResumeFailed() | ConnectionClosed():
                self._emit(SignallingStatus("failed"))
            case _:
                pass

    def _request_to_join(self, event: RequestToJoin) -> None:
        request = JoinRequested(event.connection_id, event.name, time.time())
        self._requests[request.connection_id] = request
        self._emit(request)
        if self.auto_accept:
            self._spawn(self._auto_accept(request.connection_id))

    async def _auto_accept(self, connection_id: str) -> None:
        try:
            await self.accept(connection_id)
        except NetError as exc:
            logger.info("auto-accept of %s failed: %s", connection_id, exc)

    def _request_gone(self, connection_id: str, reason: str) -> None:
        if self._requests.pop(connection_id, None) is not None:
            self._emit(RequestGone(connection_id, reason))

    def _guest_accepted(self, event: GuestAccepted) -> None:
        connection_id = event.connection_id
        self._requests.pop(connection_id, None)
        self._emit(RequestGone(connection_id, "accepted"))
        self._add_guest(connection_id, event.name, event.peer_id)

    def _add_guest(self, connection_id: str, name: str, peer_id: int) -> None:
        """A peer link to a guest of this lobby, and the offer to it."""
        prepared = self._next_offer.take()
        parts = prepared or self._link_parts()
        link, lobby, game = parts.link, parts.lobby, parts.game
        guest = _Guest(connection_id, name, peer_id, link, lobby, game)
        self._guests[connection_id] = guest
        link.add_state_listener(lambda _link: self._link_changed(guest))
        link.add_state_listener(lambda _link: self._announce_members())
        lobby.on_rtt = lambda _ms: self._link_changed(guest)
        lobby.on_chat = lambda text: self._guest_chat(guest, text)
        for link_listener in list(self._link_listeners):
            link_listener(connection_id, link, lobby)
        guest.handshake = self._spawn(self._offer(guest, prepared=prepared is not None))
        self._link_changed(guest)

    def _link_parts(self) -> LinkParts:
        link = PeerLink(
            RTCPeerConnection(self.ice.configuration(self._server_ice)),
            relay_delay_s=self.ice.relay_delay_s,
        )
        lobby = LobbyChannel(link, ping_interval=self._ping_interval, peer_byes=GUEST_BYES)
        return LinkParts(link, lobby, GameChannel(link))

    def _offer_settings(self) -> Hashable:
        return (repr(self._server_ice), self.ice, installed_address_allow_list())

    async def _offer(self, guest: _Guest, *, prepared: bool) -> None:
        link = guest.link

        def refused(error: ServerError) -> None:
            logger.info("the server refused signalling for %s: %s", guest.name, error)
            self._spawn(self._drop(guest, "failed"))

        try:
            if not prepared:
                guest.lobby.open()
                guest.game.open()
                await link.pc.setLocalDescription(await link.pc.createOffer())
            offer = link.local_description()
            await self.signalling.send(
                SetSessionDescription(connection_id=guest.connection_id, description=offer),
                on_error=refused,
            )
            # aiortc gathers every candidate into the offer: none to trickle.
            await self.signalling.send(
                SendIceCandidate(connection_id=guest.connection_id, candidate=END_OF_CANDIDATES),
                on_error=refused,
            )
            await within(self._clock, self._handshake_timeout, self._answered_and_open(guest))
        except (TimeoutError, ConnectionError, NetError, ValueError) as exc:
            logger.info("handshake with %s failed: %s", guest.name, exc)
            if self._guests.get(guest.connection_id) is guest:
                await self._drop(guest, "failed")
        finally:
            # The next guest's offer, made now that this handshake no longer needs the loop.
            self._next_offer.prepare()

    async def _answered_and_open(self, guest: _Guest) -> None:
        """Until the guest's link is open; ``TimeoutError`` if its answer is late."""
        await within(self._clock, self._answer_timeout, guest.answered.wait())
        await guest.link.wait_open()

    # What a guest relays is untrusted: at worst it ends that guest's link, as failed.

    def _received_description(self, event: ReceivedSessionDescription) -> None:
        guest = self._guests.get(event.connection_id)
        if guest is None:
            return
        try:
            description = decode_description(event.description)
        except msgspec.DecodeError as exc:
            logger.info("bad description from %s: %s", guest.name, exc)
            self._spawn(self._drop(guest, "failed"))
            return
        if description.type == "answer":
            self._spawn(self._apply_answer(guest, description.sdp))
        else:
            logger.info("ignoring a %s from %s: the host offers", description.type, guest.name)

    async def _apply_answer(self, guest: _Guest, sdp: str) -> None:
        """Apply the guest's answer; one that is not SDP, out of range or a second one fails it."""
        try:
            await guest.link.set_remote_description("answer", sdp)
        except PeerError as exc:
            logger.info("bad answer from %s: %s", guest.name, exc)
            await self._drop(guest, "failed")
            return
        guest.answered.set()

    def _received_candidate(self, event: ReceivedIceCandidate) -> None:
        guest = self._guests.get(event.connection_id)
        if guest is None:
            return
        try:
            candidate = decode_candidate(event.candidate)
        except msgspec.DecodeError as exc:
            logger.info("ignoring a bad candidate from %s: %s", guest.name, exc)
            return
        # The link ignores (and logs) candidates it cannot use and those past its budget.
        self._spawn(self._add_candidate(guest, candidate))

    @staticmethod
    async def _add_candidate(guest: _Guest, candidate: IceCandidate | None) -> None:
        await guest.link.add_remote_candidate(candidate)

    def _guest_left(self, event: GuestLeft) -> None:
        guest = self._guests.get(event.connection_id)
        if guest is None:
            return
        if event.reason is LeaveReason.DISCONNECTED and guest.link.state is LinkState.CONNECTED:
            # Its signalling dropped (a closed tab looks the same at first): it
            # may resume within the grace; guest_left{lost} says it did not.
            # If the link dies meanwhile, its close removes it.
            guest.signalling_lost = True
            self._emit(
                PeerConnectionLost(
                    guest.connection_id, guest.name, guest.peer_id, self._guest_grace
                )
            )
            return
        self._spawn(self._drop(guest, event.reason))

    def _guest_resumed(self, event: GuestResumed) -> None:
        away = self._away.pop(event.old_connection_id, None)
        if away is not None:
            # Away when this host took over: its link was to the old host.
            self._add_guest(event.connection_id, *away)
            return
        guest = self._guests.pop(event.old_connection_id, None)
        if guest is not None:
            guest.connection_id = event.connection_id
            guest.signalling_lost = False
            self._guests[guest.connection_id] = guest
            self._emit(PeerResumed(event.old_connection_id, guest.connection_id, guest.peer_id))
            self._link_changed(guest)

    def _lobby_closed(self, ended: LobbyEnded) -> None:
        # Every guest goes because the lobby did, whoever's link notices first;
        # a lobby that moved to another server goes on there.
        bye = "handed_over" if ended.reason is CloseReason.MOVED else "closed"
        for guest in list(self._guests.values()):
            self._forget(guest, bye)
            task = self._spawn(self._say_bye_and_close(guest, bye))
            self._link_closes.add(task)
            task.add_done_callback(self._link_closes.discard)
        self.lobby_id = None
        self._emit(ended)

    # Lobby chat and members --------------------------------------------------------------

    def _guest_chat(self, guest: _Guest, text: str) -> None:
        """A guest said something: report it, and pass it on to every other connected guest."""
        self._emit(ChatReceived(guest.connection_id, guest.name, text))
        sender = Member(guest.name, guest.peer_id)
        for other in list(self._guests.values()):
            if other is not guest and other.link.state is LinkState.CONNECTED:
                other.lobby.send_chat(text, sender=sender)

    def _announce_members(self) -> None:
        """Tell every connected guest who is in the lobby, when that changed."""
        members = self.members()
        if members == self._members_sent:
            return
        self._members_sent = members
        for guest in list(self._guests.values()):
            if guest.link.state is LinkState.CONNECTED:
                guest.lobby.send_members(members)

    # Peers --------------------------------------------------------------------------------

    def _link_changed(self, guest: _Guest) -> None:
        if self._guests.get(guest.connection_id) is not guest:
            return
        state = guest.link.state
        if state in (LinkState.FAILED, LinkState.CLOSED):
            reason = "failed" if state is LinkState.FAILED else (guest.link.bye_reason or "left")
            if guest.signalling_lost and guest.link.bye_reason is None:
                reason = LeaveReason.LOST  # gone on both paths: it is not coming back
            self._spawn(self._drop(guest, reason))
            return
        self._emit(PeerUpdated(guest.connection_id, guest.name, guest.peer_id, guest.link.stats()))

    async def _drop(self, guest: _Guest, reason: str) -> None:
        """Forget a guest (reporting ``reason`` once) and close its link.

        A guest the host cannot reach (``failed``) is also kicked on the server
        as ``unreachable``: its seat is freed and it is told why, instead of
        waiting on "connecting" while holding a place a real guest could take.
        """
        if self._forget(guest, reason):
            if reason == "failed":
                await self._kick_unreachable(guest)
            await self._say_bye_and_close(guest, reason)

    async def _kick_unreachable(self, guest: _Guest) -> None:
        if self.lobby_id is None or not self.signalling.connected:
            return

        def refused(error: ServerError) -> None:  # it left or dropped meanwhile: nothing to free
            logger.info("kicking unreachable %s: %s", guest.name, error)

        kick = KickGuest(connection_id=guest.connection_id, code=KickReason.UNREACHABLE)
        with contextlib.suppress(NetError):
            await self.signalling.send(kick, on_error=refused)

    @staticmethod
    async def _say_bye_and_close(guest: _Guest, reason: str) -> None:
        await guest.lobby.close(bye=reason if reason in _BYE_REASONS else None)
        await guest.link.close()

    def _forget(self, guest: _Guest, reason: str) -> bool:
        """Take a guest off the list and say why; ``False`` if it was gone already."""
        if self._guests.get(guest.connection_id) is not guest:
            return False
        del self._guests[guest.connection_id]
        if guest.handshake is not None and guest.handshake is not asyncio.current_task():
            guest.handshake.cancel()
        self._emit(PeerGone(guest.connection_id, guest.name, guest.peer_id, reason))
        return True

    # Plumbing -----------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _emit(self, event: HostEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                logger.exception("a host listener failed on %s", type(event).__name__)


__all__ = [
    "ChatReceived",
    "HostEvent",
    "HostSession",
    "JoinRequested",
    "LobbyEnded",
    "LobbyInfoChanged",
    "LobbyOpened",
    "PeerConnectionLost",
    "PeerGone",
    "PeerResumed",
    "PeerUpdated",
    "RequestGone",
    "SignallingStatus",
]
