"""The Camus dialect's HTTP side: the create form, the room pages, the websocket's opener.

Each handler reads the request, applies the change to the rules as one unit
of work through the node (so ``room-info`` and timers it queues go out), and
turns the outcome into a reply. Every request spends one of its address's
requests to dialect routes.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import TYPE_CHECKING, Final
from urllib.parse import parse_qs

import msgspec

from ...http_routes import NOSNIFF, HttpReply, HttpRequest, error_reply
from . import pages
from .codec import CamusCodec
from .cookies import cookie_values, room_path, set_cookie
from .outcomes import GUEST_LIMITS, CreateRoom, Creation, Entry, SocketAdmission
from .rules import MAX_ROOM_NAME_LENGTH, CamusRules
from .slugs import is_slug
from .static_files import StaticFiles

if TYPE_CHECKING:
    from ...node import SignallingNode

ROOT: Final = "/camus/"
ROOM_PREFIX: Final = "/camus/room/"
STATIC_PREFIX: Final = "/camus/static/"
#: Bootstrap 4's stylesheet, linked from the room page when the operator provides it.
BOOTSTRAP: Final = "css/bootstrap.min.css"

#: Our own pages run no script and post only to this server.
_PAGE_CSP: Final = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
#: The Camus web client: its script and styles from here, cameras, its socket.
_CLIENT_CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; media-src 'self' blob: mediastream:; font-src 'self' data:; "
    "connect-src 'self' ws: wss:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_HTML: Final = "text/html; charset=utf-8"
_TEXT: Final = "text/plain; charset=utf-8"
_MAX_FORM_FIELDS: Final = 32


def _page(
    status: HTTPStatus, body: bytes, *headers: tuple[str, str], csp: str = _PAGE_CSP
) -> HttpReply:
    return HttpReply(
        status,
        _HTML,
        body,
        (("Content-Security-Policy", csp), NOSNIFF, ("Referrer-Policy", "no-referrer"), *headers),
    )


def _text(status: HTTPStatus, text: str) -> HttpReply:
    """A plain-text answer, word for word (Camus's clients and tests read these texts)."""
    return HttpReply(status, _TEXT, text.encode(), (NOSNIFF,))


class CamusRoutes:
    """The handlers of the Camus paths, bound to one node and its Camus rules."""

    def __init__(
        self,
        node: SignallingNode,
        rules: CamusRules,
        *,
        static: StaticFiles | None,
        max_frame_bytes: int,
    ) -> None:
        self._node = node
        self._rules = rules
        self._static = static
        self._max_frame_bytes = max_frame_bytes

    # Handlers --------------------------------------------------------------------------------

    def bare(self, request: HttpRequest) -> HttpReply:
        """``GET /camus``: the landing page is ``/camus/``."""
        return self._budgeted(request, lambda: _redirect(HTTPStatus.PERMANENT_REDIRECT, ROOT))

    def landing(self, request: HttpRequest) -> HttpReply:
        """``GET /camus/``: the create form."""
        return self._budgeted(request, lambda: _page(HTTPStatus.OK, pages.landing_page()))

    def create(self, request: HttpRequest) -> HttpReply:
        """``POST /camus/``: a room, then 307 to it (the browser posts the form there again)."""
        return self._budgeted(request, lambda: self._create(request))

    def room(self, request: HttpRequest) -> HttpReply:
        """``GET``/``POST /camus/room/<slug>``: a member and its cookie, or why not."""
        return self._budgeted(request, lambda: self._room(request))

    def static(self, request: HttpRequest) -> HttpReply:
        """``GET /camus/static/<path>``: the Camus web client's files, when configured."""
        return self._budgeted(request, lambda: self._static_file(request))

    def open_socket(self, request: HttpRequest) -> CamusCodec | HttpReply:
        """``/camus/room/<slug>/ws``: the codec; 404 without the room, 403 without a member."""
        parts = request.path.split("/")  # "", "camus", "room", slug, "ws"
        if len(parts) != 5 or parts[4] != "ws" or not is_slug(parts[3]):
            return _text(HTTPStatus.NOT_FOUND, "Not Found")
        slug = parts[3]
        if not self._node.run(lambda: self._node.registry.take_http_request(request.client)):
            return _too_many()
        values = list(cookie_values(value for name, value in request.headers if name == "cookie"))
        admitted = self._node.run(lambda: self._rules.admit_socket(slug, values))
        if admitted.outcome is SocketAdmission.NO_ROOM:
            return _text(HTTPStatus.NOT_FOUND, "Not Found")
        if admitted.outcome is SocketAdmission.NO_MEMBER:
            return _text(HTTPStatus.FORBIDDEN, "Forbidden")
        return CamusCodec(slug, admitted.member_id, max_frame_bytes=self._max_frame_bytes)

    # Inside ----------------------------------------------------------------------------------

    def _budgeted(self, request: HttpRequest, answer: Callable[[], HttpReply]) -> HttpReply:
        if not self._node.run(lambda: self._node.registry.take_http_request(request.client)):
            return _too_many()
        return answer()

    def _create(self, request: HttpRequest) -> HttpReply:
        fields = _form(request)
        form, problem = _create_form(fields)
        if form is None:
            return _page(HTTPStatus.OK, pages.landing_page(problem))
        created = self._node.run(lambda: self._rules.create_room(form))
        if created.outcome is Creation.CREATED:
            return _redirect(HTTPStatus.TEMPORARY_REDIRECT, room_path(created.slug))
        if created.outcome is Creation.TOO_LONG:
            notice = f"Room names are at most {MAX_ROOM_NAME_LENGTH} characters"
            return _page(HTTPStatus.OK, pages.landing_page(notice))
        if created.outcome is Creation.TOO_MANY_ROOMS:
            notice = "This server holds as many rooms as it can; try again later"
            return _page(HTTPStatus.SERVICE_UNAVAILABLE, pages.landing_page(notice))
        notice = f'The room name "{form.name}" is not available'
        return _page(HTTPStatus.OK, pages.landing_page(notice))

    def _room(self, request: HttpRequest) -> HttpReply:
        slug = request.path.removeprefix(ROOM_PREFIX)
        if not is_slug(slug):
            return _text(HTTPStatus.NOT_FOUND, "Not Found")
        password: str | None = None
        if request.method == "POST":
            value = (_form(request) or {}).get("password")
            password = value if isinstance(value, str) else None
        entered = self._node.run(lambda: self._rules.enter_room(slug, password))
        match entered.outcome:
            case Entry.NOT_FOUND:
                return _text(HTTPStatus.NOT_FOUND, "Not Found")
            case Entry.FULL:
                return _text(HTTPStatus.IM_A_TEAPOT, "Guest limit already reached")
            case Entry.PASSWORD_FORM:
                return _page(HTTPStatus.OK, pages.password_page(entered.room_name, slug))
            case Entry.WRONG_PASSWORD:
                body = pages.password_page(entered.room_name, slug, "Invalid password")
                return _page(HTTPStatus.UNAUTHORIZED, body)
        static = self._static
        with_client = static is not None and static.has_client
        with_bootstrap = static is not None and static.get(BOOTSTRAP) is not None
        return _page(
            HTTPStatus.OK,
            pages.room_page(
                entered.room_name, with_client=with_client, with_bootstrap=with_bootstrap
            ),
            set_cookie(slug, entered.cookie),
            csp=_CLIENT_CSP if with_client else _PAGE_CSP,
        )

    def _static_file(self, request: HttpRequest) -> HttpReply:
        found = None
        if self._static is not None:
            found = self._static.get(request.path.removeprefix(STATIC_PREFIX))
        if found is None:
            return _text(HTTPStatus.NOT_FOUND, "Not Found")
        return HttpReply(HTTPStatus.OK, found.content_type, found.body, (NOSNIFF,))


def _redirect(status: HTTPStatus, location: str) -> HttpReply:
    return HttpReply(
        status, _HTML, pages.redirect_page(location), (("Location", location), NOSNIFF)
    )


def _too_many() -> HttpReply:
    return error_reply(HTTPStatus.TOO_MANY_REQUESTS, "too many requests; slow down")


def _form(request: HttpRequest) -> dict[str, object] | None:
    """The posted fields, form-encoded or JSON (first value of each); ``None`` if unreadable."""
    content_type = (request.header("content-type") or "").partition(";")[0].strip().lower()
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            value = msgspec.json.decode(request.body)
        except (msgspec.DecodeError, RecursionError):
            return None
        return value if isinstance(value, dict) else None
    try:
        text = request.body.decode()
        fields = parse_qs(text, keep_blank_values=True, max_num_fields=_MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError):
        return None
    return {name: values[0] for name, values in fields.items()}


def _create_form(fields: dict[str, object] | None) -> tuple[CreateRoom | None, str]:
    """The create form, or ``None`` and what is wrong with it."""
    if fields is None:
        return None, "The form could not be read"
    name = fields.get("room_name")
    if not isinstance(name, str) or not name.strip():
        return None, "A room name is required"
    password = fields.get("password")
    if password is None:
        password = ""
    if not isinstance(password, str):
        return None, "The password must be text"
    public = fields.get("public")
    limit = fields.get("guest_limit", 0)
    try:
        guest_limit = int(limit) if isinstance(limit, (int, str)) else -1
    except ValueError:
        guest_limit = -1
    if isinstance(limit, bool) or guest_limit not in GUEST_LIMITS:
        return None, "Not a valid guest limit"
    form = CreateRoom(
        name=name, password=password, public=public in ("Yes", True), guest_limit=guest_limit
    )
    return form, ""
