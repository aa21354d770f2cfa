"""Rules for a lobby's life: start, lock, close, and the queries anyone may make."""

from __future__ import annotations

import functools

from ..backend import TokenGrant
from ..ids import ConnectionId, LobbyId, new_lobby_code, new_token, normalise_lobby_code
from ..lobby import Connection, Lobby, Member, PasswordHash, Role
from ..protocol import actions as a
from ..protocol import events as ev
from ..protocol.codes import CloseReason, ErrorCode
from ..protocol.errors import ProtocolError
from .base import RegistryBase, TimerKind, clean_name

E = ErrorCode


class LobbyRules(RegistryBase):
    """start_lobby, close_lobby, set_lobby_open, get_lobby_info, get_ice_servers, ping."""

    def _start_lobby(self, conn: Connection, action: a.StartLobby, ref: str | None) -> None:
        self._require_idle(conn)
        if not self.lobby_budget_left(conn.address):
            raise self._too_many_lobbies()
        display_name = clean_name(action.display_name, "Host")
        requested = self._requested_code(action.lobby_id)
        host_peer_id = action.peer_id or 1
        max_guests = action.max_guests or self.limits.default_max_guests
        seats = self._checked_seats(action.seats or [], host_peer_id, max_guests)
        password = None
        if action.password:
            password = PasswordHash.of(action.password, self.limits.password_hash_iterations)
        token, token_id, secret = new_token()
        host = Member(
            name=display_name,
            peer_id=host_peer_id,
            token_id=token_id,
            token_secret=secret,
            connection_id=conn.connection_id,
            last_connection_id=conn.connection_id,
        )

        def make(code: LobbyId) -> Lobby:
            return Lobby(
                lobby_id=code,
                name=clean_name(action.name, f"Lobby {code}"),
                host=host,
                host_address=conn.address,
                max_guests=max_guests,
                password=password,
                policy=conn.policy,
                migratable=action.migratable,
            )

        if requested is not None:
            lobby = make(requested)
            if not self._tx.claim(lobby):
                raise ProtocolError(E.LOBBY_EXISTS, f"lobby code {requested} is taken")
        else:
            while not self._tx.claim(lobby := make(new_lobby_code())):
                pass
        if not self.count_claimed_lobby(lobby):
            raise self._too_many_lobbies()
        self._tx.put_token(token_id, TokenGrant(lobby.lobby_id, Role.HOST))
        kept = [self._keep_seat(lobby, name, peer_id) for name, peer_id in seats] or None
        self._tx.after_commit(functools.partial(self.lobby_opened, conn.address, lobby.lobby_id))
        conn.lobby_id = lobby.lobby_id
        started = ev.LobbyStarted(
            lobby_id=lobby.lobby_id,
            connection_id=conn.connection_id,
            host_token=token,
            peer_id=host_peer_id,
            ice_servers=self._ice_servers_for(conn.connection_id),
            seats=kept,
        )
        self._send(conn.connection_id, started, ref)

    def _too_many_lobbies(self) -> ProtocolError:
        limit = self.limits.lobbies_per_address
        return ProtocolError(E.RATE_LIMITED, f"at most {limit} open lobbies per address")

    @staticmethod
    def _checked_seats(
        seats: list[a.SeatRequest], host_peer_id: int, max_guests: int
    ) -> list[tuple[str, int]]:
        """The places a moving lobby asks to keep, as (clean name, peer id); checked first."""
        if len(seats) > max_guests:
            raise ProtocolError(E.INVALID_MESSAGE, f"at most {max_guests} seats (max_guests)")
        peer_ids = [seat.peer_id for seat in seats]
        if len(set(peer_ids)) != len(peer_ids) or host_peer_id in peer_ids:
            raise ProtocolError(E.INVALID_MESSAGE, "every seat and the host need their own peer id")
        return [(clean_name(seat.name, "Guest"), seat.peer_id) for seat in seats]

    def _keep_seat(self, lobby: Lobby, name: str, peer_id: int) -> ev.SeatInfo:
        """A place for a guest moving in: away until it resumes with the token, for its grace."""
        token, token_id, secret = new_token()
        placeholder = ConnectionId(f"seat.{peer_id}")  # never a real id: those have no dot
        deadline = self.clock.monotonic() + self.timeouts.guest_grace
        lobby.away[placeholder] = Member(
            name=name,
            peer_id=peer_id,
            token_id=token_id,
            token_secret=secret,
            connection_id=None,
            last_connection_id=placeholder,
            away_deadline=deadline,
        )
        lobby.next_peer_id = max(lobby.next_peer_id, peer_id + 1, lobby.host.peer_id + 1)
        self._tx.put_token(token_id, TokenGrant(lobby.lobby_id, Role.GUEST))
        self._schedule(deadline, TimerKind.GUEST_GRACE, lobby.lobby_id, placeholder)
        return ev.SeatInfo(peer_id, token)

    @staticmethod
    def _requested_code(requested: str | None) -> LobbyId | None:
        if requested is None:
            return None
        code = normalise_lobby_code(requested)
        if code is None:
            raise ProtocolError(
                E.INVALID_MESSAGE,
                "lobby_id must be 6 characters of 0-9 and A-Z without I, L, O, U",
            )
        return code

    def _close_lobby(self, conn: Connection, action: a.CloseLobby, ref: str | None) -> None:
        lobby = self._require_host(conn)
        self._close(lobby, CloseReason.CLOSED_BY_HOST, ref=ref, closer=conn)

    def _set_lobby_open(self, conn: Connection, action: a.SetLobbyOpen, ref: str | None) -> None:
        lobby = self._require_host(conn)
        lobby.open = action.open
        self._send(conn.connection_id, self._lobby_info(lobby), ref)

    def _get_lobby_info(self, conn: Connection, action: a.GetLobbyInfo, ref: str | None) -> None:
        _, lobby = self._require_member(conn)
        self._send(conn.connection_id, self._lobby_info(lobby), ref)

    def _get_ice_servers(self, conn: Connection, action: a.GetIceServers, ref: str | None) -> None:
        # TURN credentials cost the operator relay bandwidth: members only.
        self._require_member(conn)
        servers = self._ice_servers_for(conn.connection_id)
        self._send(conn.connection_id, ev.IceServers(servers), ref)

    def _ping(self, conn: Connection, action: a.Ping, ref: str | None) -> None:
        self._send(conn.connection_id, ev.Pong(action.t), ref)
