"""Bad input gets a clear 4xx, never a 500 (issue 9), on SQLite and the real PostgreSQL.

Each test here pins one defect the hostile-input search
(:mod:`tests.test_hostile_input`) or the issue found: ids and page numbers
out of range, error pages after a refused statement, NUL and other hidden
characters in stored text, JSON and file bodies posted to HTML forms, and
CSRF refusals over the rate limit.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
from collections.abc import Iterator

import pytest
import time_machine
from flask import Flask, abort
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from app.extensions import db
from app.models.contact import ContactMessage
from app.models.story import Story
from app.models.user import User
from tests.conftest import empty_tables, make_app
from tests.helpers import contact_form, csrf_token, post_form
from tests.test_auth import PASSWORD, make_user, sign_in

HIDDEN = "\x00\x08\x1b\u202e"


def b64(data: object) -> str:
    """A cursor-shaped string: URL-safe base64 of ``data`` as JSON, unpadded."""
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


#: Cursors that must be refused with a 400 (they reach the row-value comparison otherwise).
HOSTILE_CURSORS = [
    "",
    "%",
    "not base64!",
    "\x00",
    "²",
    "A" * 600,
    b64({"n": 1}),
    b64(["x", "2030-01-01T00:00:00+00:00", 1]),
    b64(["n", "2030-01-01T00:00:00+00:00", 2**63]),  # past bigint
    b64(["n", "2030-01-01T00:00:00+00:00", 1.5]),
    b64(["n", "2030-01-01T00:00:00+00:00", True]),
    b64(["n", "2030-01-01T00:00:00+00:00"]),
    b64(["n", "\u0000", 1]),
    b64(["n", ["nested"], 1]),
]
#: Refused by the story lists, whose first key is a timestamp (fine names on /users/).
BAD_TIMESTAMP_CURSORS = [
    b64(["n", "2030-01-01T00:00:00", 1]),  # naive: its zone is unknown
    b64(["n", "99999-01-01T00:00:00+00:00", 1]),
    b64(["p", "yesterday", 1]),
    b64(["n", "0001-01-01T00:00:00+01:00", 1]),  # before year 1 in UTC
    b64(["n", "9999-12-31T23:59:59-01:00", 1]),  # after year 9999 in UTC
]
HTML = {"Accept": "text/html"}


def signed_in_author(app: Flask):  # type: ignore[no-untyped-def]
    """A client signed in as Ada, who wrote story 1 (published)."""
    user_id = make_user(app)
    with app.app_context():
        db.session.add(Story(title="A story", body="Body", published=True, author_id=user_id))
        db.session.commit()
    client = app.test_client()
    assert sign_in(client).status_code == 302
    return client


# --- ids and page numbers ------------------------------------------------------

OUT_OF_RANGE = [
    "2147483648",  # PostgreSQL's integer + 1: NumericValueOutOfRange
    "9223372036854775808",  # SQLite's driver: OverflowError
    "99999999999999999999",
    "0",
    "01",  # a second URL for story 1
    "%D9%A3",  # an Arabic-Indic three, a digit to \d
]


def test_ids_out_of_range_are_404_by_routing(any_db):
    client = signed_in_author(any_db)
    token = csrf_token(client)
    for value in OUT_OF_RANGE:
        for method, path in [
            ("GET", "/stories/{}"),
            ("GET", "/stories/{}/edit"),
            ("POST", "/stories/{}/edit"),
            ("POST", "/stories/{}/delete"),
            ("POST", "/stories/{}/restore"),
            ("GET", "/users/{}"),
        ]:
            response = client.open(
                path.format(value), method=method, data={"csrf_token": token}, headers=HTML
            )
            assert response.status_code == 404, (method, path, value, response.status_code)
            assert "couldn&#39;t find that page" in response.get_data(as_text=True)


def test_the_largest_id_is_routed_and_story_1_still_found(any_db):
    client = signed_in_author(any_db)
    assert client.get("/stories/2147483647").status_code == 404  # no such row: the view says so
    assert client.get("/stories/1").status_code == 200
    assert client.get("/users/1").status_code == 200
    with any_db.test_request_context():
        from flask import url_for

        assert url_for("stories.detail", id=2147483647) == "/stories/2147483647"


def test_damaged_cursors_are_400_pages_never_500(any_db):
    client = signed_in_author(any_db)
    story_lists = ("/stories/", "/stories/mine", "/stories/trash", "/users/1")
    cases = [(path, cursor) for path in (*story_lists, "/users/") for cursor in HOSTILE_CURSORS]
    cases += [(path, cursor) for path in story_lists for cursor in BAD_TIMESTAMP_CURSORS]
    for path, cursor in cases:
        response = client.get(path, query_string={"cursor": cursor}, headers=HTML)
        assert response.status_code == 400, (path, cursor)
        assert "start again from the first page" in response.get_data(as_text=True)
    assert client.get("/stories/?page=2").status_code == 200, "old page numbers are ignored"


# --- error pages after a refused statement (PostgreSQL) ----------------------------


@pytest.fixture(scope="module")
def pg_app_with_failing_queries(postgres_url) -> Iterator[Flask]:
    """The app on PostgreSQL with two test routes whose statement PostgreSQL refuses."""
    app = make_app(SQLALCHEMY_DATABASE_URI=postgres_url, SQLALCHEMY_ENGINE_OPTIONS={})

    def division_by_zero() -> str:
        db.session.execute(text("SELECT 1 / 0"))
        return "unreachable"

    def caught_then_404() -> str:
        try:
            db.session.execute(text("SELECT 1 / 0"))
        except DBAPIError:
            abort(404)
        return "unreachable"

    app.add_url_rule("/test/division-by-zero", view_func=division_by_zero)
    app.add_url_rule("/test/caught-then-404", view_func=caught_then_404)
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


@pytest.fixture
def failing_queries(pg_app_with_failing_queries: Flask) -> Iterator[Flask]:
    """:func:`pg_app_with_failing_queries` with empty tables for each test."""
    yield pg_app_with_failing_queries
    with pg_app_with_failing_queries.app_context():
        empty_tables()


@pytest.mark.postgres
def test_the_500_page_renders_for_a_signed_in_user_after_a_refused_statement(
    failing_queries, caplog
):
    client = failing_queries.test_client()
    make_user(failing_queries)
    assert sign_in(client).status_code == 302
    client.get("/account")  # the user is loaded in this request's transaction
    response = client.get("/test/division-by-zero", headers=HTML)
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "Something went wrong on our side" in page
    assert '<nav class="navbar' in page, "the site's own page, not the built-in one"
    assert "Sign out" not in page, "a 5xx page shows no account menu: it needs no query"
    assert "division" not in page.lower()
    assert "error template failed" not in caplog.text


@pytest.mark.postgres
def test_a_4xx_page_after_a_refused_statement_still_shows_the_account(failing_queries):
    client = failing_queries.test_client()
    make_user(failing_queries)
    assert sign_in(client).status_code == 302
    response = client.get("/test/caught-then-404", headers=HTML)
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "Sign out" in page, "rolled back first, the page loads the user again"
    assert ">Ada<" in page


@pytest.mark.postgres
def test_the_500_page_as_problem_json_after_a_refused_statement(failing_queries):
    client = failing_queries.test_client()
    make_user(failing_queries)
    assert sign_in(client).status_code == 302
    response = client.get("/test/division-by-zero", headers={"Accept": "application/json"})
    assert response.status_code == 500
    assert response.get_json()["detail"].startswith("Something went wrong")


# --- hidden characters in stored text --------------------------------------------


def test_contact_name_and_message_are_cleaned(any_db):
    client = any_db.test_client()
    form = contact_form(name=f"Ada{HIDDEN} Lovelace", message=f"Hello{HIDDEN} there, a message.")
    response = post_form(client, "/contact", **form)
    assert response.status_code == 302
    with any_db.app_context():
        message = db.session.scalars(select(ContactMessage)).one()
        assert (message.name, message.message) == ("Ada Lovelace", "Hello there, a message.")


def test_the_display_name_is_cleaned_on_registration(any_db):
    client = any_db.test_client()
    response = post_form(
        client,
        "/register",
        email="eve@example.com",
        display_name=f"\u202eEve{HIDDEN}",
        password=PASSWORD,
        confirm=PASSWORD,
    )
    assert response.status_code == 302
    with any_db.app_context():
        assert db.session.scalars(select(User.display_name)).one() == "Eve"


def test_a_name_of_hidden_characters_only_is_asked_for_again(any_db):
    client = any_db.test_client()
    response = post_form(client, "/contact", **contact_form(name=HIDDEN))
    assert response.status_code == 422
    assert "Please tell us your name." in response.get_data(as_text=True)


def test_users_create_cleans_the_name_and_users_list_escapes_stored_text(app):
    runner = app.test_cli_runner()
    created = runner.invoke(
        args=[
            "users",
            "create",
            "grace@example.com",
            "--name",
            f"Grace{HIDDEN}",
            "--password-stdin",
        ],
        input=f"{PASSWORD}\n",
    )
    assert created.exit_code == 0, created.output
    with app.app_context():  # stored before cleaning existed, or by other means
        db.session.add(
            User(email="eve@example.com", display_name="Eve\x1b[2J\u202e\tx", password_hash="x")
        )
        db.session.commit()
    listed = runner.invoke(args=["users", "list"]).output
    assert "\tGrace\t" in listed
    assert "\tEve\\x1b[2J\\u202e\\x09x\t" in listed
    assert not any(char in listed for char in "\x00\x08\x1b\u202e")


# --- JSON and file bodies posted to HTML forms ---------------------------------------

JSON_BODIES = [
    [1, 2],
    "text",
    5,
    {"email": 5, "name": ["a", "b"], "message": {"a": 1}},
    {"name": "\udcff", "email": "a@example.com", "message": "a message long enough"},
]


def test_a_json_body_posted_to_a_form_shows_the_form_again(any_db):
    client = any_db.test_client()
    for path in ("/contact", "/register", "/sign-in"):
        client.get(path)
        for body in JSON_BODIES:
            response = client.post(
                path, data=json.dumps(body), content_type="application/json", headers=HTML
            )
            assert response.status_code == 400, (path, body)  # no CSRF token in a form body
            assert "<form" in response.get_data(as_text=True)


FILE_FIELDS = [
    ("/contact", "email"),
    ("/contact", "name"),
    ("/register", "email"),
    ("/register", "password"),
    ("/sign-in", "email"),
    ("/sign-in", "password"),
]


def test_a_file_posted_in_a_text_field_is_a_missing_value(any_db):
    client = any_db.test_client()
    for path, field in FILE_FIELDS:
        data = {
            "csrf_token": csrf_token(client, path),
            "name": "Ada",
            "email": "ada@example.com",
            "message": "A message long enough.",
            "display_name": "Ada",
            "password": PASSWORD,
            "confirm": PASSWORD,
            field: (io.BytesIO(b"file content"), "x.txt"),
        }
        response = client.post(path, data=data, content_type="multipart/form-data")
        assert response.status_code == 422, (path, field)
        assert 'class="invalid-feedback' in response.get_data(as_text=True)


# --- CSRF refusals over the rate limit -----------------------------------------------

START = dt.datetime(2030, 1, 1, 12, 0, 0, tzinfo=dt.UTC)


@pytest.mark.settings(RATELIMIT_ENABLED=True)
@pytest.mark.parametrize(
    ("path", "signed_in"),
    [
        ("/sign-in", False),
        ("/register", False),
        ("/account/password", True),
        ("/account/delete", True),
    ],
)
def test_unsigned_posts_over_the_rate_limit_are_4xx_only(app, path, signed_in):
    client = app.test_client()
    with time_machine.travel(START, tick=False) as clock:
        if signed_in:
            make_user(app)
            assert sign_in(client).status_code == 302
            clock.shift(dt.timedelta(hours=2))  # the sign-in's own requests are forgotten
        statuses = [
            client.post(path, data={"email": "ada@example.com"}, headers=HTML).status_code
            for _ in range(3)
        ]
    assert statuses == [400, 400, 429]
