"""Camus rooms in the sans-I/O core: the room pages' changes, the frames, the timers.

A room is a mesh of members with no host and no accept step. A visit to the
room page makes a member (:meth:`CamusRules.enter_room`); its websocket
(:meth:`CamusRules.admit_socket`, then :meth:`~CamusRules.connected`) takes
the member over, a later socket with the same cookie taking over from an
earlier one. Membership ends only by ``bye`` to ground control or by reaping.

Three timers per room, each x ``dialect_time_scale`` (Camus ran them as loops
over every room): every 20 s, members silent for 30 s get a ``ping``; every
30 s, members silent for 90 s get ``bye``, are deleted, and the rest get
``room-info``; a room with no frame from anyone for 300 s is deleted.
"""

from __future__ import annotations

import logging
import secrets
import unicodedata
import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Final

import msgspec

from ...dialect import ActionHandler
from ...ids import ConnectionId
from ...lobby import Connection, Lobby, PasswordHash, Role
from ...protocol.actions import Action
from ...protocol.events import Event
from . import cookies
from .codec import NAME, CamusCodec
from .messages import (
    GROUND_CONTROL,
    ROOM,
    Bye,
    CamusFrame,
    ClientInfo,
    IceServers,
    Ping,
    Pong,
    Relayed,
    RoomInfo,
    UnknownType,
)
from .outcomes import (
    Admitted,
    Created,
    CreateRoom,
    Creation,
    Entered,
    Entry,
    SocketAdmission,
)
from .records import (
    DEFAULT_USERNAME,
    ROOM_KIND,
    SIGNING_KIND,
    SIGNING_RECORD,
    Member,
    Room,
    decode_room,
    encode_room,
    room_key,
)
from .slugs import slug_for

if TYPE_CHECKING:
    from ...registry import LobbyRegistry


class _Profile(msgspec.Struct):
    """The data of a ``profile`` frame (other keys are ignored)."""

    username: str | None = None


_profile_decoder: Final = msgspec.json.Decoder(_Profile)

logger = logging.getLogger(__name__)

#: Seconds (x dialect_time_scale) of the three timers, as Camus had them.
PING_EVERY: Final = 20.0
PING_SILENT: Final = 30.0
REAP_EVERY: Final = 30.0
REAP_SILENT: Final = 90.0
ROOM_IDLE: Final = 300.0

MAX_ROOM_NAME_LENGTH: Final = 64
MAX_USERNAME_LENGTH: Final = 64
#: Caps of this server (Camus had none): rooms at once, and members of a room.
DEFAULT_MAX_ROOMS: Final = 10_000
DEFAULT_MAX_MEMBERS: Final = 64

#: Close codes of a member's socket.
CLOSE_NORMAL: Final = 1000
CLOSE_POLICY: Final = 1008
#: A later socket with the same cookie took the member over (as native resume).
CLOSE_TAKEN_OVER: Final = 4000


class CamusRules:
    """The Camus dialect's rules, bound to one registry."""

    def __init__(
        self,
        registry: LobbyRegistry,
        *,
        max_rooms: int = DEFAULT_MAX_ROOMS,
        max_members: int = DEFAULT_MAX_MEMBERS,
    ) -> None:
        self.registry = registry
        self.max_rooms = max_rooms
        self.max_members = max_members
        self._cookie_key: bytes | None = None

    # DialectRules ----------------------------------------------------------------------

    @property
    def name(self) -> str:
        return NAME

    def handlers(self) -> Mapping[type[Action], ActionHandler]:
        return {CamusFrame: self._frame}

    def connected(self, conn: Connection) -> None:
        """A member's socket opened: it takes the member over (closing the one it had)."""
        codec = conn.codec
        assert isinstance(codec, CamusCodec)
        room = self._room(codec.slug)
        member = None if room is None else room.members.get(codec.member_id)
        if room is None or member is None:
            # Deleted between the handshake and now.
            self.registry.close_connection(conn.connection_id, CLOSE_POLICY, "not a member")
            return
        earlier = member.connection_id
        if earlier is not None and earlier != conn.connection_id:
            self.registry.close_connection(
                ConnectionId(earlier), CLOSE_TAKEN_OVER, "taken over by a new connection"
            )
        member.connection_id = conn.connection_id
        self._save(room)

    def disconnected(self, conn: Connection) -> bool:
        """A member's socket closed: the member stays (until ``bye`` or reaping)."""
        codec = conn.codec
        assert isinstance(codec, CamusCodec)
        room = self._room(codec.slug)
        member = None if room is None else room.members.get(codec.member_id)
        if room is not None and member is not None and member.connection_id == conn.connection_id:
            member.connection_id = None
            self._save(room)
        return True

    def member_lost(self, lobby: Lobby, role: Role, connection_id: ConnectionId) -> bool:
        """Camus rooms are not lobbies: a member on a dead node stays until reaped, as ever."""
        return False

    def expire(self, key: str, sub: str, deadline: float) -> None:
        timer, _, life = sub.partition(":")
        room = self._room(key)
        if room is None or room.life != life:
            return  # the room this timer was planned for is gone
        if timer == "ping":
            self._ping_silent(room)
            self._again(room, "ping", PING_EVERY, deadline)
        elif timer == "reap":
            self._reap_silent(room)
            self._again(room, "reap", REAP_EVERY, deadline)
        elif timer == "idle":
            self._expire_idle(room)

    def room_count(self) -> int:
        return len(self.registry.backend.record_keys(ROOM_KIND))

    # The room pages (HTTP routes call these through the node) -------------------------------

    def create_room(self, form: CreateRoom) -> Created:
        """A room named ``form.name``, unless its name or slug is taken."""
        slug = slug_for(form.name)
        if len(form.name) > MAX_ROOM_NAME_LENGTH:
            return Created(Creation.TOO_LONG, slug)
        if not slug:
            return Created(Creation.TAKEN, slug)
        if self.room_count() >= self.max_rooms:
            logger.warning("camus: refusing a room, %d rooms already", self.max_rooms)
            return Created(Creation.TOO_MANY_ROOMS, slug)
        registry = self.registry
        password = (
            PasswordHash.of(form.password, registry.limits.password_hash_iterations)
            if form.password
            else None
        )
        room = Room(
            slug=slug,
            name=form.name,
            life=secrets.token_hex(8),
            guest_limit=form.guest_limit,
            public=form.public,
            password=password,
            active=registry.clock.monotonic(),
        )
        # Two names with one slug are one room: the slug is the record's key.
        if not registry.tx.claim_record(ROOM_KIND, room_key(slug), encode_room(room)):
            return Created(Creation.TAKEN, slug)
        sub = f":{room.life}"
        registry.schedule(PING_EVERY, NAME, slug, "ping" + sub)
        registry.schedule(REAP_EVERY, NAME, slug, "reap" + sub)
        registry.schedule(ROOM_IDLE, NAME, slug, "idle" + sub)
        return Created(Creation.CREATED, slug)

    def enter_room(self, slug: str, password: str | None) -> Entered:
        """A visit to the room page, with the password the visitor posted (if any)."""
        room = self._room(slug)
        if room is None:
            return Entered(Entry.NOT_FOUND, slug)
        if len(room.members) >= min(room.guest_limit or self.max_members, self.max_members):
            return Entered(Entry.FULL, slug, room.name)
        if room.password is not None:
            if password is None:
                return Entered(Entry.PASSWORD_FORM, slug, room.name)
            if not (password and room.password.matches(password)):
                return Entered(Entry.WRONG_PASSWORD, slug, room.name)
        member_id = uuid.uuid4().hex
        now = self.registry.clock.monotonic()
        room.members[member_id] = Member(member_id, DEFAULT_USERNAME, seen=now)
        self._save(room)
        cookie = cookies.sign(self._key(), slug, member_id)
        return Entered(Entry.ADMITTED, slug, room.name, member_id, cookie)

    def admit_socket(self, slug: str, cookie_values: Iterable[str]) -> Admitted:
        """Whether a websocket for room ``slug`` with these cookies may open, and as whom."""
        room = self._room(slug)
        if room is None:
            return Admitted(SocketAdmission.NO_ROOM)
        key = self._key()
        for value in cookie_values:
            member_id = cookies.member_of(key, slug, value)
            if member_id is not None and member_id in room.members:
                return Admitted(SocketAdmission.ADMITTED, member_id)
        return Admitted(SocketAdmission.NO_MEMBER)

    # Frames ----------------------------------------------------------------------------------

    def _frame(self, conn: Connection, frame: CamusFrame, ref: str | None) -> None:
        codec = conn.codec
        assert isinstance(codec, CamusCodec)
        room = self._room(codec.slug)
        member = None if room is None else room.members.get(codec.member_id)
        if room is None or member is None or member.connection_id != conn.connection_id:
            return  # a socket taken over, or of a member already gone: not the member's voice
        member.seen = room.active = self.registry.clock.monotonic()
        receiver = frame.receiver
        if receiver == GROUND_CONTROL:
            self._ground_control(room, member, frame)
        elif receiver == ROOM:
            self._relay(room, member, frame, room.members.values())
        elif receiver is not None and receiver in room.members:
            self._relay(room, member, frame, (room.members[receiver],))
        # else: nobody by that name in this room; Camus never said so
        self._save(room)

    def _relay(
        self, room: Room, sender: Member, frame: CamusFrame, members: Iterable[Member]
    ) -> None:
        if frame.type is None:
            return  # nothing a Camus client could dispatch
        registry = self.registry
        event = Relayed(sender.member_id, frame.type, frame.data)
        for member in members:
            if member.connection_id is not None:
                registry.send(ConnectionId(member.connection_id), event)
                registry.stats.relayed += 1

    def _ground_control(self, room: Room, member: Member, frame: CamusFrame) -> None:
        registry = self.registry
        target = member.connection_id
        assert target is not None
        reply_to = ConnectionId(target)
        match frame.type:
            case "ping":
                registry.send(reply_to, Pong(frame.data))
            case "pong" | "greeting":
                pass
            case "profile":
                try:
                    profile = _profile_decoder.decode(frame.data)
                except msgspec.DecodeError:
                    return  # Camus failed on a profile that is not an object: nobody heard
                username = _clean_username(profile.username)
                if username:
                    member.username = username
                self._tell_room(room, _room_info(room))
            case "get-room-info":
                registry.send(reply_to, _room_info(room))
            case "get-ice-servers":
                servers = registry._ice_servers_for(ConnectionId(member.member_id))
                registry.send(reply_to, IceServers(servers))
            case "bye":
                del room.members[member.member_id]
                registry.close_connection(reply_to, CLOSE_NORMAL, "bye")
                self._tell_room(room, _room_info(room))
            case kind:
                registry.send(reply_to, UnknownType(kind))

    # Timers ------------------------------------------------------------------------------------

    def _ping_silent(self, room: Room) -> None:
        registry = self.registry
        silent_since = registry.clock.monotonic() - PING_SILENT * registry.dialect_time_scale
        ping = Ping(registry.clock.wall())
        for member in room.members.values():
            if member.seen <= silent_since and member.connection_id is not None:
                registry.send(ConnectionId(member.connection_id), ping)

    def _reap_silent(self, room: Room) -> None:
        registry = self.registry
        silent_since = registry.clock.monotonic() - REAP_SILENT * registry.dialect_time_scale
        gone = [member for member in room.members.values() if member.seen <= silent_since]
        if gone:
            bye = Bye(registry.clock.wall())
            for member in gone:
                del room.members[member.member_id]
                if member.connection_id is not None:
                    connection_id = ConnectionId(member.connection_id)
                    registry.send(connection_id, bye)
                    registry.close_connection(connection_id, CLOSE_NORMAL, "bye")
            self._save(room)
            self._tell_room(room, _room_info(room))

    def _again(self, room: Room, timer: str, every: float, deadline: float) -> None:
        """Plan the next tick ``every`` dialect seconds after this one (or from now, if late)."""
        registry = self.registry
        now = registry.clock.monotonic()
        delay = every - (now - deadline) / registry.dialect_time_scale
        registry.schedule(delay if delay > 0 else every, NAME, room.slug, f"{timer}:{room.life}")

    def _expire_idle(self, room: Room) -> None:
        registry = self.registry
        scale = registry.dialect_time_scale
        idle_until = room.active + ROOM_IDLE * scale
        now = registry.clock.monotonic()
        if now < idle_until:
            registry.schedule((idle_until - now) / scale, NAME, room.slug, f"idle:{room.life}")
            return
        for member in room.members.values():
            if member.connection_id is not None:
                registry.close_connection(
                    ConnectionId(member.connection_id), CLOSE_NORMAL, "room closed"
                )
        registry.tx.remove_record(ROOM_KIND, room_key(room.slug))

    # State -------------------------------------------------------------------------------------

    def _room(self, slug: str) -> Room | None:
        data = self.registry.tx.record(ROOM_KIND, room_key(slug))
        return None if data is None else decode_room(data)

    def _save(self, room: Room) -> None:
        self.registry.tx.put_record(ROOM_KIND, room_key(room.slug), encode_room(room))

    def _tell_room(self, room: Room, event: Event) -> None:
        for member in room.members.values():
            if member.connection_id is not None:
                self.registry.send(ConnectionId(member.connection_id), event)

    def _key(self) -> bytes:
        """The key that signs cookies: one per backend, so processes sharing it agree."""
        if self._cookie_key is None:
            tx = self.registry.tx
            key = tx.record(SIGNING_KIND, SIGNING_RECORD)
            if key is None:
                fresh = secrets.token_bytes(32)
                # Claimed at once, not with the unit: the key is kept past this input.
                if self.registry.backend.add_record(SIGNING_KIND, SIGNING_RECORD, fresh):
                    key = fresh
                else:  # another process claimed it first
                    key = self.registry.backend.get_record(SIGNING_KIND, SIGNING_RECORD)
            assert key is not None
            self._cookie_key = key
        return self._cookie_key


def _room_info(room: Room) -> RoomInfo:
    clients = [ClientInfo(member.member_id, member.username) for member in room.members.values()]
    return RoomInfo(room.slug, clients)


def _clean_username(username: str | None) -> str:
    """A username without control or format characters, trimmed, at most 64 characters."""
    if username is None:
        return ""
    cleaned = "".join(ch for ch in username if unicodedata.category(ch)[0] != "C").strip()
    return cleaned[:MAX_USERNAME_LENGTH]
