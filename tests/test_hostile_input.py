"""No input reaches a 500 (issue 9): every route and method, driven with hostile values.

A property-based test (Hypothesis) sends requests to every rule of
``app.url_map``, signed out, signed in and as an administrator, on SQLite
and on the real PostgreSQL.  Each request draws hostile values for its path
segments, query parameters, form fields (with or without a valid CSRF token,
so the views' own validation runs too), headers and cookies: huge and
negative numbers, NUL and other control characters, bidi overrides, invalid
UTF-8 (percent-encoded), overlong strings, duplicate parameters, wrong
content types, JSON bodies of any shape and files in text fields.  Any 5xx,
any exception, any database or exception text in a page, and an error that
is neither an HTML page nor problem+json fails the test.

The run is bounded and reproducible (``derandomize=True``, no example
database): ``HOSTILE_EXAMPLES`` (default 10 per route and database) raises
the count for a deeper search, e.g. ``HOSTILE_EXAMPLES=300 .venv/bin/python
-m pytest tests/test_hostile_input.py`` (about 90 s).  What the searches and
issue 9 found is kept in :data:`FOUND`, replayed on both databases by
:func:`test_found_hostile_requests`.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import quote_from_bytes, unquote_to_bytes

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.config import ProductionConfig
from app.extensions import db
from app.models.base import utcnow
from app.models.story import Story
from app.models.user import User
from tests.conftest import make_app
from tests.helpers import CSRF_INPUT

#: Replaced by the identity's CSRF token when the request is built.
CSRF = b"<csrf>"
PASSWORD = "Alice's own long passphrase 77"
#: A password that passes the strength check but is nobody's: a fuzzed form can
#: never sign the test identities out, change their password or delete them.
OTHER_PASSWORD = b"correct horse battery staple 9"
IDENTITIES = ("nobody", "anonymous", "alice", "admin")
#: What an exception or a database error would leave in a page.
LEAKS = re.compile(
    rb"Traceback \(most recent|psycopg\.|sqlalchemy\.exc|sqlite3\.|OverflowError|"
    rb"UnicodeDecodeError|NumericValueOutOfRange|InFailedSqlTransaction|"
    rb"CharacterNotInRepertoire|\(Background on this error"
)

# --- the hostile values -------------------------------------------------------

NUMBERS = [
    b"0",
    b"-1",
    b"1",
    b"2",
    b"3",
    b"4",
    b"5",  # Bob's deleted story (alice restoring it: 404, tests/test_stories.py)
    b"2147483647",
    b"2147483648",
    b"-2147483649",
    b"9223372036854775808",
    b"99999999999999999999",
    b"9" * 400,
    b"1e999",
    b"0x10",
    b"+1",
    b"1.5",
    b"00000000000000000001",
    "²".encode(),  # a digit to str.isdigit(), not to int()
    "١٢".encode(),  # Arabic-Indic digits: int() reads them
    "\uff11".encode(),  # fullwidth digit one
    b"NaN",
]
CONTROLS = [
    b"\x00",
    b"a\x00b",
    b"\x08\x08\x08",
    b"\x1b[31mred",
    "\u202egnp.exe".encode(),
    "\u2066x\u2069".encode(),
    b"\r\nX-Injected: 1",
    b"\t",
    b"\x7f",
    "\x85".encode(),
    "\ufeff".encode(),
]
BROKEN_UTF8 = [
    b"\xff",
    b"\xc0\x80",
    b"\xed\xa0\x80",
    b"\xfe\xfe",
    b"a\xe2\x82",
    b"\xf4\x90\x80\x80",
]
OTHERS = [
    b"",
    b" ",
    b"A" * 10_000,
    "é".encode() * 3000,
    "😀".encode(),
    "\U0010ffff".encode(),
    b"../../etc/passwd",
    b"..%2f..%2f",
    b"<script>alert(1)</script>",
    b"' OR 1=1--",
    b"%",
    b"%zz",
    b"\\",
    b"//evil.example/",
    b"/\\evil.example",
    b"javascript:alert(1)",
    b"true",
    b"null",
    b"[]",
    b"{}",
]
CORPUS = NUMBERS + CONTROLS + BROKEN_UTF8 + OTHERS

#: Valid values, so that a form can get past its validators with one bad field.
VALID_FIELDS: dict[bytes, bytes] = {
    b"name": b"Ada Lovelace",
    b"email": b"fuzz@example.com",
    b"message": b"Hello there, this is a message long enough to pass.",
    b"display_name": b"Fuzzy",
    b"password": OTHER_PASSWORD,
    b"confirm": OTHER_PASSWORD,
    b"current_password": OTHER_PASSWORD,
    b"new_password": OTHER_PASSWORD,
    b"title": b"A title",
    b"body": b"A story body.",
    b"published": b"y",
    b"remember": b"y",
    b"submit": b"Send",
}
QUERY_NAMES = [
    b"page",
    b"cursor",
    b"cursor",
    b"next",
    b"per_page",
    b"sort",
    b"q",
    b"id",
    b"_method",
]


#: Strategies are built once: Hypothesis validates each new strategy object it draws from.
SHARP = st.sampled_from(CORPUS)
#: A corpus value, random bytes or text, two corpus values, or one inside ordinary text.
HOSTILE = st.one_of(
    SHARP,
    st.binary(max_size=12),
    st.text(max_size=12).map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.tuples(SHARP, SHARP).map(b"".join),
    SHARP.map(lambda bad: b"Ada " + bad + b" Lovelace"),
)


#: What a stored text field meets first: NUL, backspace, an escape, a bidi override, bad UTF-8.
INSIDE = st.sampled_from([b"\x00", b"\x08", b"\x1b[2J", "\u202e".encode(), b"\xff", *CONTROLS])


def _spoiled(valid: bytes) -> st.SearchStrategy[bytes]:
    """``valid`` with a control character or broken UTF-8 inside (two draws in three), or
    a hostile value."""
    inside = INSIDE.map(lambda bad: valid[:3] + bad + valid[3:])
    return st.one_of(inside, inside, HOSTILE)


#: Path segments and query values: numbers are what ids and page numbers meet first.
NUMBER_OR_HOSTILE = st.one_of(st.sampled_from(NUMBERS), HOSTILE)
SPOILED = {name: _spoiled(valid) for name, valid in VALID_FIELDS.items()}
FIELD_NAMES = sorted(VALID_FIELDS)


@dataclass(frozen=True)
class HostileRequest:
    """One request to send; ``path`` and ``query`` are percent-encoded, the body is raw."""

    method: str
    path: str
    query: str = ""
    identity: str = "nobody"
    fields: tuple[tuple[bytes, bytes], ...] = ()
    body_format: str = "urlencoded"
    content_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    cookies: tuple[tuple[str, str], ...] = ()


def encode(value: bytes) -> str:
    """Percent-encode every byte that is not unreserved (RFC 3986 section 2.3)."""
    return quote_from_bytes(value, safe="")


def header_text(value: bytes) -> str:
    """A header value as a WSGI server passes it on: latin-1, no line breaks."""
    return value.replace(b"\r", b"").replace(b"\n", b"").decode("latin-1")


SEGMENT = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")


@st.composite
def paths(draw: st.DrawFn, rule: str) -> str:
    """``rule`` with each ``<converter:name>`` replaced by a percent-encoded hostile value."""
    return SEGMENT.sub(lambda _: encode(draw(NUMBER_OR_HOSTILE)), rule)


QUERY_PAIRS = st.lists(
    st.tuples(st.one_of(st.sampled_from(QUERY_NAMES), HOSTILE), NUMBER_OR_HOSTILE), max_size=4
)
RAW_QUERIES = st.sampled_from(["", "", "", "&&=&", "page", "=1", "%", "page=%FF%FE"])


@st.composite
def queries(draw: st.DrawFn) -> str:
    """Zero to four parameters (names may repeat), sometimes a malformed query string."""
    query = "&".join(f"{encode(name)}={encode(value)}" for name, value in draw(QUERY_PAIRS))
    raw = draw(RAW_QUERIES)
    return "&".join(part for part in (query, raw) if part)


@st.composite
def form_fields(draw: st.DrawFn) -> tuple[tuple[bytes, bytes], ...]:
    """The app's form fields, valid but for one or two hostile values (so the rest of the
    form passes its validators), or a few fields with any values; a CSRF token or not."""
    if draw(st.integers(0, 3)):
        fields = dict(VALID_FIELDS)
        for name in draw(st.lists(st.sampled_from(FIELD_NAMES), min_size=1, max_size=2)):
            fields[name] = draw(SPOILED[name])
        if draw(st.booleans()):
            fields.pop(draw(st.sampled_from(FIELD_NAMES)))
        pairs = list(fields.items())
    else:
        pairs = draw(
            st.lists(
                st.tuples(st.one_of(st.sampled_from(FIELD_NAMES), HOSTILE), HOSTILE), max_size=4
            )
        )
    if draw(st.integers(0, 3)):
        pairs.append((b"csrf_token", CSRF))
    return tuple(pairs)


HEADER_NAMES = [
    "Accept",
    "Accept-Encoding",
    "Accept-Language",
    "Referer",
    "Origin",
    "User-Agent",
    "If-None-Match",
    "If-Modified-Since",
    "Range",
    "X-Forwarded-For",
    "X-Forwarded-Proto",
    "X-Forwarded-Host",
    "X-Forwarded-Prefix",
    "X-Request-ID",
    "X-CSRFToken",
    "Authorization",
]
ACCEPTS = [
    b"text/html",
    b"application/json",
    b"application/problem+json",
    b"*/*",
    b"application/json;q=abc, text/html;q=-1",
    b"text/html;q=0, */*;q=0",
]


HEADER_VALUES = st.one_of(st.sampled_from(ACCEPTS), HOSTILE)
COOKIE_PAIRS = st.lists(
    st.tuples(
        st.one_of(st.sampled_from(["session", "remember_token"]), st.text(max_size=8)), HOSTILE
    ),
    max_size=2,
)


@st.composite
def headers(draw: st.DrawFn) -> tuple[tuple[str, str], ...]:
    """A few request headers with hostile (or plausible) values."""
    chosen = draw(st.lists(st.sampled_from(HEADER_NAMES), unique=True, max_size=4))
    return tuple((name, header_text(draw(HEADER_VALUES))) for name in chosen)


@st.composite
def cookies(draw: st.DrawFn) -> tuple[tuple[str, str], ...]:
    """Garbage in the session and remember-me cookies, or in cookies of any name."""
    return tuple(
        (
            header_text(name.encode()).replace(";", "").replace("=", ""),
            header_text(value).replace(";", ""),
        )
        for name, value in draw(COOKIE_PAIRS)
    )


#: Repeated entries weigh the draw toward bodies that reach the views' validation.
BODY_FORMATS = [
    "urlencoded",
    "urlencoded",
    "multipart",
    "multipart-files",
    "json",
    "json-typed",
    "raw",
]
CONTENT_TYPES = [
    *[None] * 8,
    "text/plain",
    "application/json",
    "application/x-www-form-urlencoded; charset=latin-1",
    "multipart/form-data",
    "multipart/form-data; boundary=",
    "multipart/form-data; boundary=\x00",
    "a/b/c; ;;=",
    "application/xml",
]


QUERIES, FORMS, HEADERS, COOKIES = queries(), form_fields(), headers(), cookies()
IDENTITY = st.sampled_from(IDENTITIES)
BODY_FORMAT = st.sampled_from(BODY_FORMATS)
CONTENT_TYPE = st.sampled_from(CONTENT_TYPES)


@st.composite
def requests(draw: st.DrawFn, rule: str, methods: st.SearchStrategy[str]) -> HostileRequest:
    """One hostile request to ``rule`` with one of ``methods``."""
    method = draw(methods)
    body = method not in {"GET", "HEAD", "OPTIONS"}
    return HostileRequest(
        method=method,
        path=draw(paths(rule)),
        query=draw(QUERIES),
        identity=draw(IDENTITY),
        fields=draw(FORMS) if body else (),
        body_format=draw(BODY_FORMAT),
        content_type=draw(CONTENT_TYPE) if body else None,
        headers=draw(HEADERS),
        cookies=draw(COOKIES),
    )


def route_requests(rule: str, methods: tuple[str, ...]) -> st.SearchStrategy[HostileRequest]:
    """Requests to ``rule`` with its methods and two it doesn't allow (405)."""
    posts = ["POST"] * 3 if "POST" in methods else []
    return requests(rule, st.sampled_from([*methods, *posts, "PUT", "DELETE"]))


# --- sending a request and judging the answer -------------------------------------


@dataclass
class Target:
    """An app with its test data, and the session cookie and CSRF token of each identity."""

    app: Flask
    session_cookie: str
    sessions: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)


def json_value(value: bytes, body_format: str) -> object:
    """``value`` as a JSON string (lone surrogates for broken UTF-8); for ``json-typed``,
    as a list, an object, a number, ``null`` or a boolean, chosen by its length."""
    text = value.decode("utf-8", "surrogateescape")
    if body_format != "json-typed":
        return text
    shapes = ([text], {"value": text}, 10**30, None, True, -1.5e300, [])
    return shapes[len(value) % len(shapes)]


def build_body(request: HostileRequest, token: str) -> tuple[bytes, str | None]:
    """The request body and its content type, from the fields and ``body_format``."""
    fields = [(name, token.encode() if value is CSRF else value) for name, value in request.fields]
    if request.body_format.startswith("multipart"):
        boundary = b"----hostile" + uuid.uuid4().hex.encode()
        # multipart-files: every field is a file upload (a file in a text field).
        files = request.body_format == "multipart-files"
        parts = [
            b"--" + boundary + b'\r\nContent-Disposition: form-data; name="' + name + b'"'
            b"" + (b'; filename="x.txt"' if files else b"") + b"\r\n\r\n"
            b"" + value + b"\r\n"
            for name, value in fields
        ]
        body = b"".join(parts) + b"--" + boundary + b"--\r\n"
        content_type = "multipart/form-data; boundary=" + boundary.decode()
    elif request.body_format.startswith("json"):
        document = {
            name.decode("utf-8", "surrogateescape"): json_value(value, request.body_format)
            for name, value in fields
        }
        # json-typed with an odd number of fields: a list at the top, not an object.
        top = list(document.items()) if request.body_format == "json-typed" else document
        body = json.dumps(top if len(fields) % 2 else document).encode()
        content_type = "application/json"
    else:
        body = b"&".join(
            encode(name).encode() + b"=" + encode(value).encode() for name, value in fields
        )
        content_type = "application/x-www-form-urlencoded" if request.body_format != "raw" else None
    return body, request.content_type or content_type


def send(target: Target, request: HostileRequest):  # type: ignore[no-untyped-def]
    """Send ``request`` as a WSGI server would pass it on (PATH_INFO as latin-1 bytes)."""
    client = target.app.test_client(use_cookies=False)
    cookies = dict(request.cookies)
    if request.identity != "nobody":  # nobody: no session cookie at all
        cookies.setdefault(target.session_cookie, target.sessions[request.identity])
    headers = list(request.headers)
    if cookies:
        headers.append(("Cookie", "; ".join(f"{name}={value}" for name, value in cookies.items())))
    body, content_type = build_body(request, target.tokens[request.identity])
    path_info = unquote_to_bytes(request.path).decode("latin-1")
    raw_uri = request.path + (f"?{request.query}" if request.query else "")
    return client.open(
        "/",
        method=request.method,
        data=body if request.method not in {"GET", "HEAD", "OPTIONS"} else None,
        content_type=content_type,
        headers=headers,
        environ_overrides={
            "PATH_INFO": path_info,
            "QUERY_STRING": request.query,
            "REQUEST_URI": raw_uri,
            "RAW_URI": raw_uri,
        },
    )


def check(target: Target, request: HostileRequest) -> None:
    """Fail on a 5xx, on leaked exception or database text, or on an unlabelled error."""
    response = send(target, request)
    body = response.get_data()
    assert response.status_code < 500, (response.status_code, request, body[:300])
    assert not LEAKS.search(body), (request, LEAKS.search(body))
    if response.status_code >= 400 and request.method != "HEAD":
        assert response.mimetype in {"text/html", "application/problem+json"}, request


# --- the apps under test -------------------------------------------------------


def seed(app: Flask) -> None:
    """Alice (stories: published 1, draft 2, deleted 3), Bob (published 4, deleted 5), admin."""
    with app.app_context():
        hasher = app.extensions["passwords"]
        alice = User(
            email="alice@example.com", display_name="Alice", password_hash=hasher.hash(PASSWORD)
        )
        bob = User(email="bob@example.com", display_name="Bob", password_hash=hasher.hash(PASSWORD))
        admin = User(
            email="admin@example.com",
            display_name="Admin",
            password_hash=hasher.hash(PASSWORD),
            is_admin=True,
        )
        for user in (alice, bob, admin):
            user.email_confirmed_at = utcnow()
        db.session.add_all([alice, bob, admin])
        db.session.flush()
        for author, title, published in (
            (alice, "Published", True),
            (alice, "Draft", False),
            (alice, "Trashed", True),
            (bob, "Bob's", True),
            (bob, "Bob's trashed", True),
        ):
            db.session.add(Story(title=title, body="Body", published=published, author=author))
        db.session.flush()
        for story in db.session.scalars(db.select(Story).where(Story.title.like("%rashed"))):
            story.soft_delete()
        db.session.commit()


def identity_session(app: Flask, email: str | None) -> tuple[str, str]:
    """Sign ``email`` in (or stay anonymous); its session cookie and CSRF token."""
    client = app.test_client()
    if email:
        page = client.get("/sign-in").get_data(as_text=True)
        token = CSRF_INPUT.search(page).group(1)
        response = client.post(
            "/sign-in", data={"email": email, "password": PASSWORD, "csrf_token": token}
        )
        assert response.status_code == 302, "the test identity signs in"
    page = client.get("/contact").get_data(as_text=True)
    token = CSRF_INPUT.search(page).group(1)
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    return (cookie.value if cookie else ""), token


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    """The app on SQLite or the real PostgreSQL (production's engine options), seeded."""
    if request.param == "sqlite":
        app = make_app()
    else:
        app = make_app(
            SQLALCHEMY_DATABASE_URI=request.getfixturevalue("postgres_url"),
            SQLALCHEMY_ENGINE_OPTIONS=ProductionConfig.SQLALCHEMY_ENGINE_OPTIONS,
        )
    with app.app_context():
        db.drop_all()
        db.create_all()
    seed(app)
    result = Target(app=app, session_cookie=app.config["SESSION_COOKIE_NAME"])
    result.sessions["nobody"], result.tokens["nobody"] = "", "not-a-token"
    for identity, email in (
        ("anonymous", None),
        ("alice", "alice@example.com"),
        ("admin", "admin@example.com"),
    ):
        result.sessions[identity], result.tokens[identity] = identity_session(app, email)
    yield result
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


def _routes() -> list[tuple[str, tuple[str, ...]]]:
    app = make_app()
    return sorted(
        (rule.rule, tuple(sorted(rule.methods or ()))) for rule in app.url_map.iter_rules()
    )


ROUTES = _routes()
STRATEGIES = {rule: route_requests(rule, methods) for rule, methods in ROUTES}


@pytest.mark.parametrize(("rule", "methods"), ROUTES, ids=[rule for rule, _ in ROUTES])
@settings(
    max_examples=int(os.environ.get("HOSTILE_EXAMPLES", "10")),
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_no_hostile_request_reaches_a_500(target, rule, methods, data):
    check(target, data.draw(STRATEGIES[rule], label="request"))


# --- what the fuzzer found, replayed on both databases ------------------------------

VALID_CONTACT = (
    (b"name", b"Ada Lovelace"),
    (b"email", b"ada@example.com"),
    (b"message", b"Hello there, a message long enough."),
    (b"csrf_token", CSRF),
)
VALID_REGISTRATION = (
    (b"email", b"eve@example.com"),
    (b"display_name", b"Eve"),
    (b"password", OTHER_PASSWORD),
    (b"confirm", OTHER_PASSWORD),
    (b"csrf_token", CSRF),
)


def replace(fields: tuple[tuple[bytes, bytes], ...], **values: bytes) -> tuple:
    """``fields`` with the named ones set to ``values``."""
    return tuple((name, values.get(name.decode(), value)) for name, value in fields)


#: Each was a 500 (or gunicorn's bare page) before the fixes of issue 9.
FOUND = [
    pytest.param(
        HostileRequest("GET", "/stories/9223372036854775808"), id="id-past-sqlite-integer"
    ),
    pytest.param(HostileRequest("GET", "/users/9223372036854775808"), id="user-id-past-sqlite"),
    pytest.param(
        HostileRequest("GET", "/stories/2147483648/edit", identity="alice"),
        id="id-past-postgresql-integer",
    ),
    pytest.param(
        HostileRequest("GET", "/stories/2147483648", identity="alice"),
        id="signed-in-500-page-in-an-aborted-transaction",
    ),
    pytest.param(
        HostileRequest("GET", "/users/2147483648", identity="alice"),
        id="signed-in-author-page-in-an-aborted-transaction",
    ),
    pytest.param(
        HostileRequest(
            "POST",
            "/stories/9223372036854775808/restore",
            identity="alice",
            fields=((b"csrf_token", CSRF),),
        ),
        id="restore-id-past-sqlite-integer",
    ),
    pytest.param(
        HostileRequest("GET", "/stories/", query="page=%C2%B2"), id="page-superscript-two"
    ),
    pytest.param(
        HostileRequest(
            "POST", "/contact", identity="anonymous", fields=replace(VALID_CONTACT, name=b"A\x00da")
        ),
        id="contact-name-nul",
    ),
    pytest.param(
        HostileRequest(
            "POST",
            "/contact",
            identity="anonymous",
            fields=replace(VALID_CONTACT, message=b"Hello\x00 there, long enough."),
        ),
        id="contact-message-nul",
    ),
    pytest.param(
        HostileRequest(
            "POST",
            "/register",
            identity="anonymous",
            fields=replace(VALID_REGISTRATION, display_name=b"E\x00ve"),
        ),
        id="display-name-nul",
    ),
    pytest.param(
        HostileRequest(
            "POST",
            "/register",
            fields=replace(VALID_REGISTRATION, display_name=b"\xff"),
            body_format="json",
        ),
        id="json-lone-surrogate-reshown",
    ),
    pytest.param(
        HostileRequest("POST", "/sign-in", fields=((b"email", b"\xff"),), body_format="json"),
        id="json-lone-surrogate-email",
    ),
    pytest.param(
        HostileRequest(
            "POST", "/contact", fields=((b"csrf_token", CSRF),), body_format="json-typed"
        ),
        id="json-number-csrf-token",
    ),
    pytest.param(
        HostileRequest(
            "POST",
            "/account/password",
            identity="alice",
            fields=tuple(VALID_FIELDS.items()),
            body_format="json-typed",
        ),
        id="json-typed-password-form",
    ),
    pytest.param(
        HostileRequest(
            "POST",
            "/sign-in",
            identity="anonymous",
            fields=VALID_REGISTRATION,
            body_format="multipart-files",
        ),
        id="file-as-email-and-password",
    ),
]


@pytest.mark.parametrize("request_", FOUND)
def test_found_hostile_requests(target, request_):
    check(target, request_)
