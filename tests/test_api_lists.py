"""API lists: cursor walks with writes in between, Link headers, parameters,
and hostile input on SQLite and PostgreSQL (never a 500)."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from app.extensions import db
from app.models.base import utcnow
from app.models.story import Story
from app.models.user import User
from tests.api_client import ApiClient
from tests.helpers import problem
from tests.test_auth import make_user

LINK = re.compile(r'<([^>]+)>; rel="(next|prev)"')
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def add_stories(app, author_id: int, count: int, *, start: int = 0, same_time: bool = False):
    """``count`` published stories, one minute apart (or all at one moment)."""
    with app.app_context():
        stories = [
            Story(
                title=f"Story {start + n}",
                body="b",
                published=True,
                author_id=author_id,
                created_at=START if same_time else START + dt.timedelta(minutes=start + n),
            )
            for n in range(count)
        ]
        db.session.add_all(stories)
        db.session.commit()
        return [story.id for story in stories]


def links(response) -> dict[str, str]:
    return {rel: url for url, rel in LINK.findall(response.headers.get("Link", ""))}


def walk(client, first: str, rel: str = "next", between=None) -> list[int]:
    """Follow ``rel`` links from ``first``; ``between(page_number)`` runs before each next page."""
    seen: list[int] = []
    url = first
    page = 0
    while url:
        response = client.client.get(url)
        assert response.status_code == 200, response.get_data(as_text=True)
        seen += [story["id"] for story in response.get_json()]
        url = links(response).get(rel)
        page += 1
        if between is not None and url:
            between(page)
    return seen


@pytest.mark.parametrize("same_time", [False, True])
def test_walk_with_inserts_and_deletes_has_no_duplicates_or_gaps(app, same_time):
    author = make_user(app)
    ids = add_stories(app, author, 45, same_time=same_time)
    deleted: set[int] = set()

    def meanwhile(page: int) -> None:
        # A new story (it belongs before the walk's position: not seen) and,
        # early on, a deletion of one of the oldest rows (not yet reached).
        add_stories(app, author, 1, start=1000 + page, same_time=same_time)
        if page > 3:
            return
        with app.app_context():
            victim = db.session.get(Story, ids[page - 1])
            victim.soft_delete()
            db.session.commit()
            deleted.add(victim.id)

    client = ApiClient(app)
    seen = walk(client, "/api/v1/stories?limit=7", between=meanwhile)
    assert len(seen) == len(set(seen))
    if not same_time:
        # Newest first: every original story not deleted during the walk, in order.
        assert seen == [i for i in reversed(ids) if i not in deleted]
    else:
        assert set(ids) - deleted == set(seen) - set(range(ids[-1] + 1, ids[-1] + 100))


def test_prev_links_walk_back_to_the_start(app):
    ids = add_stories(app, make_user(app), 25)
    client = ApiClient(app)
    forward = walk(client, "/api/v1/stories?limit=10&sort=created_at")
    assert forward == ids
    last = client.get("/stories?limit=10&sort=created_at")
    while "next" in links(last):
        last = client.client.get(links(last)["next"])
    back = walk(client, links(last)["prev"], rel="prev")
    assert sorted(back) == ids[:20]


def test_links_are_absolute_keep_filters_and_honour_the_prefix(app):
    add_stories(app, make_user(app), 3)
    client = ApiClient(app)
    response = client.client.get(
        "/api/v1/stories?limit=1&published=true", base_url="http://localhost/prefix/"
    )
    next_url = links(response)["next"]
    assert next_url.startswith("http://localhost/prefix/api/v1/stories?")
    assert "published=true" in next_url
    assert "limit=1" in next_url


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=101",
        "limit=abc",
        "sort=title",
        "author=0",
        "author=2147483648",
        "author=99999999999999999999999999",
        "published=yes",
        "created_after=2026-01-01T00:00:00",
        "created_after=yesterday",
        "created_after=0001-01-01T00:00:00%2B01:00",
        "unknown=1",
        "include_deleted=maybe",
        "cursor=" + "a" * 600,
    ],
)
def test_bad_parameters_are_422(app, query):
    response = ApiClient(app).get(f"/stories?{query}")
    assert response.status_code == 422, query
    assert problem(response)["errors"]


def test_filters(app):
    one, two = make_user(app), make_user(app, email="b@example.com", name="B")
    mine = add_stories(app, one, 3)
    add_stories(app, two, 2, start=10)
    client = ApiClient(app)
    by_one = client.get(f"/stories?author={one}").get_json()
    assert sorted(story["id"] for story in by_one) == mine
    after = (START + dt.timedelta(minutes=1)).isoformat()
    recent = client.get("/stories", query_string={"created_after": after}).get_json()
    assert len(recent) == 3  # minute 2 of the first author, minutes 10 and 11 of the second


# --- hostile input, SQLite and PostgreSQL ------------------------------------------
HOSTILE_QUERIES = [
    "cursor=%00",
    "cursor=WyJuIiwiMjAyNi0wMS0wMVQwMDowMDowMCswMDowMCIsOTk5OTk5OTk5OTk5OTk5OTk5OTk5XQ",
    "cursor=WyJuIiwiMDAwMS0wMS0wMVQwMDowMCswMTowMCIsMV0",
    "cursor=WyJ4Il0",
    "cursor=%F0%9F%92%A9",
    "author=9223372036854775808",
    "limit=1e400",
    "created_after=9999-12-31T23:59:59-23:59",
    "published=%00",
]


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
def test_hostile_queries_are_4xx_on_each_database(any_db, query):
    with any_db.app_context():
        db.session.add(User(email="h@example.com", display_name="H", password_hash="x"))
        db.session.commit()
    response = any_db.test_client().get(f"/api/v1/stories?{query}")
    assert 400 <= response.status_code < 500, (query, response.get_data(as_text=True))
    problem(response)


@pytest.mark.parametrize(
    "payload",
    [
        {"title": "NUL\x00 inside", "body": "x\x00y"},
        {"title": "t", "body": "b", "published": 10**30},
        {"title": ["a"], "body": {"b": 1}},
        {"title": "\ud800", "body": "b"},
        {"title": "t" * 100_000, "body": "b"},
    ],
)
def test_hostile_bodies_never_500_on_each_database(any_db, payload):
    with any_db.app_context():
        user = User(
            email="h@example.com",
            display_name="H",
            password_hash=any_db.extensions["passwords"].hash("correct horse battery staple"),
            email_confirmed_at=utcnow(),
        )
        db.session.add(user)
        db.session.commit()
    client = ApiClient(any_db, "h")
    response = client.post("/stories", payload)
    assert response.status_code in (201, 422), response.get_data(as_text=True)
    if response.status_code == 201:
        assert "\x00" not in response.get_json()["title"] + response.get_json()["body"]
    else:
        problem(response)


def test_deep_json_is_400_on_each_database(any_db):
    response = any_db.test_client().post(
        "/api/v1/stories",
        data="[" * 200_000,
        headers={"Content-Type": "application/json"},
    )
    # The CSRF check runs first for a cookie-less client; either way not a 500.
    assert problem(response)["status"] == 400
