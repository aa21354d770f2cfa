"""Rules for relays: SDP, ICE candidates and messages between members who may signal each other."""

from __future__ import annotations

from typing import cast

from ..effects import Origin, Send
from ..ids import ConnectionId
from ..lobby import Connection, Lobby, Role
from ..policy import Topology
from ..protocol import actions as a
from ..protocol import events as ev
from ..protocol.codes import ErrorCode
from ..protocol.errors import ProtocolError
from .base import RegistryBase

E = ErrorCode


#: The actions whose rules are :meth:`RelayRules._relay`.
RELAY_ACTIONS: frozenset[type[a.Action]] = frozenset(
    (a.SetSessionDescription, a.SendIceCandidate, a.SendMessage)
)


class RelayRules(RegistryBase):
    """set_session_description, send_ice_candidate, send_message."""

    def _relay_now(self, conn: Connection, action: a.RelayAction, ref: str | None) -> Send | None:
        """The common relay (host to guest, guest to host), in one step; ``None``: not that.

        A relay changes nothing, so it needs no unit of work: membership is read
        on the backend's shared copy, as :meth:`_relay` reads it, and the one
        event comes back. Anything else (a broadcast, a mesh, any refusal) is
        left untouched for :meth:`_relay` to apply the full way.
        """
        lobby_id = conn.lobby_id
        if lobby_id is None:
            return None
        lobby = self.backend.peek_lobby(lobby_id)
        if lobby is None:
            return None
        sender = conn.connection_id
        target = cast(ConnectionId, action.connection_id)
        if lobby.host.connection_id == sender:
            if target not in lobby.guests:
                return None
        elif target != lobby.host.connection_id or sender not in lobby.guests:
            return None
        kind = type(action)
        event: ev.Event
        if kind is a.SendIceCandidate:
            event = ev.ReceivedIceCandidate(sender, action.candidate)  # type: ignore[union-attr]
        elif kind is a.SetSessionDescription:
            event = ev.ReceivedSessionDescription(sender, action.description)  # type: ignore[union-attr]
        else:
            event = ev.ReceivedMessage(sender, action.data)  # type: ignore[union-attr]
        self.stats.relayed += 1
        return Send(target, event, None, Origin(sender, kind.NAME, ref))

    def _relay(self, conn: Connection, action: a.RelayAction, ref: str | None) -> None:
        # Relays are most inputs and change nothing: membership is checked on a
        # shared copy (on a cluster node, cached until another node announces a change).
        role, lobby = self._place(conn, reading=True)
        target = cast(ConnectionId, action.connection_id)
        if lobby is None or role is Role.IDLE:
            raise ProtocolError(E.NOT_IN_LOBBY, "join or start a lobby first")
        if role is Role.PENDING:
            raise ProtocolError(E.NOT_ACCEPTED, "wait until the host accepts you")
        if role is Role.HOST:
            if target not in lobby.guests:
                if target == "*" and type(action) is a.SendMessage:
                    origin = Origin(conn.connection_id, action.NAME, ref)
                    for guest in lobby.guests:
                        self._relay_to(conn, guest, action, origin)
                    return
                if target in lobby.pending:
                    raise ProtocolError(E.NOT_ACCEPTED, "accept that join request first")
                raise ProtocolError(E.UNKNOWN_CONNECTION, "no such guest in this lobby")
        elif target != lobby.host.connection_id:
            self._check_guest_target(lobby, target)
        self._relay_to(conn, target, action, Origin(conn.connection_id, action.NAME, ref))

    def _check_guest_target(self, lobby: Lobby, target: ConnectionId) -> None:
        """A guest signals its host, or (in a mesh) another guest of its lobby."""
        if target == lobby.host.last_connection_id:
            raise ProtocolError(E.HOST_UNAVAILABLE, "the host is reconnecting")
        if target == "*":
            raise ProtocolError(E.NOT_HOST, "only the host can message everyone")
        if self._policy(lobby).topology is Topology.MESH and target in lobby.guests:
            return
        raise ProtocolError(E.UNKNOWN_CONNECTION, "a guest can signal only its host")

    def _relay_to(
        self, sender: Connection, target: ConnectionId, action: a.RelayAction, origin: Origin
    ) -> None:
        kind = type(action)
        event: ev.Event
        if kind is a.SendIceCandidate:
            event = ev.ReceivedIceCandidate(sender.connection_id, action.candidate)  # type: ignore[union-attr]
        elif kind is a.SetSessionDescription:
            event = ev.ReceivedSessionDescription(sender.connection_id, action.description)  # type: ignore[union-attr]
        else:
            event = ev.ReceivedMessage(sender.connection_id, action.data)  # type: ignore[union-attr]
        self._out.append(Send(target, event, None, origin))
        self.stats.relayed += 1
