"""A CSRF refusal changes nothing, on every state-changing view, in every way it fails.

For each POST view and each way the check fails (no token, a wrong token, an
expired token, and a valid token with a missing or foreign ``Referer`` over
HTTPS, which only Flask-WTF's app-wide check sees), the answer is 400, the
database rows are the same before and after (counted and compared), the
signed-in state is unchanged, and a form view shows the form again with what
the user typed and a fresh token.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest
import time_machine
from sqlalchemy import select

from app.extensions import db
from app.models import INCLUDE_DELETED
from app.models.contact import ContactMessage
from app.models.story import Story
from app.models.user import User
from tests.helpers import CSRF_INPUT
from tests.test_auth import NEW_PASSWORD, PASSWORD, make_user
from tests.test_stories import make_story

HTTPS = "https://localhost"
GOOD_REFERER = {"Referer": f"{HTTPS}/"}
TYPED = "Words the user typed and must not lose"
MESSAGE = "Your form has expired or did not come from this site."


@dataclass
class Case:
    """A state-changing view: where its form is, what to post, who must be signed in."""

    path: str
    form_page: str
    data: dict[str, str]
    signed_in: bool = True
    shows_form: bool = True
    own_story: str | None = None  # "live" or "deleted": made for the signed-in user
    echo: list[str] = field(default_factory=list)  # typed values the re-shown form keeps


CASES = {
    "contact": Case(
        "/contact",
        "/contact",
        {"name": "Ada", "email": "ada@example.com", "message": TYPED},
        signed_in=False,
        echo=[TYPED],
    ),
    "register": Case(
        "/register",
        "/register",
        {
            "email": "new@example.com",
            "display_name": "Newcomer",
            "password": PASSWORD,
            "confirm": PASSWORD,
        },
        signed_in=False,
        echo=["new@example.com", "Newcomer"],
    ),
    "sign-in": Case(
        "/sign-in",
        "/sign-in",
        {"email": "ada@example.com", "password": PASSWORD},
        signed_in=False,
        echo=["ada@example.com"],
    ),
    "sign-out": Case("/sign-out", "/contact", {}, shows_form=False),
    "change-password": Case(
        "/account/password",
        "/account/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    ),
    "delete-account": Case("/account/delete", "/account/delete", {"password": PASSWORD}),
    "write-story": Case(
        "/stories/new",
        "/stories/new",
        {"title": "A new tale", "body": TYPED, "published": "y"},
        echo=[TYPED],
    ),
    "edit-story": Case(
        "/stories/{id}/edit",
        "/stories/{id}/edit",
        {"title": "Changed title", "body": TYPED, "published": "y"},
        own_story="live",
        echo=[TYPED],
    ),
    "delete-story": Case(
        "/stories/{id}/delete", "/contact", {}, own_story="live", shows_form=False
    ),
    "restore-story": Case(
        "/stories/{id}/restore", "/contact", {}, own_story="deleted", shows_form=False
    ),
}

START = dt.datetime(2030, 3, 1, 9, tzinfo=dt.UTC)


def fingerprint(app) -> tuple:
    """Every row a POST view could change, as plain values."""
    with app.app_context():
        users = db.session.execute(
            select(
                User.id, User.email, User.password_hash, User.session_version, User.deleted_at
            ).execution_options(**{INCLUDE_DELETED: True})
        ).all()
        stories = db.session.execute(
            select(Story.id, Story.title, Story.body, Story.deleted_at).execution_options(
                **{INCLUDE_DELETED: True}
            )
        ).all()
        messages = db.session.execute(select(ContactMessage.id)).all()
        return tuple(users), tuple(stories), tuple(messages)


def token_of(client, path: str) -> str:
    page = client.get(f"{HTTPS}{path}").get_data(as_text=True)
    match = CSRF_INPUT.search(page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def signed_in(client) -> bool:
    return client.get(f"{HTTPS}/account").status_code == 200


def prepare(app, case: Case):
    """A client (signed in if the case needs it) and the case's path."""
    user_id = make_user(app)
    client = app.test_client()
    if case.signed_in:
        data = {"email": "ada@example.com", "password": PASSWORD}
        data["csrf_token"] = token_of(client, "/sign-in")
        response = client.post(f"{HTTPS}/sign-in", data=data, headers=GOOD_REFERER)
        assert response.status_code == 302
    path = case.path
    if case.own_story:
        story_id = make_story(app, user_id)
        if case.own_story == "deleted":
            with app.app_context():
                db.session.get(Story, story_id).soft_delete()
                db.session.commit()
        path = path.format(id=story_id)
    return client, path, case.form_page.format(id=path.split("/")[2] if case.own_story else "")


def refuse(client, path: str, form_page: str, data: dict, mode: str, clock):
    """POST ``data`` so that the CSRF check fails the way ``mode`` says."""
    if mode == "missing":
        return client.post(f"{HTTPS}{path}", data=data, headers=GOOD_REFERER)
    if mode == "wrong":
        forged = {**data, "csrf_token": "IjAwMDAi.forged.token"}
        return client.post(f"{HTTPS}{path}", data=forged, headers=GOOD_REFERER)
    token = token_of(client, form_page)
    if mode == "expired":
        clock.shift(dt.timedelta(hours=2))  # WTF_CSRF_TIME_LIMIT is one hour
        return client.post(
            f"{HTTPS}{path}", data={**data, "csrf_token": token}, headers=GOOD_REFERER
        )
    headers = {} if mode == "no-referer" else {"Referer": "https://evil.example/"}
    return client.post(f"{HTTPS}{path}", data={**data, "csrf_token": token}, headers=headers)


@pytest.mark.parametrize("mode", ["missing", "wrong", "expired", "no-referer", "foreign-referer"])
@pytest.mark.parametrize("name", list(CASES))
def test_a_refused_post_changes_nothing(app, name, mode):
    case = CASES[name]
    with time_machine.travel(START, tick=False) as clock:
        check_refusal(app, case, mode, clock)


def check_refusal(app, case: Case, mode: str, clock) -> None:
    name = case.path
    client, path, form_page = prepare(app, case)
    before = fingerprint(app)
    response = refuse(client, path, form_page, case.data, mode, clock)
    assert response.status_code == 400, response.get_data(as_text=True)[:500]
    assert fingerprint(app) == before, f"{name}: a refused request changed the database"
    assert signed_in(client) is case.signed_in, f"{name}: the session changed"
    page = response.get_data(as_text=True)
    assert MESSAGE in page
    if case.shows_form:
        assert CSRF_INPUT.search(page), "a fresh token to send the form again"
        for value in case.echo:
            assert value in page, f"{name}: the form lost {value!r}"


def test_the_same_posts_with_a_good_token_and_referer_do_change_things(app):
    """The refusals above are refusals: with the check passing, each view acts."""
    for name, case in CASES.items():
        with app.app_context():
            db.drop_all()
            db.create_all()
        client, path, form_page = prepare(app, case)
        before = fingerprint(app)
        state = signed_in(client)
        data = {**case.data, "csrf_token": token_of(client, form_page)}
        response = client.post(f"{HTTPS}{path}", data=data, headers=GOOD_REFERER)
        assert response.status_code in (302, 303), (name, response.status_code)
        changed = fingerprint(app) != before or signed_in(client) != state
        assert changed, f"{name}: an accepted request changed nothing"


@pytest.mark.settings(RATELIMIT_ENABLED=True)
@pytest.mark.parametrize("path", ["/sign-in", "/register", "/contact"])
def test_a_refusal_over_the_rate_limit_is_a_429_not_a_500(app, path):
    client = app.test_client()
    with time_machine.travel(START, tick=False):
        statuses = [
            client.post(path, data={"email": "a@example.com"}).status_code for _ in range(3)
        ]
    assert statuses == [400, 400, 429]
