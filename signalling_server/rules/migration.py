"""Rules for host migration and game-state snapshots.

A lobby started with ``migratable`` outlives its host: on ``hand_over``, or
when the host's grace runs out, a connected guest becomes the host (the one
the host named, else the earliest accepted: the lowest peer id). The promoted
member gets ``promoted`` (a host token, the roster, the pending requests and
the latest snapshot) and every member gets ``host_migrated``. Peer ids, the
code, the password, the lock and ``max_guests`` stay as they were.

When nobody is connected as the host's grace runs out, the lobby is
*orphaned*: kept for ``timeouts.migration_retention``, and the first member to
``resume`` (the old host or a guest) becomes the host, snapshot in hand.

Snapshots are the host's alone: ``save_snapshot`` keeps the last
``limits.snapshots_kept``; ``load_snapshot`` reads one back. The lobby record
lists them (:class:`~signalling_server.lobby.SnapshotMeta`); their data lives in
backend records, so every backend keeps them with no code of its own and the
record read for each relay stays small.
"""

from __future__ import annotations

from typing import Final

import msgspec

from ..address_keys import budget_key
from ..backend import TokenGrant
from ..ids import ConnectionId, new_token
from ..lobby import SNAPSHOT_RECORD, Connection, Lobby, Role, SnapshotMeta, snapshot_key
from ..protocol import actions as a
from ..protocol import events as ev
from ..protocol.codes import CloseReason, ErrorCode, MigrationReason, RejectReason
from ..protocol.errors import ProtocolError
from .base import TimerKind, logger
from .reconnect import ReconnectRules

E = ErrorCode
_NO_DATA: Final = msgspec.Raw(b"null")


class MigrationRules(ReconnectRules):
    """hand_over, save_snapshot, load_snapshot; promotion when a migratable lobby's host is gone."""

    # Actions ----------------------------------------------------------------------------

    def _hand_over(self, conn: Connection, action: a.HandOver, ref: str | None) -> None:
        lobby = self._require_host(conn)
        if not lobby.migratable:
            raise ProtocolError(E.NOT_MIGRATABLE, "this lobby was not started as migratable")
        if action.connection_id is None:
            successor = self._successor(lobby)
            if successor is None:
                raise ProtocolError(E.NO_SUCCESSOR, "no connected guest can take over")
        else:
            successor = ConnectionId(action.connection_id)
            if successor not in lobby.guests:
                if successor in lobby.pending:
                    raise ProtocolError(E.NOT_ACCEPTED, "accept that joiner before handing over")
                raise ProtocolError(E.UNKNOWN_CONNECTION, "no such connected guest in this lobby")
        migrated = self._promote(lobby, successor, MigrationReason.HANDED_OVER)
        # The old host is idle now; this is the direct answer to its hand_over.
        self._send(conn.connection_id, migrated, ref)

    def _move_lobby(self, conn: Connection, action: a.MoveLobby, ref: str | None) -> None:
        lobby = self._require_host(conn)
        for target in action.seats:
            if target not in lobby.guests:
                if target in lobby.pending:
                    raise ProtocolError(E.NOT_ACCEPTED, "only accepted guests can move along")
                raise ProtocolError(E.UNKNOWN_CONNECTION, "no such connected guest in this lobby")
        for target, token in action.seats.items():
            member = lobby.guests.pop(ConnectionId(target))
            self._tx.drop_token(member.token_id)
            self._send(ConnectionId(target), ev.LobbyMoved(lobby.lobby_id, action.url, token))
        # Everyone not moving along (and the host, as its answer) hears the lobby is gone here.
        self._close(lobby, CloseReason.MOVED, ref=ref, closer=conn)

    def _save_snapshot(self, conn: Connection, action: a.SaveSnapshot, ref: str | None) -> None:
        lobby = self._require_host(conn)
        data = bytes(action.data)
        limit = self.limits.max_snapshot_bytes
        if len(data) > limit:
            raise ProtocolError(
                E.SNAPSHOT_TOO_LARGE, f"snapshots are limited to {limit} bytes, not {len(data)}"
            )
        latest = lobby.snapshots[-1].seq if lobby.snapshots else 0
        if action.seq <= latest:
            raise ProtocolError(
                E.STALE_SNAPSHOT, f"seq must be above {latest}, the latest snapshot's"
            )
        meta = SnapshotMeta(action.seq, len(data), round(self.clock.wall(), 3))
        lobby.snapshots.append(meta)
        self._tx.put_record(SNAPSHOT_RECORD, snapshot_key(lobby.lobby_id, meta.seq), data)
        while len(lobby.snapshots) > self.limits.snapshots_kept:
            forgotten = lobby.snapshots.pop(0)
            self._tx.remove_record(SNAPSHOT_RECORD, snapshot_key(lobby.lobby_id, forgotten.seq))
        self._send(conn.connection_id, ev.SnapshotSaved(meta.seq, meta.saved_at, meta.size), ref)

    def _load_snapshot(self, conn: Connection, action: a.LoadSnapshot, ref: str | None) -> None:
        lobby = self._require_host(conn)
        if action.seq is None:
            self._send(conn.connection_id, ev.Snapshot(self._latest_snapshot(lobby)), ref)
            return
        for meta in lobby.snapshots:
            if meta.seq == action.seq:
                self._send(conn.connection_id, ev.Snapshot(self._snapshot_info(lobby, meta)), ref)
                return
        kept = ", ".join(str(meta.seq) for meta in lobby.snapshots) or "none"
        raise ProtocolError(
            E.SNAPSHOT_NOT_FOUND, f"snapshot {action.seq} is not kept (kept: {kept})"
        )

    # Overrides of the reconnection rules --------------------------------------------------

    def _host_went_away(self, lobby: Lobby) -> None:
        if not lobby.migratable:
            super()._host_went_away(lobby)
            return
        # As for any lobby, but join requests wait: whoever hosts next decides them.
        host = lobby.host
        host.connection_id = None
        host.away_deadline = self.clock.monotonic() + self.timeouts.host_grace
        self._schedule(host.away_deadline, TimerKind.HOST_GRACE, lobby.lobby_id, "")
        if self._policy(lobby).host_away_notices:
            notice = self._host_away_notice(lobby)
            for guest in lobby.guests:
                self._send(guest, notice)

    def _host_grace_over(self, lobby: Lobby, deadline: float) -> None:
        host = lobby.host
        if not lobby.migratable or lobby.orphaned:
            super()._host_grace_over(lobby, deadline)  # an orphan's retention ran out: closed
            return
        if host.connection_id is not None or host.away_deadline != deadline:
            return
        successor = self._successor(lobby)
        if successor is not None:
            self._promote(lobby, successor, MigrationReason.HOST_LEFT)
            return
        # Nobody is connected: keep the lobby for the first member to come back.
        lobby.orphaned = True
        host.away_deadline = self.clock.monotonic() + self.timeouts.migration_retention
        self._schedule(host.away_deadline, TimerKind.HOST_GRACE, lobby.lobby_id, "")
        for joiner in list(lobby.pending):
            self._drop_request(lobby, joiner, RejectReason.HOST_LEFT)

    def _guest_grace_over(self, lobby: Lobby, old: ConnectionId, deadline: float) -> None:
        member = lobby.away.get(old)
        host_deadline = lobby.host.away_deadline
        if (
            lobby.migratable
            and member is not None
            and member.away_deadline == deadline
            and lobby.host.connection_id is None
            and host_deadline is not None
        ):
            # While the host is away, a guest may be the next host: its place is
            # kept until the host's fate is known (promotion restarts its grace).
            member.away_deadline = max(deadline, host_deadline)
            self._schedule(member.away_deadline, TimerKind.GUEST_GRACE, lobby.lobby_id, old)
            return
        super()._guest_grace_over(lobby, old, deadline)

    def _resume(self, conn: Connection, action: a.Resume, ref: str | None) -> None:
        super()._resume(conn, action, ref)
        role, lobby = self._place(conn)
        if lobby is None or not lobby.orphaned:
            return
        if role is Role.HOST:
            # The old host is back first: it stays the host, with a fresh token and the
            # snapshot, promoted as any member would be.
            lobby.guests[conn.connection_id] = lobby.host
        self._promote(lobby, conn.connection_id, MigrationReason.RESUMED)

    # Promotion ----------------------------------------------------------------------------

    def _successor(self, lobby: Lobby) -> ConnectionId | None:
        """The earliest-accepted connected guest (the lowest peer id), or ``None``."""
        if not lobby.guests:
            return None
        return min(lobby.guests, key=lambda cid: lobby.guests[cid].peer_id)

    def _promote(
        self, lobby: Lobby, successor: ConnectionId, reason: MigrationReason
    ) -> ev.HostMigrated:
        """Make a connected guest the host; tell it everything and everyone who hosts now.

        Returns the ``host_migrated`` notice, for a caller that owes it to someone else.
        """
        old = lobby.host
        member = lobby.guests.pop(successor)
        if old is not member:
            self._tx.drop_token(old.token_id)
        self._tx.drop_token(member.token_id)
        token, token_id, secret = new_token()
        member.token_id, member.token_secret = token_id, secret
        member.away_deadline = None
        self._tx.put_token(token_id, TokenGrant(lobby.lobby_id, Role.HOST))
        lobby.host = member
        lobby.orphaned = False
        # What happened while nobody hosted is in the roster below.
        lobby.host_backlog.clear()
        self._move_lobby_count(lobby, member.address, successor)
        now = self.clock.monotonic()
        for away_id, away in lobby.away.items():
            away.away_deadline = now + self.timeouts.guest_grace
            self._schedule(away.away_deadline, TimerKind.GUEST_GRACE, lobby.lobby_id, away_id)
        for request in lobby.pending.values():
            # A request that waited through the host's grace gets its full time again.
            request.deadline = now + self.timeouts.pending_request_timeout
            self._schedule(
                request.deadline, TimerKind.PENDING_REQUEST, lobby.lobby_id, request.connection_id
            )
        self._send(
            successor,
            ev.Promoted(
                lobby_id=lobby.lobby_id,
                name=lobby.name,
                connection_id=successor,
                host_token=token,
                peer_id=member.peer_id,
                open=lobby.open,
                max_guests=lobby.max_guests,
                guests=[
                    ev.MemberInfo(cid, guest.name, guest.peer_id)
                    for cid, guest in lobby.guests.items()
                ],
                away=[
                    ev.MemberInfo(cid, guest.name, guest.peer_id)
                    for cid, guest in lobby.away.items()
                ],
                pending=[
                    ev.PendingInfo(request.connection_id, request.name)
                    for request in lobby.pending.values()
                ],
                ice_servers=self._ice_servers_for(successor),
                reason=reason,
                snapshot=self._latest_snapshot(lobby),
            ),
        )
        migrated = ev.HostMigrated(lobby.lobby_id, successor, member.peer_id, member.name, reason)
        for connection_id in (successor, *lobby.guests):
            self._send(connection_id, migrated)
        return migrated

    def _move_lobby_count(self, lobby: Lobby, address: str, successor: ConnectionId) -> None:
        """The lobby counts against its new host's address now (on the process holding it)."""
        previous = lobby.host_address
        shared = self.shared_budgets
        if shared is not None:
            # A cluster counts it for the whole cluster, wherever its host's socket is
            # (moving the id between the addresses' sets is the same when applied again).
            shared.lobby_moved(budget_key(previous), budget_key(address), lobby.lobby_id)
        lobby.host_address = address

        def moved() -> None:
            held_here = lobby.lobby_id in self._hosted
            self._hosted.discard(lobby.lobby_id)
            if successor in self._connections:
                self._hosted.add(lobby.lobby_id)
            if shared is not None:
                return
            before = self._addresses.get(budget_key(previous))
            if held_here and before is not None and before.open_lobbies > 0:
                before.open_lobbies -= 1
                self._maybe_forget_address(before)
            if successor in self._connections:
                self._address(address).open_lobbies += 1

        self._tx.after_commit(moved)

    def _latest_snapshot(self, lobby: Lobby) -> ev.SnapshotInfo | None:
        return self._snapshot_info(lobby, lobby.snapshots[-1]) if lobby.snapshots else None

    def _snapshot_info(self, lobby: Lobby, meta: SnapshotMeta) -> ev.SnapshotInfo:
        data = self._tx.record(SNAPSHOT_RECORD, snapshot_key(lobby.lobby_id, meta.seq))
        # A record lost by the store reads as null data rather than a crash; logged.
        if data is None:
            logger.error("lobby %s: snapshot %d has no data", lobby.lobby_id, meta.seq)
        raw = _NO_DATA if data is None else msgspec.Raw(data)
        return ev.SnapshotInfo(meta.seq, meta.saved_at, meta.size, raw)
