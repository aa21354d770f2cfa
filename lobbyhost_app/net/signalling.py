"""A protocol v1 client that reconnects and resumes on its own.

One :class:`SignallingClient` holds one websocket to the signalling server.
Actions go out with :meth:`~SignallingClient.send` (fire and forget) or
:meth:`~SignallingClient.request` (waits for the reply, matched by ``ref``, or
raises the server's error). Every event the server sends reaches the listeners
added with :meth:`~SignallingClient.add_listener`, in order.

When the socket drops and the client holds a resume token (from
``lobby_started`` or ``request_accepted``), it reconnects with backoff and sends
``resume``; listeners then see the server's ``resumed`` (or ``resume_failed``
when the place is gone). Two local events are added to the server's:
``connection_lost`` and ``connection_restored``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from signalling_server.limits import TokenBucket

from .errors import NetError, ServerError

logger = logging.getLogger(__name__)

Listener = Callable[[str, dict[str, Any]], None]
_MAX_ERROR_CALLBACKS = 1024


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
    ) -> None:
        """``action_budget`` (per second, burst) keeps under the server's per-connection
        limit (50/s, burst 200 by default): actions beyond it wait their turn, in
        order, instead of being refused as ``rate_limited``."""
        self.url = url
        self.connection_id: str | None = None
        self._reconnect = reconnect
        self._open_timeout = open_timeout
        self._reply_timeout = reply_timeout
        self._backoff = backoff
        self._resume_window = resume_window
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._listeners: list[Listener] = []
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._refs = itertools.count(1)
        self._token: str | None = None
        self._closing = False
        self._ready = asyncio.Event()
        rate, burst = action_budget
        self._budget = TokenBucket(rate, burst, time.monotonic())
        self._send_lock = asyncio.Lock()
        #: Error callbacks of recent fire-and-forget actions, by ref (bounded).
        self._on_error: OrderedDict[str, Callable[[ServerError], None]] = OrderedDict()

    # Public API -------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._ready.is_set()

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(event, content)`` for every event, in the order they arrive."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    async def connect(self) -> None:
        """Open the websocket; raises :class:`NetError` with a readable reason."""
        self._closing = False
        self._ws = await self._open()
        self._ready.set()
        self._reader = asyncio.create_task(self._read_forever(), name="signalling-reader")

    async def close(self) -> None:
        """Close the websocket for good (no reconnect)."""
        self._closing = True
        self._ready.clear()
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        self._fail_waiting(NetError("the signalling connection was closed"))

    async def send(
        self,
        action: str,
        *,
        on_error: Callable[[ServerError], None] | None = None,
        **content: Any,
    ) -> None:
        """Send an action without waiting for a reply.

        Actions such as relays get no reply when they succeed; ``on_error`` is
        called if the server refuses this one.
        """
        frame: dict[str, Any] = {"action": action, "content": content}
        if on_error is not None:
            ref = f"s{next(self._refs)}"
            frame["ref"] = ref
            self._on_error[ref] = on_error
            while len(self._on_error) > _MAX_ERROR_CALLBACKS:
                self._on_error.popitem(last=False)
        await self._send_frame(frame)

    async def request(self, action: str, **content: Any) -> dict[str, Any]:
        """Send an action and return its reply's ``{"event", "content"}``.

        Raises :class:`ServerError` when the server answers with an error, and
        :class:`NetError` when no answer comes.
        """
        ref = f"r{next(self._refs)}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[ref] = future
        try:
            await self._send_frame({"action": action, "content": content, "ref": ref})
            async with asyncio.timeout(self._reply_timeout):
                return await future
        except TimeoutError:
            raise NetError(f"the server did not answer {action} in time") from None
        finally:
            self._waiting.pop(ref, None)

    # Internals -----------------------------------------------------------------------

    async def _open(self) -> ClientConnection:
        try:
            return await connect(
                self.url,
                open_timeout=self._open_timeout,
                proxy=None,
                max_size=2**20,
            )
        except InvalidURI as exc:
            raise NetError(f"{self.url!r} is not a websocket address (ws://host:port/)") from exc
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            raise NetError(f"cannot reach the signalling server at {self.url}: {exc}") from exc

    async def _send_frame(self, frame: dict[str, Any]) -> None:
        try:
            async with asyncio.timeout(self._resume_window):
                await self._ready.wait()
        except TimeoutError:
            raise NetError("not connected to the signalling server") from None
        async with self._send_lock:  # FIFO: paced actions keep their order
            delay = self._budget.wait_time(time.monotonic())
            if delay > 0:
                await asyncio.sleep(delay)  # pacing to the server's budget
            self._budget.take(time.monotonic())
            assert self._ws is not None
            try:
                await self._ws.send(json.dumps(frame, separators=(",", ":")))
            except ConnectionClosed as exc:
                raise NetError("the signalling connection dropped") from exc

    async def _read_forever(self) -> None:
        while True:
            assert self._ws is not None
            try:
                async for frame in self._ws:
                    self._dispatch(frame)
            except ConnectionClosed:
                pass
            self._ready.clear()
            if self._closing:
                return
            logger.info("signalling connection lost")
            self._emit("connection_lost", {})
            if not (self._reconnect and await self._reopen()):
                self._fail_waiting(NetError("the signalling connection was lost"))
                self._emit("connection_closed", {})
                return

    async def _reopen(self) -> bool:
        """Reconnect with backoff and resume; ``False`` when the window runs out."""
        delay, cap = self._backoff
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self._resume_window
        while not self._closing and loop.time() < give_up:
            await asyncio.sleep(delay)  # backoff between attempts, not a wait for an event
            delay = min(cap, delay * 2)
            try:
                self._ws = await self._open()
            except NetError as exc:
                logger.info("reconnect failed: %s", exc)
                continue
            if self._token is not None:
                await self._ws.send(
                    json.dumps({"action": "resume", "content": {"token": self._token}})
                )
            self._ready.set()
            self._emit("connection_restored", {})
            return True
        return False

    def _dispatch(self, frame: str | bytes) -> None:
        try:
            message = json.loads(frame)
            event = message["event"]
            content = message.get("content") or {}
        except (ValueError, KeyError, TypeError):
            logger.warning("ignoring a frame that is not a protocol v1 event")
            return
        self._remember(event, content)
        ref = message.get("ref")
        if event == "error" and isinstance(ref, str) and ref in self._on_error:
            self._on_error.pop(ref)(ServerError.from_content(content))
        if isinstance(ref, str) and ref in self._waiting:
            future = self._waiting.pop(ref)
            if not future.done():
                if event == "error":
                    future.set_exception(ServerError.from_content(content))
                else:
                    future.set_result({"event": event, "content": content})
        if event == "error" and content.get("action") == "resume":
            # The place is gone (grace over, lobby closed): stop presenting the token.
            self._token = None
            self._emit("resume_failed", content)
            return
        self._emit(event, content)

    def _remember(self, event: str, content: dict[str, Any]) -> None:
        """Track our own id and the token to resume with."""
        if event == "lobby_started":
            self._token = content.get("host_token")
            self.connection_id = content.get("connection_id")
        elif event == "request_accepted":
            self._token = content.get("guest_token")
            self.connection_id = content.get("connection_id")
        elif event == "resumed":
            self.connection_id = content.get("connection_id")
        elif event in ("lobby_closed", "kicked", "left_lobby", "request_rejected"):
            self._token = None

    def _emit(self, event: str, content: dict[str, Any]) -> None:
        for listener in list(self._listeners):
            try:
                listener(event, content)
            except Exception:
                logger.exception("a signalling listener failed on %s", event)

    def _fail_waiting(self, error: Exception) -> None:
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(error)
        self._waiting.clear()
