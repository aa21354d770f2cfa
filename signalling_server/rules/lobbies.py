"""Rules for a lobby's life: start, lock, close, and the queries anyone may make."""

from __future__ import annotations

from .. import protocol as p
from ..backend import TokenGrant
from ..errors import ErrorCode, ProtocolError
from ..ids import LobbyId, new_lobby_code, new_token, normalise_lobby_code
from ..lobby import Connection, Lobby, Member, PasswordHash, Role
from .base import RegistryBase, clean_name

E = ErrorCode


class LobbyRules(RegistryBase):
    """start_lobby, close_lobby, set_lobby_open, get_lobby_info, get_ice_servers, ping."""

    def _start_lobby(self, conn: Connection, action: p.StartLobby, ref: str | None) -> None:
        self._require_idle(conn)
        address = self._addresses[conn.address]
        if address.open_lobbies >= self.limits.lobbies_per_address:
            raise ProtocolError(
                E.RATE_LIMITED,
                f"at most {self.limits.lobbies_per_address} open lobbies per address",
            )
        display_name = clean_name(action.display_name, "Host")
        password = None
        if action.password:
            password = PasswordHash.of(action.password, self.limits.password_hash_iterations)
        token, token_id, secret = new_token()
        host = Member(
            name=display_name,
            peer_id=1,
            token_id=token_id,
            token_secret=secret,
            connection_id=conn.connection_id,
            last_connection_id=conn.connection_id,
        )
        lobby_id = self._claim_code(action.lobby_id)

        def make(code: LobbyId) -> Lobby:
            return Lobby(
                lobby_id=code,
                name=clean_name(action.name, f"Lobby {code}"),
                host=host,
                host_address=conn.address,
                max_guests=action.max_guests or self.limits.default_max_guests,
                password=password,
            )

        if lobby_id is not None:
            lobby = make(lobby_id)
            if not self.backend.add_lobby(lobby):
                raise ProtocolError(E.LOBBY_EXISTS, f"lobby code {lobby_id} is taken")
        else:
            while not self.backend.add_lobby(lobby := make(new_lobby_code())):
                pass
        self.backend.put_token(token_id, TokenGrant(lobby.lobby_id, Role.HOST))
        address.open_lobbies += 1
        conn.role, conn.lobby_id = Role.HOST, lobby.lobby_id
        self.stats.lobbies_started += 1
        content = {
            "lobby_id": lobby.lobby_id,
            "connection_id": conn.connection_id,
            "host_token": token,
            "peer_id": 1,
            "ice_servers": self._ice_servers_for(conn),
        }
        self._send(conn.connection_id, "lobby_started", content, ref)

    def _claim_code(self, requested: str | None) -> LobbyId | None:
        if requested is None:
            return None
        code = normalise_lobby_code(requested)
        if code is None:
            raise ProtocolError(
                E.INVALID_MESSAGE,
                "lobby_id must be 6 characters of 0-9 and A-Z without I, L, O, U",
            )
        return code

    def _close_lobby(self, conn: Connection, action: p.CloseLobby, ref: str | None) -> None:
        lobby = self._require_host(conn)
        self._close(lobby, "closed_by_host", ref=ref, closer=conn)

    def _set_lobby_open(self, conn: Connection, action: p.SetLobbyOpen, ref: str | None) -> None:
        lobby = self._require_host(conn)
        lobby.open = action.open
        self.backend.save_lobby(lobby)
        self._send(conn.connection_id, "lobby_info", self._lobby_info(lobby), ref)

    def _get_lobby_info(self, conn: Connection, action: p.GetLobbyInfo, ref: str | None) -> None:
        if conn.role is Role.IDLE:
            raise ProtocolError(E.NOT_IN_LOBBY, "join or start a lobby first")
        if conn.role is Role.PENDING:
            raise ProtocolError(E.NOT_ACCEPTED, "wait until the host accepts you")
        self._send(conn.connection_id, "lobby_info", self._lobby_info(self._lobby(conn)), ref)

    def _get_ice_servers(self, conn: Connection, action: p.GetIceServers, ref: str | None) -> None:
        self._send(
            conn.connection_id, "ice_servers", {"ice_servers": self._ice_servers_for(conn)}, ref
        )

    def _ping(self, conn: Connection, action: p.Ping, ref: str | None) -> None:
        self._out.append((conn.connection_id, p.encode_pong(action.t, ref)))
