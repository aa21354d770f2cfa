"""The Camus dialect's HTML pages: the create form, the password form and the room page.

Small pages of our own (the Camus templates are not used). Anything a person
typed (a room name) is escaped; the pages run no script of ours. The room page
loads the Camus web client only when the server has its files
(``camus_web_root``); without them it tells API clients where the socket is.
"""

from __future__ import annotations

from html import escape

from .outcomes import GUEST_LIMITS

_STYLE = (
    "body{font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 1em}"
    "label{display:block;margin:.5em 0}.notice{color:#a00}"
)


def _page(title: str, body: str) -> bytes:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex, nofollow">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    ).encode()


def _notice(text: str | None) -> str:
    return "" if not text else f'<p class="notice" role="alert">{escape(text)}</p>'


def landing_page(notice: str | None = None) -> bytes:
    """``GET /camus/``: the create form (``notice``: why the last one was not taken)."""
    limits = "".join(
        f'<option value="{limit}">{"None" if limit == 0 else limit}</option>'
        for limit in GUEST_LIMITS
    )
    return _page(
        "Camus Video Chat",
        "<h1>Camus</h1><p>Peer-to-peer group video chat.</p>"
        f"{_notice(notice)}"
        '<form method="post" action="/camus/" id="create-room-form"><h2>Create a room</h2>'
        '<label>Room name <input name="room_name" id="room_name" required maxlength="64">'
        "</label>"
        '<label>Password <input type="password" name="password" id="password"></label>'
        '<label>Public <select name="public" id="public">'
        '<option value="No">No</option><option value="Yes">Yes</option></select></label>'
        f'<label>Guest limit <select name="guest_limit" id="guest_limit">{limits}</select>'
        "</label>"
        '<input type="submit" value="Go"></form>',
    )


def password_page(room_name: str, slug: str, notice: str | None = None) -> bytes:
    """A password room's form (``notice``: ``Invalid password`` after a wrong one)."""
    return _page(
        "Camus | Join a room",
        f"<h1>Join {escape(room_name)}</h1>{_notice(notice)}"
        f'<form method="post" action="/camus/room/{escape(slug)}">'
        '<label>Password <input type="password" name="password" id="password"></label>'
        '<input type="submit" value="Go"></form>',
    )


def room_page(room_name: str, *, with_client: bool, with_bootstrap: bool = False) -> bytes:
    """The room itself: the Camus web client when installed, else a note for API clients.

    Camus laid its page out with Bootstrap 4 from a CDN; here only if the
    operator put ``css/bootstrap.min.css`` beside the client's files.
    """
    title = f"Camus | {room_name}"
    if with_client:
        bootstrap = (
            '<link rel="stylesheet" href="/camus/static/css/bootstrap.min.css">'
            if with_bootstrap
            else ""
        )
        body = (
            bootstrap + '<link rel="stylesheet" href="/camus/static/css/app.css">'
            '<link rel="stylesheet" href="/camus/static/css/icons.css">'
            '<link rel="icon" href="/camus/static/favicon.ico">'
            # The client's icon font names /static/fonts; here the files are under /camus.
            "<style>@font-face{font-family:'Material Icons';font-style:normal;"
            "font-weight:400;src:url(/camus/static/fonts/MaterialIcons-Regular.woff2)"
            " format('woff2'),url(/camus/static/fonts/MaterialIcons-Regular.woff)"
            " format('woff')}</style>"
            '<div id="react-root" class="react-root"></div>'
            '<script src="/camus/static/dist/index.js"></script>'
        )
    else:
        body = (
            f"<h1>{escape(room_name)}</h1>"
            "<p>You are a member of this room. The Camus web client is not installed on "
            "this server; a Camus client connects to this page's address followed by "
            "<code>/ws</code>, with the cookie this page set.</p>"
        )
    return _page(title, body)


def redirect_page(location: str) -> bytes:
    """The body of a redirect, for clients that do not follow it."""
    return _page("Redirecting", f'<p><a href="{escape(location)}">{escape(location)}</a></p>')
