"""A protocol v1 client over a websocket that reconnects and resumes on its own.

One :class:`SignallingClient` holds one websocket to the signalling server and
is the :class:`~lobbyhost_app.net.signalling_api.Signalling` the sessions use.
Typed actions go out with :meth:`~SignallingClient.send` (fire and forget) or
:meth:`~SignallingClient.request` (waits for the reply, matched by ``ref``, or
raises the server's error). Every frame is decoded once, with protocol v1's
:func:`~signalling_server.protocol.decode_event`, and the typed event reaches
every listener, in order.

When the socket drops and the client holds a resume token (from
``lobby_started`` or ``request_accepted``), it reconnects with backoff and
sends ``resume``: listeners see :class:`ConnectionLost`,
:class:`ConnectionRestored`, then the server's ``resumed`` (or
:class:`ResumeFailed` when the place is gone). Whatever ends the connection
other than :meth:`~SignallingClient.close` -- the window running out, a
failure inside the reader -- ends in :class:`ConnectionClosed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, TypeVar
from urllib.parse import urlsplit

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed as WebsocketClosed
from websockets.exceptions import InvalidHandshake, InvalidURI

from signalling_server.frame_log import redacted_frame_logger
from signalling_server.protocol import (
    Action,
    Error,
    Kicked,
    LeftLobby,
    LobbyClosed,
    LobbyStarted,
    Promoted,
    RequestAccepted,
    RequestRejected,
    Resume,
    Resumed,
    ServerEvent,
    UnknownEvent,
    decode_event,
    encode_action,
)

from ..invite import is_loopback
from ..invite_address import address_scope_note
from .clock import SYSTEM_CLOCK, Clock
from .errors import NetError, ServerError, connect_problem, error_code
from .pacing import ActionPacer
from .signalling_api import (
    ConnectionClosed,
    ConnectionLost,
    ConnectionRestored,
    ErrorCallback,
    Listener,
    ResumeFailed,
    SignallingEvent,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")

_MAX_ERROR_CALLBACKS: Final = 1024
#: Frames from the server are small; anything near this is not protocol v1.
_MAX_FRAME_BYTES: Final = 2**20


class _LooseErrorContent(msgspec.Struct):
    code: str
    message: str = "the server refused the request"
    action: str | None = None
    ref: str | None = None


class _LooseError(msgspec.Struct):
    """An ``error`` frame read leniently: its code may be one this client does not know."""

    event: str
    content: _LooseErrorContent
    ref: str | None = None


_loose_error_decoder: Final = msgspec.json.Decoder(_LooseError)


@dataclass(frozen=True, slots=True)
class _Refusal:
    """An ``error`` frame, typed or read leniently, as the client acts on it."""

    error: ServerError
    ref: str | None
    event: Error | None  # None when the code is not an ErrorCode this client knows


class SignallingClient:
    """One protocol v1 session with a signalling server; see the module docstring."""

    def __init__(
        self,
        url: str,
        *,
        reconnect: bool = True,
        open_timeout: float = 10.0,
        reply_timeout: float = 10.0,
        backoff: tuple[float, float] = (0.25, 5.0),
        resume_window: float = 30.0,
        action_budget: tuple[float, int] = (45.0, 180),
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        """``action_budget`` (per second, burst) keeps under the server's per-connection
        limit (50/s, burst 200 by default): actions beyond it wait their turn, in
        order, instead of being refused as ``rate_limited``. Pacing, backoff and the
        resume window run on ``clock``."""
        self.url = url
        self._connection_id: str | None = None
        self._reconnect = reconnect
        self._open_timeout = open_timeout
        self._reply_timeout = reply_timeout
        self._backoff = backoff
        self._resume_window = resume_window
        self._clock = clock
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._listeners: list[Listener] = []
        self._waiting: dict[str, asyncio.Future[ServerEvent]] = {}
        self._refs = itertools.count(1)
        self._token: str | None = None
        self._closing = False
        #: Set while actions can go out, and once they never will again (``_gone``).
        self._ready = asyncio.Event()
        self._gone = False
        rate, burst = action_budget
        self._pacer = ActionPacer(rate, burst, clock=clock.monotonic)
        self._send_lock = asyncio.Lock()
        #: Error callbacks of recent fire-and-forget actions, by ref (bounded).
        self._on_error: OrderedDict[str, ErrorCallback] = OrderedDict()

    # Public API -------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._ready.is_set() and not self._gone

    @property
    def connection_id(self) -> str | None:
        return self._connection_id

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(event)`` for every event, in the order they arrive."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    async def connect(self) -> None:
        """Open the websocket; raises :class:`NetError` with a readable reason."""
        self._closing = False
        self._ws = await self._open()
        self._gone = False
        self._ready.set()
        self._reader = asyncio.create_task(self._read_forever(), name="signalling-reader")

    async def close(self) -> None:
        """Close the websocket for good (no reconnect, no :class:`ConnectionClosed`)."""
        self._closing = True
        self._end_for_good()
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        self._fail_waiting(NetError("the signalling connection was closed"))

    async def send(self, action: Action, *, on_error: ErrorCallback | None = None) -> None:
        """Send an action without waiting for a reply.

        Actions such as relays get no reply when they succeed; ``on_error`` is
        called if the server refuses this one.
        """
        ref = None
        if on_error is not None:
            ref = f"s{next(self._refs)}"
            self._on_error[ref] = on_error
            while len(self._on_error) > _MAX_ERROR_CALLBACKS:
                self._on_error.popitem(last=False)
        await self._send_frame(encode_action(action, ref))

    async def request(self, action: Action) -> ServerEvent:
        """Send an action and return the event that answers it.

        Raises :class:`ServerError` when the server answers with an error, and
        :class:`NetError` when no answer comes.
        """
        ref = f"r{next(self._refs)}"
        if isinstance(action, Resume):
            self._token = action.token  # a place taken on another server: resume it after drops
        future: asyncio.Future[ServerEvent] = asyncio.get_running_loop().create_future()
        self._waiting[ref] = future
        try:
            await self._send_frame(encode_action(action, ref))
            async with asyncio.timeout(self._reply_timeout):
                return await future
        except TimeoutError:
            raise NetError(f"the server did not answer {action.NAME} in time") from None
        finally:
            self._waiting.pop(ref, None)
            if future.done() and not future.cancelled():
                future.exception()  # retrieved: it may have failed while this one waited to send

    # Connection ----------------------------------------------------------------------

    async def _open(self) -> ClientConnection:
        try:
            return await connect(
                self.url,
                open_timeout=self._open_timeout,
                proxy=None,
                max_size=_MAX_FRAME_BYTES,
                logger=redacted_frame_logger(),  # frames carry tokens: never log them
            )
        except InvalidURI as exc:
            raise NetError(f"{self.url!r} is not a websocket address (ws://host:port/)") from exc
        except InvalidHandshake as exc:
            raise NetError(f"cannot reach the signalling server at {self.url}: {exc}") from exc
        except OSError as exc:  # TimeoutError included
            logger.info("cannot reach %s: %r", self.url, exc)
            problem = connect_problem(exc)
            host = urlsplit(self.url).hostname or ""
            # A shared link with a LAN address fails from anywhere else: say why.
            # (Loopback fails only when nothing listens here, which the problem says.)
            note = None if is_loopback(host) else address_scope_note(host)
            if note is not None and not isinstance(exc, socket.gaierror):
                problem = f"{problem}. {note[0].upper()}{note[1:]}"
            raise NetError(f"cannot reach the signalling server at {self.url}: {problem}") from exc

    async def _send_frame(self, frame: bytes) -> None:
        if self._gone:
            raise NetError("not connected to the signalling server")
        try:
            async with asyncio.timeout(self._resume_window):
                await self._ready.wait()
        except TimeoutError:
            raise NetError("not connected to the signalling server") from None
        if self._gone:
            raise NetError("not connected to the signalling server")
        async with self._send_lock:  # FIFO: paced actions keep their order
            delay = self._pacer.reserve()
            if delay > 0:
                await self._clock.sleep(delay)  # pacing to the server's budget
            ws = self._ws
            assert ws is not None
            try:
                await ws.send(frame, text=True)
            except WebsocketClosed as exc:
                raise NetError("the signalling connection dropped") from exc

    async def _read_forever(self) -> None:
        """Read until closed; any other way out ends in :class:`ConnectionClosed`."""
        reason = "the signalling connection was lost"
        try:
            while await self._read_until_dropped():
                pass
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("the signalling reader failed")
            reason = "the signalling client failed"
            if self._ws is not None:
                await self._ws.close()
        if self._closing:
            return
        self._end_for_good()
        self._fail_waiting(NetError(reason))
        self._emit(ConnectionClosed(reason))

    def _end_for_good(self) -> None:
        """No action will go out any more: wake those waiting to send, so they fail now."""
        self._gone = True
        self._ready.set()

    async def _read_until_dropped(self) -> bool:
        """Dispatch frames until the socket drops; ``True`` once it is open again."""
        ws = self._ws
        assert ws is not None
        with contextlib.suppress(WebsocketClosed):
            async for frame in ws:
                self._dispatch(frame)
        if self._closing:
            return False
        self._ready.clear()
        logger.info("signalling connection lost")
        self._emit(ConnectionLost())
        return self._reconnect and await self._reopen()

    async def _reopen(self) -> bool:
        """Reconnect with backoff and resume; ``False`` when the window runs out."""
        delay, cap = self._backoff
        give_up = self._clock.monotonic() + self._resume_window
        while not self._closing and self._clock.monotonic() < give_up:
            await self._clock.sleep(delay)  # backoff between attempts, not a wait for an event
            delay = min(cap, delay * 2)
            try:
                ws = await self._open()
            except NetError as exc:
                logger.info("reconnect failed: %s", exc)
                continue
            self._ws = ws
            if self._token is not None:
                try:
                    await ws.send(encode_action(Resume(token=self._token)), text=True)
                except WebsocketClosed:
                    logger.info("the new signalling connection dropped before resuming")
                    continue
            self._ready.set()
            self._emit(ConnectionRestored())
            return True
        return False

    # Events --------------------------------------------------------------------------

    def _dispatch(self, frame: str | bytes) -> None:
        try:
            received = decode_event(frame)
        except UnknownEvent as exc:
            refusal = _loose_refusal(frame)
            if refusal is None:
                logger.warning("ignoring a frame that is not a protocol v1 event: %s", exc)
            else:
                self._refused(refusal)
            return
        event = received.event
        assert isinstance(event, ServerEvent)  # decode_event decodes nothing else
        if isinstance(event, Error):
            self._refused(_Refusal(ServerError.from_event(event), received.ref, event))
            return
        self._remember(event)
        future = self._waiting.pop(received.ref, None) if received.ref is not None else None
        if future is not None and not future.done():
            future.set_result(event)
        self._emit(event)

    def _refused(self, refusal: _Refusal) -> None:
        error, ref = refusal.error, refusal.ref
        if ref is not None:
            callback = self._on_error.pop(ref, None)
            if callback is not None:
                self._call_safely(callback, error)
            future = self._waiting.pop(ref, None)
            if future is not None and not future.done():
                future.set_exception(error)
        if error.action == Resume.NAME:
            # The place is gone (grace over, lobby closed): stop presenting the token.
            self._token = None
            self._emit(ResumeFailed(error))
        elif refusal.event is not None:
            self._emit(refusal.event)
        else:
            logger.info("the server sent an error this client does not know: %s", error.code)

    def _remember(self, event: ServerEvent) -> None:
        """Track our own id and the token to resume with."""
        match event:
            case LobbyStarted(connection_id=connection_id, host_token=token):
                self._token, self._connection_id = token, connection_id
            case RequestAccepted(connection_id=connection_id, guest_token=token):
                self._token, self._connection_id = token, connection_id
            case Resumed(connection_id=connection_id):
                self._connection_id = connection_id
            case Promoted(host_token=token):
                self._token = token  # the guest token is void: this client hosts now
            case LobbyClosed() | Kicked() | LeftLobby() | RequestRejected():
                self._token = None
            case _:
                pass

    def _emit(self, event: SignallingEvent) -> None:
        for listener in list(self._listeners):
            self._call_safely(listener, event)

    @staticmethod
    def _call_safely(callback: Callable[[T], None], argument: T) -> None:
        """A listener's or callback's bug is logged; it never stops the reader."""
        try:
            callback(argument)
        except Exception:
            logger.exception("a signalling listener failed on %s", type(argument).__name__)

    def _fail_waiting(self, error: Exception) -> None:
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(error)
        self._waiting.clear()


def _loose_refusal(frame: str | bytes) -> _Refusal | None:
    """An ``error`` frame whose code is not one of ours (a newer server); ``None`` if not one."""
    try:
        loose = _loose_error_decoder.decode(frame)
    except msgspec.DecodeError:
        return None
    if loose.event != "error":
        return None
    content = loose.content
    error = ServerError(error_code(content.code), content.message, content.action)
    return _Refusal(error, loose.ref if loose.ref is not None else content.ref, None)
