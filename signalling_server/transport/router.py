"""HTTP routing: which handler answers a request, by method and path.

Pure (no I/O): the connection hands a parsed :class:`HttpRequest` to
:meth:`HttpRouter.dispatch` and writes back whatever reply comes out. Unknown
paths answer 404, known paths asked with another method 405 with ``Allow``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ..codecs import Codec
from ..http_routes import HttpReply, HttpRequest, method_not_allowed_reply, not_found_reply

#: A route's handler: a reply, or an awaitable of one for handlers that must wait.
Handler = Callable[[HttpRequest], HttpReply | Awaitable[HttpReply]]

#: The handlers of one path, by method.
_Methods = dict[str, Handler]


class HttpRouter:
    """HTTP routes by ``(method, path)``; a route may also cover every path under a prefix.

    ::

        router.add("POST", "/lambda", handle_lambda)
        router.add("GET", "/web/", serve_asset, prefix=True)

    An exact path wins over a prefix; the longest prefix wins among prefixes.
    """

    def __init__(self) -> None:
        self._exact: dict[str, _Methods] = {}
        self._prefixes: dict[str, _Methods] = {}

    def add(self, method: str, path: str, handler: Handler, *, prefix: bool = False) -> None:
        """Answer ``method path`` (or, with ``prefix``, every path starting so) with ``handler``."""
        if not path.startswith("/"):
            raise ValueError(f"a route's path starts with '/': {path!r}")
        table = self._prefixes if prefix else self._exact
        methods = table.setdefault(path, {})
        method = method.upper()
        if method in methods:
            raise ValueError(f"{method} {path} already has a handler")
        methods[method] = handler

    def methods(self, path: str) -> frozenset[str]:
        """The methods routed for ``path`` (empty when no route covers it)."""
        found = self._lookup(path)
        return frozenset() if found is None else frozenset(found)

    def dispatch(self, request: HttpRequest) -> HttpReply | Awaitable[HttpReply]:
        """The handler's answer to ``request``, or a 404 / 405 reply."""
        found = self._lookup(request.path)
        if found is None:
            return not_found_reply(request.path)
        handler = found.get(request.method)
        if handler is None:
            return method_not_allowed_reply(found)
        return handler(request)

    def _lookup(self, path: str) -> _Methods | None:
        found = self._exact.get(path)
        if found is not None:
            return found
        best: str | None = None
        for start in self._prefixes:
            if path.startswith(start) and (best is None or len(start) > len(best)):
                best = start
        return None if best is None else self._prefixes[best]


#: Opens a websocket on a path: the codec for the new connection, or a reply
#: refusing the upgrade (an unknown room's 404, a missing membership's 403).
WebsocketOpener = Callable[[HttpRequest], Codec | HttpReply]


class WebsocketRoutes:
    """Websocket paths (exact, or every path under a prefix) and the opener of each.

    ::

        routes.add("/", lambda request: NativeCodec())
        routes.add("/bellhop", open_bellhop, prefix=True)   # /bellhop and /bellhop/...

    An exact path wins over a prefix; the longest prefix wins among prefixes. A
    prefix ``/x`` covers ``/x`` itself and ``/x/...``, never ``/xy``.
    """

    def __init__(self) -> None:
        self._exact: dict[str, WebsocketOpener] = {}
        self._prefixes: dict[str, WebsocketOpener] = {}

    def add(self, path: str, opener: WebsocketOpener, *, prefix: bool = False) -> None:
        if not path.startswith("/"):
            raise ValueError(f"a websocket path starts with '/': {path!r}")
        table = self._prefixes if prefix else self._exact
        key = path.rstrip("/") if prefix else path
        if key in table:
            raise ValueError(f"websocket path {path} already has an opener")
        table[key] = opener

    def lookup(self, path: str) -> WebsocketOpener | None:
        """The opener for ``path``, or ``None`` when it is not a websocket path."""
        found = self._exact.get(path)
        if found is not None:
            return found
        best: str | None = None
        for start in self._prefixes:
            if (path == start or path.startswith(start + "/")) and (
                best is None or len(start) > len(best)
            ):
                best = start
        return None if best is None else self._prefixes[best]


__all__ = ["Handler", "HttpRouter", "WebsocketOpener", "WebsocketRoutes"]
