"""The Camus dialect's pure pieces: the codec, slugs, cookies, pages and the client's static files."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from signalling_server.cli import build_parser, config_from_args
from signalling_server.config import config_from_mapping
from signalling_server.dialects.camus import cookies, pages
from signalling_server.dialects.camus.codec import CamusCodec
from signalling_server.dialects.camus.messages import (
    Bye,
    CamusFrame,
    ClientInfo,
    IceServers,
    Ping,
    Pong,
    Relayed,
    RoomInfo,
    UnknownType,
)
from signalling_server.dialects.camus.slugs import is_slug, slug_for
from signalling_server.dialects.camus.static_files import StaticFiles
from signalling_server.protocol import FrameError
from signalling_server.protocol.codes import ErrorCode
from signalling_server.protocol.events import Error, IceServerInfo, LobbyClosed

ME = "0123456789abcdef0123456789abcdef"
PEER = "fedcba9876543210fedcba9876543210"


def _codec() -> CamusCodec:
    return CamusCodec("den", ME, max_frame_bytes=1024)


def test_frames_decode_with_sender_ignored_and_missing_fields_defaulted() -> None:
    """A frame's claimed sender and unknown keys are ignored; data defaults to null and stays raw."""
    decoded = _codec().decode(
        '{"sender":"evil","receiver":"room","type":"text","data":{"a": [1, 2]},"x":1}'
    )
    frame = decoded.action
    assert isinstance(frame, CamusFrame)
    assert (frame.receiver, frame.type, bytes(frame.data)) == ("room", "text", b'{"a": [1, 2]}')
    bare = _codec().decode("{}").action
    assert isinstance(bare, CamusFrame)
    assert (bare.receiver, bare.type, bytes(bare.data)) == (None, None, b"null")


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("nope", ErrorCode.INVALID_MESSAGE),
        ('"text"', ErrorCode.INVALID_MESSAGE),
        ('{"receiver": 1}', ErrorCode.INVALID_MESSAGE),
        ("x" * 1025, ErrorCode.MESSAGE_TOO_LARGE),
        ("é" * 600, ErrorCode.MESSAGE_TOO_LARGE),  # counted in UTF-8 bytes
    ],
)
def test_unusable_frames_raise_frame_errors(frame: str, code: ErrorCode) -> None:
    """Frames that are not Camus messages, or too big, raise FrameError (which the server drops)."""
    with pytest.raises(FrameError) as caught:
        _codec().decode(frame)
    assert caught.value.code is code


def test_every_server_frame_has_the_four_keys_with_this_member_as_receiver() -> None:
    """Each event becomes {sender, receiver, type, data} in that order, receiver = the codec's member."""
    codec = _codec()
    raw = msgspec.Raw(b'{"sdp": "v=0"}')
    cases = [
        (Relayed(PEER, "offer", raw), PEER, "offer", {"sdp": "v=0"}),
        (Pong(msgspec.Raw(b"17")), "ground control", "pong", 17),
        (
            RoomInfo("den", [ClientInfo(ME, "Ann")]),
            "ground control",
            "room-info",
            {"room_id": "den", "clients": [{"id": ME, "username": "Ann"}]},
        ),
        (
            IceServers([IceServerInfo(urls=["stun:127.0.0.1:3478"])]),
            "ground control",
            "ice-servers",
            [{"urls": ["stun:127.0.0.1:3478"]}],
        ),
        (UnknownType("x"), "ground control", "error", "Unknown message type: x"),
        (Ping(1.5), "ground control", "ping", 1.5),
        (Bye(2.5), "ground control", "bye", 2.5),
    ]
    for event, sender, kind, data in cases:
        encoded = codec.encode(event)
        assert encoded is not None
        decoded = json.loads(encoded)
        assert list(decoded) == ["sender", "receiver", "type", "data"]
        assert decoded == {"sender": sender, "receiver": ME, "type": kind, "data": data}


def test_relayed_types_are_escaped_and_other_events_are_not_said() -> None:
    """A relayed type is JSON-escaped; native errors and other dialects' events encode to nothing."""
    codec = _codec()
    encoded = codec.encode(Relayed(PEER, 'a"b', msgspec.Raw(b"null")))
    assert encoded is not None and json.loads(encoded)["type"] == 'a"b'
    assert codec.encode(Error(ErrorCode.RATE_LIMITED, "slow down", None)) is None
    assert codec.encode(LobbyClosed("ABC123", "host_left")) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Hello, World!", "hello-world"),
        ("  --Den--  ", "den"),
        ("It's ours", "it-s-ours"),
        ("Ünïcödé Straße", "unicode-strasse"),
        ("Комната", "komnata"),
        ("x" * 80, "x" * 64),
        ("!!!", ""),
    ],
)
def test_slugs_are_what_python_slugify_makes(name: str, slug: str) -> None:
    """Room slugs: lower-case ASCII words joined by '-', transliterated, trimmed, at most 64."""
    assert slug_for(name) == slug


@given(st.text(max_size=100))
def test_every_slug_made_is_a_slug_the_routes_accept(name: str) -> None:
    """Whatever a room is named, its slug (when it has one) passes the routes' shape check."""
    slug = slug_for(name)
    assert slug == "" or is_slug(slug)


def test_is_slug_refuses_what_slugify_never_makes() -> None:
    """Upper case, dots, slashes, doubled or edge dashes and overlong names are not slugs."""
    for text in ("Den", "a.b", "a/b", "a--b", "-a", "a-", "", "x" * 65, "ws%2F"):
        assert not is_slug(text)


def test_cookie_values_are_signed_for_one_room() -> None:
    """A cookie names its member for its own room only; any change breaks it."""
    key = b"k" * 32
    value = cookies.sign(key, "den", ME)
    assert cookies.member_of(key, "den", value) == ME
    assert cookies.member_of(key, "other", value) is None
    assert cookies.member_of(b"x" * 32, "den", value) is None
    assert cookies.member_of(key, "den", PEER + value[len(ME) :]) is None
    assert cookies.member_of(key, "den", ME) is None


def test_cookie_headers_are_read_whole_and_set_for_the_room_path() -> None:
    """Every camus_member value of every Cookie header is found; Set-Cookie scopes to the room page."""
    headers = ["a=1; camus_member=one; b=2", 'camus_member="two"', "camus_membership=no"]
    assert list(cookies.cookie_values(headers)) == ["one", "two"]
    name, value = cookies.set_cookie("den", "v")
    assert name == "Set-Cookie"
    assert value == "camus_member=v; Path=/camus/room/den; HttpOnly; SameSite=Lax"


def test_pages_escape_what_people_typed() -> None:
    """Room names and notices are HTML-escaped in every page."""
    evil = '<script>alert("x")</script>'
    for body in (
        pages.landing_page(f'The room name "{evil}" is not available'),
        pages.password_page(evil, "den", "Invalid password"),
        pages.room_page(evil, with_client=False),
        pages.room_page(evil, with_client=True),
    ):
        assert b"<script>alert" not in body
        assert b"&lt;script&gt;" in body


def test_static_files_serve_known_types_inside_the_root_only(tmp_path: Path) -> None:
    """The client's files are served by relative path; traversal, hidden names and unknown types are not."""
    root = tmp_path / "static"
    (root / "dist").mkdir(parents=True)
    (root / "dist" / "index.js").write_text("console.log(1)")
    (root / "notes.txt").write_text("no")
    (root / ".hidden.js").write_text("no")
    (tmp_path / "secret.js").write_text("no")
    files = StaticFiles(root)
    found = files.get("dist/index.js")
    assert found is not None and found.content_type.startswith("text/javascript")
    assert files.has_client
    for path in ("../secret.js", "dist/../../secret.js", "notes.txt", ".hidden.js", "", "dist/"):
        assert files.get(path) is None
    assert not StaticFiles(tmp_path / "missing").has_client


def test_camus_web_root_comes_from_the_command_line_or_the_config_file(tmp_path: Path) -> None:
    """--camus-web-root DIR and the TOML key camus_web_root both set the client's folder; default none."""
    args = build_parser().parse_args(["--camus-web-root", str(tmp_path)])
    assert config_from_args(args).camus_web_root == tmp_path
    assert config_from_mapping({"camus_web_root": str(tmp_path)}).camus_web_root == tmp_path
    assert config_from_args(build_parser().parse_args([])).camus_web_root is None
