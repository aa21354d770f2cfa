"""One TCP connection: an HTTP request read with h11, then a reply or a websocket.

The connection starts in HTTP mode. h11 parses the request (with its body,
``Content-Length`` only, at most ``limits.max_body_bytes``); a GET that asks
for a websocket on a websocket path is handed to websockets' sans-I/O protocol
and the connection stays a :class:`WebsocketSession` from then on. Any other
request is answered by the router, and the connection closes after the reply
(every reply says ``Connection: close``).
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable
from http import HTTPStatus
from typing import TYPE_CHECKING, cast

import h11

from ..codecs import Codec
from ..config import ServerConfig
from ..http_routes import HttpReply, HttpRequest, error_reply, method_not_allowed_reply
from .handshake import accept_websocket
from .http_wire import InvalidReply, encode_reply
from .proxy_protocol import ProxyHeaderError, parse_proxy_header
from .websocket import WebsocketSession

if TYPE_CHECKING:
    from .listener import Listener

logger = logging.getLogger(__name__)


class _Phase(enum.Enum):
    PROXY_HEADER = "proxy_header"  # a trusted proxy's PROXY protocol header is coming in
    READING = "reading"  # the request is still coming in
    ANSWERING = "answering"  # a handler is working on the reply
    DRAINING = "draining"  # answered early (411, 413 ...): the rest is read and dropped
    DONE = "done"  # answered, closing; or switched to the websocket


class Connection(asyncio.Protocol):
    """The asyncio protocol of one accepted TCP connection."""

    # Slots: thousands of these stay alive as idle websockets.
    __slots__ = (
        "_address",
        "_body",
        "_config",
        "_http",
        "_listener",
        "_peer",
        "_phase",
        "_proxy_header",
        "_reply_task",
        "_request",
        "_timer",
        "_transport",
        "session",
    )

    def __init__(self, listener: Listener) -> None:
        self._listener = listener
        self._config: ServerConfig = listener.config
        self._transport: asyncio.Transport | None = None
        #: The TCP peer's address, and the client's (which a trusted proxy may name).
        self._peer = self._address = ""
        #: The HTTP parser, dropped once the connection is a websocket.
        self._http: h11.Connection | None = h11.Connection(h11.SERVER)
        self._phase = _Phase.READING
        self._request: h11.Request | None = None
        self._body = bytearray()
        #: The PROXY protocol header read so far, while in that phase.
        self._proxy_header = bytearray()
        self._timer: asyncio.TimerHandle | None = None
        self._reply_task: asyncio.Task[None] | None = None
        #: The websocket this connection became, if it did.
        self.session: WebsocketSession | None = None

    # asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self._peer = self._address = str(peer[0]) if peer else ""
        self._timer = asyncio.get_running_loop().call_later(
            self._config.timeouts.request_timeout, self._timed_out
        )
        listener = self._listener
        refusal = listener.connection_made(self, self._peer)
        if refusal is not None:
            # Answered before the request comes: the client reads it as the answer to it.
            self._refuse_with(refusal)
        elif self._config.proxy_protocol and listener.client_addresses.is_trusted(self._peer):
            self._phase = _Phase.PROXY_HEADER

    def data_received(self, data: bytes) -> None:
        session = self.session
        if session is not None:
            session.data_received(data)
        elif self._phase is _Phase.READING and self._http is not None:
            self._http.receive_data(data)
            self._read_request()
        elif self._phase is _Phase.PROXY_HEADER:
            self._read_proxy_header(data)
        # else: answering or closing; whatever else the client sends is dropped

    def eof_received(self) -> bool | None:
        if self.session is not None:
            self.session.eof_received()
            return None
        if self._phase is _Phase.READING and self._http is not None:
            self._http.receive_data(b"")
            self._read_request()
        # Keep the socket open for a reply still being made; else let asyncio close it.
        return True if self._phase is _Phase.ANSWERING else None

    def connection_lost(self, exc: Exception | None) -> None:
        self._phase = _Phase.DONE
        self._cancel_timer()
        if self._reply_task is not None:
            self._reply_task.cancel()
        if self.session is not None:
            self.session.connection_lost()
        self._listener.connection_lost(self)

    # Used by the listener ----------------------------------------------------------------

    def close_idle(self) -> None:
        """Server shutdown: an HTTP exchange still under way is cut short."""
        if self.session is None and self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    # HTTP --------------------------------------------------------------------------------

    def _read_request(self) -> None:
        http = self._http
        assert http is not None
        while self._phase is _Phase.READING:
            try:
                event = http.next_event()
            except h11.RemoteProtocolError as exc:
                self._refuse(HTTPStatus(exc.error_status_hint), "bad request")
                return
            if event is h11.NEED_DATA:
                return
            if isinstance(event, h11.Request):
                self._start(event)
            elif isinstance(event, h11.Data):
                self._body += event.data
            elif isinstance(event, h11.EndOfMessage):
                self._dispatch()
            else:  # ConnectionClosed before a whole request: nothing to answer
                self._close()

    def _read_proxy_header(self, data: bytes) -> None:
        """Take the client's address from a trusted proxy's PROXY header, then read HTTP."""
        buffer = self._proxy_header
        buffer += data
        try:
            header = parse_proxy_header(bytes(buffer))
        except ProxyHeaderError as exc:
            self._refuse(HTTPStatus.BAD_REQUEST, str(exc))
            return
        if header is None:
            return
        rest = bytes(buffer[header.length :])
        self._proxy_header = bytearray()
        self._phase = _Phase.READING
        if header.source is not None:  # else the proxy's own connection (LOCAL, UNKNOWN)
            self._peer = self._address = header.source
        listener = self._listener
        if not listener.client_addresses.is_trusted(self._peer):
            refusal = listener.admit(self, self._peer)
            if refusal is not None:
                self._refuse_with(refusal)
                return
        if rest:
            self.data_received(rest)

    def _start(self, request: h11.Request) -> None:
        """Refuse a body that is chunked or too large before any of it is read; else invite it."""
        self._request = request
        length: int | None = None
        for name, value in request.headers:
            if name == b"transfer-encoding":
                self._refuse(HTTPStatus.LENGTH_REQUIRED, "send the body with a Content-Length")
                return
            if name == b"content-length":
                length = int(value)  # h11 has checked it is a number
        limit = self._config.limits.max_body_bytes
        if length is not None and length > limit:
            self._refuse(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"bodies are limited to {limit} bytes"
            )
        elif self._http is not None and self._http.they_are_waiting_for_100_continue:
            # curl, for one, holds a body over 1 KiB back for a second unless told to go on.
            assert self._transport is not None
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _dispatch(self) -> None:
        self._cancel_timer()
        self._phase = _Phase.DONE
        request = self._request
        assert request is not None
        method = request.method.decode("ascii")
        path, _, query = request.target.decode("latin-1").partition("?")
        listener = self._listener
        if listener.client_addresses.is_trusted(self._peer):
            self._address = listener.client_addresses.resolve(self._peer, request.headers)
            refusal = listener.admit(self, self._address)
            if refusal is not None:
                self._answer(refusal)
                return
        http_request = HttpRequest(
            method=method,
            path=path,
            query=query,
            headers=tuple(
                (name.decode("latin-1"), value.decode("latin-1")) for name, value in request.headers
            ),
            body=bytes(self._body),
            client=self._address,
        )
        opener = listener.websocket_routes.lookup(path)
        if opener is not None and not _asks_upgrade(request) and listener.router.methods(path):
            # A path both kinds of route cover (Camus: the room page under the
            # prefix of its /ws): only a websocket handshake goes to the opener.
            opener = None
        if opener is not None:
            if method != "GET":
                self._answer(method_not_allowed_reply(("GET",)))
                return
            try:
                opened = opener(http_request)
            except Exception:
                logger.exception("the websocket opener of %s failed", path)
                opened = error_reply(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error")
            if isinstance(opened, HttpReply):
                self._answer(opened)
            else:
                self._upgrade(request, opened)
            return
        logger.debug("%s %s from %s", method, path, self._address)
        try:
            reply = listener.router.dispatch(http_request)
        except Exception:
            logger.exception("the handler of %s %s failed", method, path)
            reply = error_reply(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error")
        if isinstance(reply, HttpReply):
            self._answer(reply)
        else:
            self._phase = _Phase.ANSWERING
            self._reply_task = asyncio.get_running_loop().create_task(
                self._answer_later(reply, f"{method} {path}")
            )

    async def _answer_later(self, pending: Awaitable[HttpReply], what: str) -> None:
        try:
            reply = await pending
        except Exception:
            logger.exception("the handler of %s failed", what)
            reply = error_reply(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error")
        self._reply_task = None
        if self._phase is _Phase.ANSWERING:
            self._phase = _Phase.DONE
            self._answer(reply)

    def _answer(self, reply: HttpReply) -> None:
        """Write ``reply`` and close the connection once it is sent."""
        self._write_reply(reply)
        self._close()

    def _refuse(self, status: HTTPStatus, text: str) -> None:
        """Answer ``status`` before the request was read whole (see :meth:`_refuse_with`)."""
        self._refuse_with(error_reply(status, text))

    def _refuse_with(self, reply: HttpReply) -> None:
        """Answer before the request was read whole, then read and drop the rest.

        Closing at once would reset the connection while the client is still
        sending, and a reset can destroy the answer before the client reads it:
        so the answer is followed by an end of stream, and the socket closes when
        the client closes its side (or ``close_timeout`` later).
        """
        self._cancel_timer()
        self._phase = _Phase.DRAINING
        logger.debug("refusing a request from %s: %s", self._address, reply.status.value)
        self._write_reply(reply)
        transport = self._transport
        assert transport is not None
        if transport.can_write_eof():
            transport.write_eof()
            self._timer = asyncio.get_running_loop().call_later(
                self._config.timeouts.close_timeout, transport.abort
            )
        else:
            transport.close()

    def _write_reply(self, reply: HttpReply) -> None:
        server_header = self._listener.server_header
        try:
            data = encode_reply(reply, server_header)
        except InvalidReply:
            logger.exception("cannot send the reply to %s", self._address)
            error = error_reply(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error")
            data = encode_reply(error, server_header)
        assert self._transport is not None
        self._transport.write(data)

    # Websocket ---------------------------------------------------------------------------

    def _upgrade(self, request: h11.Request, codec: Codec) -> None:
        listener = self._listener
        transport = self._transport
        assert transport is not None
        handshake = accept_websocket(
            request,
            max_size=self._config.limits.hard_frame_bytes,
            server_header=listener.server_header,
        )
        transport.write(handshake.response.serialize())
        if handshake.protocol is None:
            logger.debug(
                "websocket handshake from %s refused: %d",
                self._address,
                handshake.response.status_code,
            )
            self._close()
            return
        session = WebsocketSession(
            transport,
            handshake.protocol,
            listener.sink,
            self._config,
            coalescer=listener.write_coalescer,
        )
        self.session = session
        listener.session_opened(session, session.open(self._address, codec))
        # What the client sent right behind its handshake (its first frames) is
        # already in h11's buffer.
        assert self._http is not None
        trailing, closed = self._http.trailing_data
        self._http = self._request = None
        self._body = bytearray()
        if trailing:
            session.data_received(bytes(trailing))
        if closed:
            session.eof_received()

    # Inside ------------------------------------------------------------------------------

    def _close(self) -> None:
        self._phase = _Phase.DONE
        transport = self._transport
        if transport is not None:
            transport.close()
            if transport.get_write_buffer_size():
                # close() waits for the answer to be sent: a client that does not
                # read it must not hold the socket (and a shutdown) for ever.
                self._cancel_timer()
                self._timer = asyncio.get_running_loop().call_later(
                    self._config.timeouts.close_timeout, transport.abort
                )

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timed_out(self) -> None:
        self._timer = None
        if self.session is None and self._phase is _Phase.READING:
            logger.debug("closing %s: no whole request in time", self._address)
            self._close()


def _asks_upgrade(request: h11.Request) -> bool:
    """Whether ``request`` asks to become a websocket (``Upgrade: websocket``)."""
    return any(
        name == b"upgrade" and b"websocket" in value.lower() for name, value in request.headers
    )


__all__ = ["Connection"]
