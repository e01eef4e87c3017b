"""Keyset (cursor) pagination: every row reachable, no duplicates and no gaps while
rows come and go, on SQLite and the real PostgreSQL (issue 10)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models.story import Story
from app.models.user import User
from app.views.keyset import AFTER, BEFORE, InvalidCursor, Keyset, encode_cursor
from tests.test_auth import make_user, sign_in
from tests.test_stories import BODY, link

START = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
TITLE = re.compile(r">(Story \d{4})<")


def add_stories(app: Flask, author_id: int, numbers: range, *, same_time: bool = False) -> None:
    """Published stories "Story NNNN", one minute apart (or all at ``START``)."""
    with app.app_context():
        db.session.add_all(
            Story(
                title=f"Story {n:04d}",
                body=BODY,
                published=True,
                author_id=author_id,
                created_at=START if same_time else START + dt.timedelta(minutes=n),
            )
            for n in numbers
        )
        db.session.commit()


def titles(page: str) -> list[str]:
    """The story titles of a list page, in order."""
    return TITLE.findall(page)


def walk(client, path: str, rel: str = "next", between=None) -> list[list[str]]:
    """Follow ``rel`` links from ``path`` to the end: the titles of every page.

    ``between(n)`` runs after page ``n`` is read (inserts, deletes).
    """
    pages = []
    while True:
        response = client.get(path)
        assert response.status_code == 200, path
        body = response.get_data(as_text=True)
        pages.append(titles(body))
        if between is not None:
            between(len(pages))
        if f'rel="{rel}"' not in body:
            return pages
        path = link(body, rel)


def test_a_walk_reaches_every_story_with_ties_on_the_timestamp(any_db):
    author = make_user(any_db)
    add_stories(any_db, author, range(45), same_time=True)  # only the id orders them
    pages = walk(any_db.test_client(), "/stories/")
    assert [len(page) for page in pages] == [20, 20, 5]
    seen = [title for page in pages for title in page]
    assert seen == [f"Story {n:04d}" for n in reversed(range(45))]


def test_no_duplicates_and_no_gaps_while_rows_come_and_go(any_db):
    author = make_user(any_db)
    add_stories(any_db, author, range(100, 160))

    def change(page_number: int) -> None:
        with any_db.app_context():
            if page_number == 1:
                # Newer stories arrive while the reader is on page 1 ...
                add_stories(any_db, author, range(200, 205))
            if page_number == 2:
                # ... and a story the reader has not reached yet is deleted.
                story = db.session.scalars(select(Story).where(Story.title == "Story 0110")).one()
                story.soft_delete()
                db.session.commit()

    pages = walk(any_db.test_client(), "/stories/", between=change)
    seen = [title for page in pages for title in page]
    expected = [f"Story {n:04d}" for n in reversed(range(100, 160)) if n != 110]
    assert seen == expected, "every story that lived throughout, once, in order"


def test_walking_back_shows_the_same_pages(any_db):
    author = make_user(any_db)
    add_stories(any_db, author, range(50))
    client = any_db.test_client()
    forward = walk(client, "/stories/")
    last = client.get("/stories/").get_data(as_text=True)
    while 'rel="next"' in last:
        last = client.get(link(last, "next")).get_data(as_text=True)
    backward = walk(client, link(last, "prev"), rel="prev")
    assert list(reversed(backward)) == forward[:-1]


def test_newer_than_the_newest_is_the_first_page(any_db):
    author = make_user(any_db)
    add_stories(any_db, author, range(5))
    cursor = encode_cursor(BEFORE, [START + dt.timedelta(days=1), 1])
    page = any_db.test_client().get("/stories/", query_string={"cursor": cursor})
    body = page.get_data(as_text=True)
    assert titles(body) == [f"Story {n:04d}" for n in reversed(range(5))]
    assert 'rel="prev"' not in body


def test_past_the_end_says_so_and_leads_back(any_db):
    author = make_user(any_db)
    add_stories(any_db, author, range(3))
    cursor = encode_cursor(AFTER, [START - dt.timedelta(days=1), 1])
    body = any_db.test_client().get("/stories/", query_string={"cursor": cursor})
    text = body.get_data(as_text=True)
    assert body.status_code == 200
    assert "No more stories." in text
    assert 'href="/stories/">First</a>' in text
    newer = any_db.test_client().get(link(text, "prev")).get_data(as_text=True)
    assert titles(newer) == ["Story 0002", "Story 0001", "Story 0000"]


def test_the_trash_and_my_stories_walk_too(any_db):
    author = make_user(any_db)
    add_stories(any_db, author, range(30))
    with any_db.app_context():
        for story in db.session.scalars(select(Story)).all():
            story.soft_delete()
        db.session.commit()
    add_stories(any_db, author, range(100, 125))
    client = any_db.test_client()
    assert sign_in(client).status_code == 302
    trash = [title for page in walk(client, "/stories/trash") for title in page]
    assert sorted(trash) == [f"Story {n:04d}" for n in range(30)]
    assert len(set(trash)) == 30
    mine = walk(client, "/stories/mine")
    assert [len(page) for page in mine] == [20, 5]


def test_the_author_list_walks_by_name(any_db):
    for n in range(35):
        author = make_user(any_db, email=f"w{n}@example.com", name=f"Writer {34 - n:02d}")
        add_stories(any_db, author, range(n, n + 1))
    client = any_db.test_client()
    first = client.get("/users/").get_data(as_text=True)
    names = re.findall(r">(Writer \d\d)<", first)
    assert names == [f"Writer {n:02d}" for n in range(30)]
    rest = client.get(link(first, "next")).get_data(as_text=True)
    assert re.findall(r">(Writer \d\d)<", rest) == [f"Writer {n:02d}" for n in range(30, 35)]


# --- the Keyset class -------------------------------------------------------------


def test_a_keyset_refuses_mixed_directions_and_unknown_keys():
    with pytest.raises(ValueError, match="same direction"):
        Keyset(Story, ("-created_at", "id"))
    with pytest.raises(ValueError, match="no attribute 'nope'"):
        Keyset(Story, ("nope", "id"))
    with pytest.raises(ValueError, match="at least one key"):
        Keyset(Story, ())


def test_a_cursor_of_another_list_is_refused():
    stories = Keyset(Story, ("-created_at", "-id"))
    users = Keyset(User, ("display_name", "id"))
    cursor = users.cursor_for(User(id=3, display_name="Ada"), AFTER)
    with pytest.raises(InvalidCursor, match="damaged"):
        stories.decode(cursor)  # "Ada" is no timestamp
    assert users.decode(cursor) == (AFTER, ("Ada", 3))
    with pytest.raises(InvalidCursor, match="another list"):
        Keyset(Story, ("-id",)).decode(cursor)


def test_cursor_timestamps_come_back_in_utc():
    stories = Keyset(Story, ("-created_at", "-id"))
    moment = dt.datetime(2030, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    direction, (when, story_id) = stories.decode(encode_cursor(BEFORE, [moment, 7]))
    assert (direction, when, when.tzinfo, story_id) == (BEFORE, moment, dt.UTC, 7)
