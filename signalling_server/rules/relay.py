"""Rules for relays: SDP, ICE candidates and messages, host to guest and back."""

from __future__ import annotations

from .. import protocol as p
from ..errors import ErrorCode, ProtocolError
from ..ids import ConnectionId
from ..lobby import Connection, Role
from .base import RegistryBase

E = ErrorCode


class RelayRules(RegistryBase):
    """set_session_description, send_ice_candidate, send_message."""

    def _relay(
        self,
        conn: Connection,
        action: p.SetSessionDescription | p.SendIceCandidate | p.SendMessage,
        ref: str | None,
    ) -> None:
        role = conn.role
        if role is Role.HOST:
            lobby = self._lobby(conn)
            target = ConnectionId(action.connection_id)
            if target not in lobby.guests:
                if target == "*" and type(action) is p.SendMessage:
                    for guest in lobby.guests:
                        self._relay_to(conn, guest, action)
                    return
                if target in lobby.pending:
                    raise ProtocolError(E.NOT_ACCEPTED, "accept that join request first")
                raise ProtocolError(E.UNKNOWN_CONNECTION, "no such guest in this lobby")
        elif role is Role.GUEST:
            lobby = self._lobby(conn)
            host = lobby.host
            target = ConnectionId(action.connection_id)
            if target != host.connection_id:
                if target == host.last_connection_id:
                    raise ProtocolError(E.HOST_UNAVAILABLE, "the host is reconnecting")
                if target == "*":
                    raise ProtocolError(E.NOT_HOST, "only the host can message everyone")
                raise ProtocolError(E.UNKNOWN_CONNECTION, "a guest can signal only its host")
        elif role is Role.PENDING:
            raise ProtocolError(E.NOT_ACCEPTED, "wait until the host accepts you")
        else:
            raise ProtocolError(E.NOT_IN_LOBBY, "join or start a lobby first")
        self._relay_to(conn, target, action)

    def _relay_to(
        self,
        sender: Connection,
        target: ConnectionId,
        action: p.SetSessionDescription | p.SendIceCandidate | p.SendMessage,
    ) -> None:
        kind = type(action)
        if kind is p.SendIceCandidate:
            frame = p.encode_relay(
                "received_ice_candidate",
                sender.connection_id,
                b"candidate",
                action.candidate,  # type: ignore[union-attr]
            )
        elif kind is p.SetSessionDescription:
            frame = p.encode_relay(
                "received_session_description",
                sender.connection_id,
                b"description",
                action.description,  # type: ignore[union-attr]
            )
        else:
            frame = p.encode_relay(
                "received_message",
                sender.connection_id,
                b"data",
                action.data,  # type: ignore[union-attr]
            )
        self._out.append((target, frame))
        self.stats.relayed += 1
