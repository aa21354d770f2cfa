"""Property tests of the lobby registry: random, mutated and well-formed frames from many clients.

A hypothesis state machine plays 2-6 connections from 1-3 addresses against one
``LobbyRegistry``: every action of protocol v1 with real connection ids, lobby
codes and resume tokens, mutated frames, disconnects, resumes and clock jumps
past the grace and pending timeouts. After every step it checks the rules that
must hold whatever the clients do. Error codes and event names come from
protocol.md, not from the code under test.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from signalling_server.backend import MemoryBackend, TokenGrant
from signalling_server.clock import ManualClock
from signalling_server.config import Limits, Timeouts
from signalling_server.ids import CODE_ALPHABET, ConnectionId, LobbyId, normalise_lobby_code
from signalling_server.lobby import Lobby, Role
from signalling_server.protocol import encode_event
from signalling_server.registry import CloseConnection, Effect, LobbyRegistry

from .properties_model import (
    ACTIONS,
    ADDRESSES,
    CANDIDATES,
    DESCRIPTIONS,
    ERROR_CODES,
    EVENTS,
    FIELDS,
    FRAME_LIMIT,
    IDLE_ONLY,
    JSON_VALUES,
    LIMITS,
    MAX_LENGTH,
    MAX_LIVE,
    MUTATIONS,
    NAMES,
    NOT_JSON,
    NOT_STRINGS,
    PASSWORDS,
    REASONS,
    REFS,
    RELAYS,
    REPLY,
    TIMEOUTS,
    UNKNOWN_ACTIONS,
    WRONG_STATE,
    LobbyView,
    Sent,
    View,
    count,
    mutate_token,
    printable,
    role_allows,
    valid_text,
    variant,
    wrong_values,
)


class RegistryMachine(RuleBasedStateMachine):
    """Clients doing anything at all to one registry, with its invariants checked after each step."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.timeouts = Timeouts()
        self.limits = Limits()
        self.registry = LobbyRegistry(clock=self.clock, backend=MemoryBackend(copies=True))
        self.live: dict[ConnectionId, str] = {}  # in connect order, for reproducible draws
        self.seen: list[ConnectionId] = []
        self.codes: list[LobbyId] = []
        self.tokens: dict[str, str] = {}  # token -> "host" or "guest"
        self.passwords: dict[LobbyId, str] = {}
        self.shut_down = False
        #: When each address's join and resume attempts were counted, for the per-minute budget.
        self.join_times: dict[str, list[float]] = {}

    # Plumbing ---------------------------------------------------------------------------

    def _connect(self, address: str) -> ConnectionId:
        cid = self.registry.connect(address)
        assert cid not in self.seen, "connection ids are never reused"
        self.live[cid] = address
        self.seen.append(cid)
        return cid

    def _view(self) -> View:
        roles = {}
        for cid in self.live:
            conn = self.registry.connection(cid)
            assert conn is not None
            roles[cid] = (conn.role, conn.lobby_id)
        lobbies = {
            lobby.lobby_id: LobbyView(
                lobby.host.connection_id,
                lobby.host.last_connection_id,
                lobby.host_address,
                tuple(lobby.guests),
                tuple(lobby.away),
                tuple(lobby.pending),
                lobby.open,
                lobby.max_guests,
            )
            for lobby in self.registry.backend.lobbies()
        }
        return View(roles, lobbies)

    def _snapshot(self) -> Any:
        """Everything an action may change, to prove an error changed nothing."""
        lobbies = [
            (
                lobby.lobby_id,
                lobby.name,
                lobby.open,
                lobby.max_guests,
                lobby.next_peer_id,
                lobby.host.connection_id,
                lobby.host.last_connection_id,
                lobby.host.away_deadline,
                [(c, m.peer_id, m.name, m.connection_id) for c, m in lobby.guests.items()],
                [(c, m.peer_id, m.away_deadline) for c, m in lobby.away.items()],
                [(c, r.name, r.deadline) for c, r in lobby.pending.items()],
            )
            for lobby in self.registry.backend.lobbies()
        ]
        return lobbies, self._view().roles

    def _absorb(self, effects: list[Effect]) -> tuple[list[Sent], list[CloseConnection]]:
        """Decode effects, check every event's shape, and learn codes and tokens from them."""
        sent: list[Sent] = []
        closes: list[CloseConnection] = []
        for effect in effects:
            if isinstance(effect, CloseConnection):
                assert effect.connection_id in self.live, f"close of a gone connection: {effect}"
                closes.append(effect)
                continue
            target, frame = effect.target, encode_event(effect.event, effect.ref)
            assert target in self.live, f"delivery to a connection that is gone: {frame!r}"
            message = json.loads(frame)
            assert isinstance(message, dict), frame
            assert {"event", "content"} <= message.keys() <= {"event", "content", "ref"}, frame
            event, content = message["event"], message["content"]
            assert event in EVENTS, frame
            assert isinstance(content, dict), frame
            assert isinstance(message.get("ref", ""), str), frame
            if event == "error":
                assert content["code"] in ERROR_CODES, frame
                assert isinstance(content["message"], str) and content["message"].strip(), frame
                assert "action" in content and isinstance(content["action"], str | None), frame
            elif event == "lobby_started":
                self.tokens[content["host_token"]] = "host"
                self.codes.append(content["lobby_id"])
            elif event == "request_accepted":
                self.tokens[content["guest_token"]] = "guest"
            sent.append(Sent(target, event, content, message.get("ref")))
        return sent, closes

    def _lobby(self, cid: ConnectionId) -> Lobby | None:
        conn = self.registry.connection(cid)
        if conn is None or conn.lobby_id is None:
            return None
        return self.registry.backend.get_lobby(conn.lobby_id)

    def _role(self, cid: ConnectionId) -> Role:
        conn = self.registry.connection(cid)
        assert conn is not None
        return conn.role

    # Drawing well-formed content ------------------------------------------------------------

    def _sender(self, data: st.DataObject, action: str) -> ConnectionId:
        """Any live connection, most often one whose role allows ``action``."""
        wanted = {r for r in Role if role_allows(action, r)}
        if action in RELAYS:
            wanted = {Role.HOST, Role.GUEST}
        live = list(self.live)
        preferred = [cid for cid in live if self._role(cid) in wanted]
        if not preferred:
            return data.draw(st.sampled_from(live), label="sender")
        pick = st.sampled_from(preferred)
        return data.draw(st.one_of(pick, pick, st.sampled_from(live)), label="sender")

    def _target(self, data: st.DataObject, sender: ConnectionId) -> str:
        """A connection id: most often one that matters to the sender, else any, or junk."""
        relevant: list[str] = []
        lobby = self._lobby(sender)
        if lobby is not None:
            if self._role(sender) is Role.HOST:
                relevant = [*lobby.guests, *lobby.pending, *lobby.away]
            else:
                relevant = [lobby.host.connection_id or lobby.host.last_connection_id]
        options = [st.sampled_from(self.seen), st.just("*"), st.text(min_size=1, max_size=64)]
        if relevant:
            options = [st.sampled_from(relevant)] * 3 + options
        return data.draw(st.one_of(options), label="target")

    def _code(self, data: st.DataObject) -> str:
        """A lobby code: a live one (maybe typed sloppily), a dead one, a fresh one, or junk."""
        existing = [lobby.lobby_id for lobby in self.registry.backend.lobbies()]
        options = [
            st.text(alphabet=CODE_ALPHABET, min_size=6, max_size=6),
            st.sampled_from(["", "ABC", "UUUUUU", "ABCDEFG", "I0L-O1"]),
            st.text(max_size=64),
        ]
        if self.codes:
            options.append(st.sampled_from(self.codes))
        if existing:
            hows = st.sampled_from(["same", "lower", "dashed", "spaced", "lookalike"])
            sloppy = st.builds(variant, st.sampled_from(existing), hows)
            options = [sloppy, sloppy, sloppy, *options]
        return data.draw(st.one_of(options), label="lobby code")

    def _token(self, data: st.DataObject) -> str:
        """A resume token: a real one most often, else a near miss or junk."""
        options = [st.text(min_size=1, max_size=80), st.sampled_from(["x", ".", "a.", ".b", "a.b"])]
        if self.tokens:
            known = st.sampled_from(list(self.tokens))
            hows = st.sampled_from(["flip", "cut", "swap", "no_secret", "secret_only"])
            options = [known, known, known, st.builds(mutate_token, known, known, hows), *options]
        return data.draw(st.one_of(options), label="token")

    def _value(self, data: st.DataObject, kind: str, sender: ConnectionId) -> Any:
        if kind == "target":
            return self._target(data, sender)
        if kind == "code":
            return self._code(data)
        if kind == "token":
            return self._token(data)
        strategies: dict[str, st.SearchStrategy[Any]] = {
            "name": NAMES,
            "max_guests": st.integers(1, 64) | st.sampled_from([1, 2]),
            "password": PASSWORDS,
            "bool": st.booleans(),
            "reason": REASONS,
            "sdp": DESCRIPTIONS,
            "ice": CANDIDATES,
            "json": JSON_VALUES,
        }
        return data.draw(strategies[kind], label=kind)

    def _content(self, data: st.DataObject, action: str, sender: ConnectionId) -> dict[str, Any]:
        content = {}
        for name, (kind, required) in FIELDS.get(action, {}).items():
            if required or data.draw(st.booleans(), label=f"include {name}"):
                content[name] = self._value(data, kind, sender)
        return content

    def _act(
        self,
        data: st.DataObject,
        sender: ConnectionId,
        action: str,
        content: dict[str, Any],
    ) -> list[Sent]:
        """Send a well-formed action and check its outcome against the rules."""
        message: dict[str, Any] = {"action": action}
        send_empty = data.draw(st.booleans(), label="send empty content")
        if content or send_empty:
            message["content"] = content
        ref = data.draw(REFS, label="ref")
        if ref is not None:
            message["ref"] = ref
        frame = json.dumps(message, ensure_ascii=data.draw(st.booleans(), label="ascii"))
        return self._handle(sender, frame, action=action, content=content, ref=ref)

    # Checking one frame ---------------------------------------------------------------------

    def _handle(
        self,
        sender: ConnectionId,
        frame: str | bytes,
        *,
        action: str | None = None,
        content: dict[str, Any] | None = None,
        ref: str | None = None,
        expect: str | None = None,
    ) -> list[Sent]:
        before, snapshot = self._view(), self._snapshot()
        effects = self.registry.handle(sender, frame)
        sent, closes = self._absorb(effects)
        after = self._view()
        errors = [s for s in sent if s.event == "error"]
        # Shown by --hypothesis-show-statistics: how deep the runs go.
        event(f"{action or 'mutated'}: {errors[0].content['code'] if errors else 'ok'}")
        if errors:
            assert len(effects) == 1 and errors[0].target == sender, f"error plus more: {effects}"
            assert self._snapshot() == snapshot, f"{errors[0]} yet the state changed"
        if expect is not None:
            assert errors, f"{frame!r} was accepted: {sent}"
            assert errors[0].content["code"] == expect, f"{frame!r}: {errors[0]}"
        if ref is not None and errors and errors[0].content["code"] != "message_too_large":
            assert errors[0].ref == ref and errors[0].content.get("ref") == ref, errors[0]
        self._check_reach(sender, before, after, sent, closes)
        self._check_relays(sender, before, sent)
        if action is not None:
            assert content is not None and isinstance(frame, str)
            self._check_action(sender, action, content, ref, frame, before, sent, closes)
        return sent

    def _check_reach(
        self,
        sender: ConnectionId,
        before: View,
        after: View,
        sent: list[Sent],
        closes: list[CloseConnection],
    ) -> None:
        """Nothing reaches a connection outside the lobby the sender was in or entered."""
        allowed = {sender}
        for lobby_id in (before.roles[sender][1], after.roles[sender][1]):
            for view in (before, after):
                lobby = view.lobbies.get(lobby_id) if lobby_id is not None else None
                if lobby is not None:
                    allowed |= lobby.people
        for s in sent:
            assert s.target in allowed, f"{s} left the sender's lobby"
            assert s.target == sender or s.ref is None, f"someone else's ref leaked: {s}"
        for close in closes:
            assert close.connection_id in allowed and close.connection_id != sender, close

    def _check_relays(self, sender: ConnectionId, before: View, sent: list[Sent]) -> None:
        """Relayed events name their real sender and go between a host and its accepted guest."""
        for s in sent:
            if s.event.startswith("received_"):
                assert s.content["connection_id"] == sender, f"spoofed sender: {s}"
                role, _ = before.roles[sender]
                lobby = before.lobby_of(sender)
                assert lobby is not None, s
                if role is Role.HOST:
                    assert s.target in lobby.guests, f"relay to a non-guest: {s}"
                else:
                    assert role is Role.GUEST and s.target == lobby.host, f"bad relay: {s}"

    def _check_action(
        self,
        sender: ConnectionId,
        action: str,
        content: dict[str, Any],
        ref: str | None,
        frame: str,
        before: View,
        sent: list[Sent],
        closes: list[CloseConnection],
    ) -> None:
        """A well-formed action fails exactly when a rule of protocol.md forbids it, with that code."""
        error = next((s.content["code"] for s in sent if s.event == "error"), None)
        if len(frame.encode()) > FRAME_LIMIT:
            assert error == "message_too_large", sent
            return
        role = before.roles[sender][0]
        if role is Role.IDLE and action in ("join_lobby", "resume"):
            self._check_join_budget(sender, error)
        if error == "rate_limited" and action in ("join_lobby", "resume"):
            return
        possible = self._forbidding(sender, action, content, before)
        assert (error is None) == (not possible), f"{action} by a {role}, {possible}: {sent}"
        assert error is None or error in possible, f"{action} by a {role}, {possible}: {sent}"
        if error is None:
            self._check_success(sender, action, content, ref, before, sent, closes)

    def _check_join_budget(self, sender: ConnectionId, error: str | None) -> None:
        """Join and resume attempts are refused exactly when the address's minute is spent."""
        address, now = self.live[sender], self.clock.monotonic()
        recent = [t for t in self.join_times.get(address, []) if t > now - 60.0]
        spent = len(recent) >= self.limits.joins_per_address_per_minute
        assert (error == "rate_limited") == spent, f"{len(recent)} recent attempts: {error}"
        self.join_times[address] = recent if spent else [*recent, now]

    def _forbidding(
        self, sender: ConnectionId, action: str, content: dict[str, Any], before: View
    ) -> set[str]:
        """The error codes of every rule that forbids this action now (empty: it must work)."""
        role = before.roles[sender][0]
        if not role_allows(action, role):
            return (
                {"already_in_lobby"} if action in IDLE_ONLY else WRONG_STATE - {"already_in_lobby"}
            )
        lobby = before.lobby_of(sender)
        target = content.get("connection_id")
        codes: set[str] = set()
        if any(not valid_text(content.get(key), 32) for key in ("name", "display_name")):
            codes.add("invalid_message")
        if not valid_text(content.get("reason"), 200):
            codes.add("invalid_message")
        if action == "start_lobby":
            address = self.live[sender]
            hosted = sum(1 for lob in before.lobbies.values() if lob.address == address)
            if hosted >= self.limits.lobbies_per_address:
                codes.add("rate_limited")
            if content.get("lobby_id") is not None:
                code = normalise_lobby_code(content["lobby_id"])
                codes |= {"invalid_message"} if code is None else set()
                codes |= {"lobby_exists"} if code in before.lobbies else set()
        elif action == "join_lobby":
            codes |= self._join_refusals(content, before)
        elif action == "resume":
            token_id = content["token"].partition(".")[0]
            live = self.registry.backend.get_token(token_id) is not None
            if content["token"] not in self.tokens or not live:
                codes.add("invalid_token")
        elif action in ("accept_request", "reject_join_request"):
            assert lobby is not None
            if target not in lobby.pending:
                in_lobby = target in lobby.people or target in lobby.away
                codes |= (
                    {"unknown_connection", "not_accepted"} if in_lobby else {"unknown_connection"}
                )
            elif action == "accept_request" and lobby.seats >= lobby.max_guests:
                codes.add("lobby_full")
        elif action == "kick_guest":
            assert lobby is not None
            if target in lobby.pending:
                codes |= {"not_accepted", "unknown_connection"}
            elif target not in lobby.guests + lobby.away:
                codes.add("unknown_connection")
        elif action in RELAYS:
            codes |= self._relay_refusals(sender, action, target, before)
        return codes

    def _join_refusals(self, content: dict[str, Any], before: View) -> set[str]:
        code = normalise_lobby_code(content["lobby_id"])
        lobby = before.lobbies.get(code) if code is not None else None
        if lobby is None or code is None:
            return {"lobby_not_found"}
        codes = set()
        if lobby.host is None:
            codes.add("host_unavailable")
        if not lobby.open:
            codes.add("lobby_locked")
        password = self.passwords[code]
        if password and content.get("password") != password:
            codes.add("wrong_password")
        if lobby.seats >= lobby.max_guests or len(lobby.pending) >= self.limits.pending_per_lobby:
            codes.add("lobby_full")
        return codes

    def _relay_refusals(
        self, sender: ConnectionId, action: str, target: Any, before: View
    ) -> set[str]:
        """Relays go only between a host and the guests it accepted, in one lobby."""
        role = before.roles[sender][0]
        lobby = before.lobby_of(sender)
        if role is Role.IDLE:
            return {"not_in_lobby"}
        if role is Role.PENDING:
            return {"not_accepted"}
        assert lobby is not None
        if role is Role.HOST:
            if target in lobby.guests or (target == "*" and action == "send_message"):
                return set()
            return {"not_accepted"} if target in lobby.pending else {"unknown_connection"}
        assert role is Role.GUEST
        if lobby.host is not None and target == lobby.host:
            return set()
        if target == lobby.host_last:
            return {"host_unavailable", "unknown_connection"}
        return {"not_host", "unknown_connection"} if target == "*" else {"unknown_connection"}

    def _check_success(
        self,
        sender: ConnectionId,
        action: str,
        content: dict[str, Any],
        ref: str | None,
        before: View,
        sent: list[Sent],
        closes: list[CloseConnection],
    ) -> None:
        """The effects of an action that worked: its reply, its ref, and who now stands where."""
        reply = REPLY[action]
        mine = [s for s in sent if s.target == sender]
        if reply is None:
            assert not mine, f"a relay answered its sender: {mine}"
        else:
            assert count(sent, sender, reply) == 1, f"{action}: expected one {reply}: {sent}"
            with_ref = [s for s in sent if s.ref is not None]
            if ref is None:
                assert not with_ref, sent
            else:
                assert len(with_ref) == 1 and with_ref[0].event == reply, sent
                assert with_ref[0].ref == ref
        assert not closes or action == "resume", closes
        conn = self.registry.connection(sender)
        assert conn is not None
        lobby = before.lobby_of(sender)
        target: Any = content.get("connection_id")
        if action in RELAYS:
            assert lobby is not None
            event_name, payload_key = RELAYS[action]
            expected = list(lobby.guests) if target == "*" else [target]
            assert sorted(s.target for s in sent) == sorted(expected), sent
            for s in sent:
                assert s.event == event_name and s.content[payload_key] == content[payload_key]
            event("relay to everyone" if target == "*" else f"relay from {conn.role.value}")
        elif action == "start_lobby":
            started = next(s.content for s in mine if s.event == "lobby_started")
            assert conn.role is Role.HOST and conn.lobby_id == started["lobby_id"]
            assert started["connection_id"] == sender and started["peer_id"] == 1
            if "lobby_id" in content:
                assert started["lobby_id"] == normalise_lobby_code(content["lobby_id"])
            self.passwords[started["lobby_id"]] = content.get("password") or ""
        elif action == "join_lobby":
            joined = self._lobby(sender)
            assert conn.role is Role.PENDING and joined is not None
            host = joined.host.connection_id
            assert host is not None and count(sent, host, "request_to_join") == 1, sent
        elif action in ("cancel_join", "leave_lobby"):
            assert lobby is not None and conn.role is Role.IDLE and conn.lobby_id is None
            told = [(s.event, s.content) for s in sent if s.target == lobby.host]
            if action == "cancel_join":
                assert told == [("request_cancelled", {"connection_id": sender})], sent
            elif lobby.host is not None:
                left = {"connection_id": sender, "reason": "left"}
                assert told == [("guest_left", left)], sent
        elif action == "accept_request":
            guest = self.registry.connection(target)
            new_lobby = self._lobby(sender)
            assert guest is not None and new_lobby is not None
            assert guest.role is Role.GUEST and guest.lobby_id == conn.lobby_id
            accepted = next(s.content for s in sent if s.event == "request_accepted")
            assert accepted["connection_id"] == target and accepted["host_connection_id"] == sender
            assert accepted["peer_id"] == new_lobby.guests[target].peer_id
        elif action == "reject_join_request":
            joiner = self.registry.connection(target)
            assert joiner is not None and joiner.role is Role.IDLE
            rejected = [s.content for s in sent if s.target == target]
            assert [r["reason"] for r in rejected] == ["rejected_by_host"], sent
            words = content.get("message", content.get("reason"))
            message_told = None if words is None else printable(words)
            assert [r.get("message") for r in rejected] == [message_told], sent
        elif action == "kick_guest":
            assert lobby is not None
            to_host = [s.content for s in sent if s.target == sender]
            assert to_host == [{"connection_id": target, "reason": "kicked"}], sent
            if target in lobby.guests:
                kicked = self.registry.connection(target)
                assert kicked is not None and kicked.role is Role.IDLE
                notices = [(s.event, s.content["lobby_id"]) for s in sent if s.target == target]
                assert notices == [("kicked", before.roles[sender][1])], sent
        elif action == "close_lobby":
            assert lobby is not None and conn.role is Role.IDLE
            assert conn.lobby_id not in {lob.lobby_id for lob in self.registry.backend.lobbies()}
            closed = {"lobby_id": before.roles[sender][1], "reason": "closed_by_host"}
            for person in lobby.people:
                told = [(s.event, s.content) for s in sent if s.target == person]
                assert told == [("lobby_closed", closed)], f"{person} not told: {sent}"
        elif action == "set_lobby_open":
            current = self._lobby(sender)
            assert current is not None and current.open is content["open"]
        elif action == "ping":
            pong = next(s.content for s in mine if s.event == "pong")
            assert pong["t"] == content.get("t"), pong
        elif action == "resume":
            self._check_resumed(sender, content["token"], sent, closes)

    def _check_resumed(
        self, sender: ConnectionId, token: str, sent: list[Sent], closes: list[CloseConnection]
    ) -> None:
        """Only a real token resumes, into its own role; a live holder is closed and made idle."""
        assert token in self.tokens, f"a made-up token resumed a place: {token!r}"
        resumed = next(s.content for s in sent if s.event == "resumed")
        conn = self.registry.connection(sender)
        lobby = self._lobby(sender)
        assert conn is not None and lobby is not None
        assert resumed["role"] == self.tokens[token] == conn.role.value, (resumed, conn)
        assert resumed["lobby_id"] == conn.lobby_id and resumed["connection_id"] == sender
        member = lobby.host if conn.role is Role.HOST else lobby.guests[sender]
        assert resumed["peer_id"] == member.peer_id
        event(f"resumed as {conn.role.value}" + (", taking over a live socket" if closes else ""))
        assert len(closes) <= 1
        for close in closes:
            stale = self.registry.connection(close.connection_id)
            assert stale is not None and stale.role is Role.IDLE, stale
        if conn.role is Role.HOST:
            for guest in lobby.guests:
                assert count(sent, guest, "host_resumed") == 1, sent
        elif lobby.host.connection_id is not None:
            assert count(sent, lobby.host.connection_id, "guest_resumed") == 1, sent

    # Rules ------------------------------------------------------------------------------------

    @initialize(
        limits=LIMITS,
        timeouts=TIMEOUTS,
        addresses=st.lists(st.sampled_from(ADDRESSES), min_size=2, max_size=3),
        warm=st.booleans(),
        data=st.data(),
    )
    def start(
        self,
        limits: Limits,
        timeouts: Timeouts,
        addresses: list[str],
        warm: bool,
        data: st.DataObject,
    ) -> None:
        """A fresh registry and a few connections; half the time, a lobby with a guest in it."""
        self.limits, self.timeouts = limits, timeouts
        self.registry = LobbyRegistry(
            limits=limits,
            timeouts=timeouts,
            clock=self.clock,
            # Copies, as a networked store hands out: a change that is not committed is lost.
            backend=MemoryBackend(copies=True),
        )
        host, guest, *_ = [self._connect(address) for address in addresses]
        if warm:
            self._act(data, host, "start_lobby", {"password": "pw"})
            code = self.codes[-1]
            self._act(data, guest, "join_lobby", {"lobby_id": code, "password": "pw"})
            self._act(data, host, "accept_request", {"connection_id": guest})
            assert self._role(guest) is Role.GUEST

    @precondition(lambda self: len(self.live) < MAX_LIVE)
    @rule(address=st.sampled_from(ADDRESSES))
    def connect(self, address: str) -> None:
        self._connect(address)

    @precondition(lambda self: bool(self.live))
    @rule(data=st.data())
    def any_action(self, data: st.DataObject) -> None:
        action = data.draw(st.sampled_from(ACTIONS), label="action")
        sender = self._sender(data, action)
        self._act(data, sender, action, self._content(data, action, sender))

    @precondition(
        lambda self: (
            any(self._role(c) is Role.IDLE for c in self.live)
            and any(lob.host.connection_id for lob in self.registry.backend.lobbies())
        )
    )
    @rule(data=st.data())
    def join_a_lobby(self, data: st.DataObject) -> None:
        sender = data.draw(st.sampled_from([c for c in self.live if self._role(c) is Role.IDLE]))
        code = data.draw(st.sampled_from([lob.lobby_id for lob in self.registry.backend.lobbies()]))
        content: dict[str, Any] = {"lobby_id": code, "name": data.draw(NAMES, label="name")}
        if self.passwords.get(code):
            content["password"] = self.passwords[code]
        self._act(data, sender, "join_lobby", content)

    @precondition(lambda self: any(lob.pending for lob in self.registry.backend.lobbies()))
    @rule(data=st.data(), how=st.sampled_from(["accept", "accept", "reject", "cancel"]))
    def decide_a_request(self, data: st.DataObject, how: str) -> None:
        lobby = data.draw(
            st.sampled_from([lob for lob in self.registry.backend.lobbies() if lob.pending])
        )
        assert lobby.host.connection_id is not None, "pending joiners need a live host"
        joiner = data.draw(st.sampled_from(list(lobby.pending)))
        if how == "cancel":
            self._act(data, joiner, "cancel_join", {})
        else:
            action = "accept_request" if how == "accept" else "reject_join_request"
            self._act(data, lobby.host.connection_id, action, {"connection_id": joiner})

    @precondition(lambda self: any(lob.guests for lob in self.registry.backend.lobbies()))
    @rule(data=st.data(), action=st.sampled_from(list(RELAYS)), from_host=st.booleans())
    def relay_in_a_lobby(self, data: st.DataObject, action: str, from_host: bool) -> None:
        lobby = data.draw(
            st.sampled_from([lob for lob in self.registry.backend.lobbies() if lob.guests])
        )
        guest = data.draw(st.sampled_from(list(lobby.guests)))
        host = lobby.host.connection_id
        target: str
        if from_host and host is not None:
            sender, target = host, data.draw(st.sampled_from([guest, "*"]))
        else:
            sender, target = guest, host or lobby.host.last_connection_id
        content = self._content(data, action, sender) | {"connection_id": target}
        self._act(data, sender, action, content)

    @precondition(
        lambda self: any(lob.guests or lob.away for lob in self.registry.backend.lobbies())
    )
    @rule(data=st.data(), kick=st.booleans())
    def a_guest_goes(self, data: st.DataObject, kick: bool) -> None:
        lobbies = [lob for lob in self.registry.backend.lobbies() if lob.guests or lob.away]
        lobby = data.draw(st.sampled_from(lobbies))
        guest = data.draw(st.sampled_from([*lobby.guests, *lobby.away]))
        if kick and lobby.host.connection_id is not None:
            content: dict[str, Any] = {"connection_id": guest}
            if data.draw(st.booleans(), label="reason"):
                content["reason"] = data.draw(REASONS)
            self._act(data, lobby.host.connection_id, "kick_guest", content)
        elif guest in self.live:
            self._act(data, guest, "leave_lobby", {})

    @precondition(lambda self: bool(self.live))
    @rule(data=st.data())
    def mutated_frame(self, data: st.DataObject) -> None:
        kind = data.draw(st.sampled_from(sorted(MUTATIONS)), label="mutation")
        actions = ACTIONS
        if kind == "bad_field":
            actions = [a for a, f in FIELDS.items() if any(wrong_values(*v) for v in f.values())]
        elif kind == "missing_field":
            actions = [a for a, f in FIELDS.items() if any(r for _, r in f.values())]
        action = data.draw(st.sampled_from(actions), label="action")
        sender = self._sender(data, action)
        content = self._content(data, action, sender)
        message: dict[str, Any] = {"action": action, "content": content}
        ref = data.draw(REFS, label="ref")
        if ref is not None:
            message["ref"] = ref
        if kind == "extra_keys":
            extras = st.dictionaries(st.sampled_from(["x", "Action", "refs", "v"]), JSON_VALUES)
            message |= data.draw(extras, label="envelope extras")
            content |= data.draw(st.dictionaries(st.sampled_from(["x_", "Name"]), JSON_VALUES))
            self._handle(sender, json.dumps(message), action=action, content=content, ref=ref)
            return
        frame, expect = self._mutate(data, kind, message)
        content_level = kind in {"unknown_action", "bad_content", "bad_field", "missing_field"}
        self._handle(sender, frame, expect=expect, ref=ref if content_level else None)

    def _mutate(
        self, data: st.DataObject, kind: str, message: dict[str, Any]
    ) -> tuple[str | bytes, str]:
        """Break a valid frame in one way; returns the frame and the error code it must get."""
        text = json.dumps(message)
        content = message["content"]
        fields = FIELDS.get(message["action"], {})
        if kind == "binary":
            blobs = st.sampled_from([text.encode(), b"\xff\xfe{}", text.encode()[:-1] + b"\x80"])
            return data.draw(blobs | st.binary(max_size=64), label="bytes"), "invalid_message"
        if kind == "not_json":
            return data.draw(NOT_JSON, label="text"), "invalid_json"
        if kind == "non_object":
            value = JSON_VALUES.filter(lambda v: not isinstance(v, dict)) | st.just([message])
            return json.dumps(data.draw(value, label="value")), "invalid_json"
        if kind == "truncated":
            # Cut a valid frame, or one already broken in its envelope or shape: a prefix
            # of JSON text is never JSON, whatever the prefix already says.
            base = data.draw(st.sampled_from(["valid", "bad_envelope", "non_object"]), label="base")
            if base != "valid":
                text = str(self._mutate(data, base, message)[0])
            cut = data.draw(st.integers(0, max(0, len(text) - 1)), label="cut")
            return text[:cut], "invalid_json"
        if kind == "unknown_action":
            message["action"] = data.draw(UNKNOWN_ACTIONS, label="name")
            return json.dumps(message), "unknown_action"
        if kind == "bad_envelope":
            how = data.draw(st.sampled_from(["action", "no_action", "ref", "long_ref"]))
            if how == "action":
                message["action"] = data.draw(st.sampled_from([None, *NOT_STRINGS]))
            elif how == "no_action":
                del message["action"]
            elif how == "ref":
                message["ref"] = data.draw(st.sampled_from([5, 1.5, True, [], {}]))
            else:
                message["ref"] = "r" * 65
            return json.dumps(message), "invalid_message"
        if kind == "bad_content":
            message["content"] = data.draw(st.sampled_from([5, "x", [], True, 1.5, [{}]]))
            return json.dumps(message), "invalid_message"
        if kind == "bad_field":
            name = data.draw(st.sampled_from([n for n, v in fields.items() if wrong_values(*v)]))
            content[name] = data.draw(st.sampled_from(wrong_values(*fields[name])))
            return json.dumps(message), "invalid_message"
        if kind == "missing_field":
            del content[data.draw(st.sampled_from([n for n, (_, r) in fields.items() if r]))]
            return json.dumps(message), "invalid_message"
        if kind == "too_long":
            names = [n for n, (k, _) in fields.items() if k in MAX_LENGTH]
            name = data.draw(st.sampled_from([*names, "ref"]), label="field")
            if name == "ref":
                message["ref"] = "r" * 65
            else:
                kind_of = fields[name][0]
                empty_ok = kind_of not in ("target", "token")
                too_long = "x" * (MAX_LENGTH[kind_of] + 1)
                content[name] = data.draw(
                    st.sampled_from([too_long] if empty_ok else [too_long, ""])
                )
            return json.dumps(message), "invalid_message"
        assert kind == "too_large"
        message["x_padding"] = "x" * FRAME_LIMIT
        return json.dumps(message), "message_too_large"

    @precondition(lambda self: bool(self.live))
    @rule(data=st.data())
    def disconnect(self, data: st.DataObject) -> None:
        self._disconnect(data.draw(st.sampled_from(list(self.live)), label="who"))

    def _disconnect(self, cid: ConnectionId) -> None:
        """Drop a socket; check who is told, and that a second drop is a no-op."""
        before = self._view()
        effects = self.registry.disconnect(cid)
        del self.live[cid]
        sent, closes = self._absorb(effects)
        assert not closes and self.registry.disconnect(cid) == []
        role = before.roles[cid][0]
        lobby = before.lobby_of(cid)
        event(f"disconnect: {role.value}")
        for s in sent:
            assert lobby is not None and s.target in lobby.people - {cid}, s
            assert s.ref is None and not s.event.startswith("received_"), s
        if lobby is None or (role is not Role.HOST and lobby.host is None):
            assert not sent, sent  # idle, or the notice waits in the away host's backlog
        elif role is Role.HOST:
            away = {"lobby_id": before.roles[cid][1], "grace_s": self.timeouts.host_grace}
            for guest in lobby.guests:
                told = [(s.event, s.content) for s in sent if s.target == guest]
                assert told == [("host_disconnected", away)], sent
            for joiner in lobby.pending:
                rejected = [(s.event, s.content["reason"]) for s in sent if s.target == joiner]
                assert rejected == [("request_rejected", "host_left")], sent
        else:
            notice = "guest_left" if role is Role.GUEST else "request_cancelled"
            assert [(s.target, s.event) for s in sent] == [(lobby.host, notice)], sent

    @precondition(lambda self: bool(self.tokens) and len(self.live) < MAX_LIVE)
    @rule(data=st.data(), address=st.sampled_from(ADDRESSES), drop_holder=st.booleans())
    def reconnect_and_resume(self, data: st.DataObject, address: str, drop_holder: bool) -> None:
        token = self._token(data)
        holder = self._holder(token)
        if drop_holder and holder is not None:
            self._disconnect(holder)
        self._act(data, self._connect(address), "resume", {"token": token})

    def _holder(self, token: str) -> ConnectionId | None:
        """The live connection holding the place a token resumes, if any."""
        token_id = token.partition(".")[0]
        for lobby in self.registry.backend.lobbies():
            if lobby.host.token_id == token_id:
                return lobby.host.connection_id
            member = lobby.guest_by_token(token_id)
            if member is not None:
                return member.connection_id
        return None

    @rule(data=st.data())
    def time_passes(self, data: st.DataObject) -> None:
        t = self.timeouts
        marks = [0.5, 1.0, t.guest_grace, t.host_grace, t.pending_request_timeout, 60.0]
        near = st.sampled_from(marks).flatmap(lambda m: st.sampled_from([m - 0.001, m, m + 0.001]))
        seconds = data.draw(near | st.floats(0, 300), label="seconds")
        before = self._view()
        self.clock.advance(seconds)
        sent, closes = self._absorb(self.registry.expire())
        assert not closes
        everyone = set().union(*(lobby.people for lobby in before.lobbies.values()))
        for s in sent:
            assert s.target in everyone and s.ref is None, s
            assert s.event in {
                "lobby_closed",
                "request_rejected",
                "request_removed",
                "guest_left",
            }, s
            if s.event == "guest_left":  # a guest's grace ran out: its host hears it is lost
                assert s.content["reason"] == "lost", s
            event(f"timer: {s.event} {s.content.get('reason', '')}")
        for lobby_id, lobby in before.lobbies.items():
            if self.registry.backend.get_lobby(lobby_id) is None:
                for person in lobby.people:
                    notices = [s.content for s in sent if s.target == person]
                    assert notices == [{"lobby_id": lobby_id, "reason": "host_left"}], sent

    @precondition(lambda self: not self.shut_down and len(self.codes) >= 3)
    @rule()
    def server_shuts_down(self) -> None:
        self.shut_down = True
        before = self._view()
        sent, closes = self._absorb(self.registry.shutdown())
        assert sorted(c.connection_id for c in closes) == sorted(self.live)
        assert all(c.code == 1001 for c in closes)
        assert self.registry.backend.lobby_count() == 0
        for lobby_id, lobby in before.lobbies.items():
            for person in lobby.people:
                notices = [s.content for s in sent if s.target == person]
                assert notices == [{"lobby_id": lobby_id, "reason": "server_shutdown"}], sent
        for cid in list(self.live):  # the server then closes every socket
            self._disconnect(cid)

    # Invariants -------------------------------------------------------------------------------

    @invariant()
    def roles_agree_with_lobbies(self) -> None:
        """A connection is in at most one lobby, and its role and the lobby records agree."""
        assert self.registry.connection_count == len(self.live)
        for cid in self.seen:
            assert (self.registry.connection(cid) is not None) == (cid in self.live)
        placed: dict[ConnectionId, tuple[LobbyId, Role | None]] = {}

        def place(cid: ConnectionId, lobby_id: LobbyId, role: Role | None) -> None:
            assert cid not in placed, f"{cid} is in {placed[cid]} and in {lobby_id}"
            placed[cid] = (lobby_id, role)

        for lobby in self.registry.backend.lobbies():
            if lobby.host.connection_id is not None:
                place(lobby.host.connection_id, lobby.lobby_id, Role.HOST)
            for cid in lobby.guests:
                place(cid, lobby.lobby_id, Role.GUEST)
            for cid in lobby.pending:
                place(cid, lobby.lobby_id, Role.PENDING)
            for cid in lobby.away:
                place(cid, lobby.lobby_id, None)
                assert cid not in self.live, f"away guest {cid} is still connected"
        for cid in self.live:
            conn = self.registry.connection(cid)
            assert conn is not None
            where = placed.get(cid)
            if conn.role is Role.IDLE:
                assert conn.lobby_id is None and where is None, (conn, where)
            else:
                assert where == (conn.lobby_id, conn.role), (conn, where)

    @invariant()
    def lobby_records_are_sound(self) -> None:
        """Counts, peer ids, deadlines, tokens and per-address limits hold in every lobby."""
        backend, now = self.registry.backend, self.clock.monotonic()
        lobbies = list(backend.lobbies())
        assert backend.lobby_count() == len(lobbies) == len({lob.lobby_id for lob in lobbies})
        reachable = {c.lobby_id for cid in self.live if (c := self.registry.connection(cid))}
        reachable |= {lob.lobby_id for lob in lobbies if lob.host.connection_id is None}
        assert reachable - {None} == {lob.lobby_id for lob in lobbies}
        for lobby in lobbies:
            host = lobby.host
            assert normalise_lobby_code(lobby.lobby_id) == lobby.lobby_id
            assert 1 <= lobby.max_guests <= 64 and host.peer_id == 1
            assert len(lobby.guests) + len(lobby.away) <= lobby.max_guests
            assert len(lobby.pending) <= self.limits.pending_per_lobby
            if host.connection_id is None:
                assert host.away_deadline is not None and host.away_deadline > now
                assert not lobby.pending, "pending joiners wait on a host that is gone"
            else:
                assert host.connection_id == host.last_connection_id and not lobby.host_backlog
            peers = [m.peer_id for m in (*lobby.guests.values(), *lobby.away.values())]
            assert len(set(peers)) == len(peers) and all(2 <= p < lobby.next_peer_id for p in peers)
            for cid, member in lobby.guests.items():
                assert member.connection_id == member.last_connection_id == cid
            for cid, member in lobby.away.items():
                assert member.connection_id is None and member.last_connection_id == cid
                assert member.away_deadline is not None and member.away_deadline > now
            for cid, request in lobby.pending.items():
                assert request.connection_id == cid and request.deadline > now
            grants = [(host, Role.HOST)] + [(m, Role.GUEST) for m in lobby.guests.values()]
            grants += [(m, Role.GUEST) for m in lobby.away.values()]
            for member, role in grants:
                assert backend.get_token(member.token_id) == TokenGrant(lobby.lobby_id, role)
        for address in ADDRESSES:
            hosted = sum(1 for lob in lobbies if lob.host_address == address)
            assert hosted <= self.limits.lobbies_per_address
        deadline = self.registry.next_deadline()
        assert deadline is None or deadline > now

    @invariant()
    def only_live_places_have_tokens(self) -> None:
        """A captured token stays valid only while the place it was issued for exists."""
        for token, role in self.tokens.items():
            token_id, _, secret = token.partition(".")
            grant = self.registry.backend.get_token(token_id)
            if grant is None:
                continue
            lobby = self.registry.backend.get_lobby(grant.lobby_id)
            assert lobby is not None, f"token for a closed lobby: {grant}"
            member = lobby.host if role == "host" else lobby.guest_by_token(token_id)
            assert member is not None and member.token_id == token_id, (role, grant)
            assert member.token_secret == secret and grant.role.value == role


def test_random_clients_never_break_the_registry() -> None:
    """Well-formed, mutated and timed actions from 2-6 clients keep every registry invariant."""
    run_state_machine_as_test(
        RegistryMachine,
        settings=settings(max_examples=200, stateful_step_count=50, deadline=None),
    )
