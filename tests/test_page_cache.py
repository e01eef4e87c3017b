"""Anonymous list pages are kept a second per worker, and never outlive a commit here
(app/views/page_cache.py)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from flask import session as flask_session
from flask import template_rendered
from sqlalchemy import text

from app.extensions import db
from app.models.story import Story
from app.views import ListView
from app.views.page_cache import PageCache, pages_unchanged
from flask_bastion.headers import csp_nonce
from tests.test_auth import make_user, sign_in
from tests.test_stories import make_story
from tests.test_views import count_queries


class Clock:
    """A clock the test moves by hand (seconds)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(app, monkeypatch) -> Clock:
    """The page cache's clock, under the test's control."""
    fake = Clock()
    monkeypatch.setattr(app.extensions["bastion.page_cache"], "now", fake)
    return fake


def queries_for(app, client, path: str) -> tuple[int, str]:
    """How many statements ``GET path`` ran, and the page."""
    with count_queries(app) as statements:
        response = client.get(path)
    assert response.status_code == 200, path
    return len(statements), response.get_data(as_text=True)


def test_anonymous_pages_are_read_once_a_second(app, clock):
    make_story(app, make_user(app), title="Kept a second")
    client = app.test_client()
    assert queries_for(app, client, "/stories/")[0] == 1
    count, page = queries_for(app, client, "/stories/")
    assert count == 0, "served from memory"
    assert "Kept a second" in page
    assert queries_for(app, client, "/users/")[0] == 2, "each list has its own pages"
    assert queries_for(app, client, "/users/")[0] == 0, "the authors' counts are kept too"
    assert queries_for(app, client, "/")[0] == 1, "the home page's stories are a list too"
    assert queries_for(app, client, "/")[0] == 0
    clock.now += 1.0
    assert queries_for(app, client, "/stories/")[0] == 1, "a second later: read again"


def test_a_commit_in_this_process_shows_at_once(app, clock):
    author = make_user(app)
    client = app.test_client()
    assert "No stories yet" in queries_for(app, client, "/stories/")[1]
    make_story(app, author, title="Fresh off the press")  # an ORM commit
    assert "Fresh off the press" in queries_for(app, client, "/stories/")[1]


def test_another_worker_s_change_shows_within_the_second(app, clock):
    """A change this process did not commit (another worker's) waits for the second to end."""
    author = make_user(app)
    make_story(app, author, title="Before")
    client = app.test_client()
    assert "Before" in queries_for(app, client, "/stories/")[1]
    with app.app_context(), db.engine.connect() as connection:  # no ORM session: no event
        connection.execute(text("UPDATE story SET title = 'After'"))
        connection.commit()
    assert "Before" in queries_for(app, client, "/stories/")[1], "still this second's page"
    clock.now += 1.0
    assert "After" in queries_for(app, client, "/stories/")[1]


def test_signed_in_visitors_always_read_the_database(app, clock):
    make_story(app, make_user(app))
    client = app.test_client()
    assert sign_in(client).status_code == 302
    for _ in range(2):
        assert queries_for(app, client, "/stories/")[0] == 2  # the account, the rows


def test_each_cursor_is_its_own_page_and_refusals_are_not_kept(app, clock):
    author = make_user(app)
    for n in range(25):
        make_story(app, author, title=f"Story {n:02d}")
    client = app.test_client()
    first = queries_for(app, client, "/stories/")[1]
    [older] = [line for line in first.split('"') if line.startswith("/stories/?cursor=")]
    older = older.replace("&amp;", "&")
    count, second = queries_for(app, client, older)
    assert count == 1
    assert "Story 00" in second
    assert "Story 24" not in second
    for _ in range(2):
        assert client.get("/stories/?cursor=damaged").status_code == 400
    assert not any("damaged" in key for key in app.extensions["bastion.page_cache"].entries)


@pytest.mark.settings(LIST_CACHE_SECONDS=0)
def test_zero_seconds_keeps_nothing(app):
    client = app.test_client()
    for _ in range(2):
        assert queries_for(app, client, "/stories/")[0] == 1
    assert app.extensions["bastion.page_cache"].entries == {}


def test_the_oldest_pages_go_first():
    cache = PageCache(seconds=60, max_entries=2)
    for key in ("a", "b", "c"):
        cache.put((key,), key.upper())
    assert [cache.get((key,)) for key in ("a", "b", "c")] == [None, "B", "C"]


# --- the rendered page, for visitors without a session ---------------------


def renders_for(app, client, path: str, **kwargs):
    """``GET path``: the response and how many templates were rendered for it."""
    rendered = []

    def note(sender, template, context, **extra):
        rendered.append(template.name)

    with template_rendered.connected_to(note, app):
        response = client.get(path, **kwargs)
    assert response.status_code == 200, path
    return response, rendered


def nonces(response) -> set[str]:
    """The CSP nonces printed in the page."""
    return set(re.findall(r'nonce="([^"]+)"', response.text))


def test_a_visitor_without_a_session_gets_the_second_s_page_with_a_fresh_nonce(app, clock):
    make_story(app, make_user(app), title="Rendered once")
    first, rendered = renders_for(app, app.test_client(), "/stories/")
    assert "stories/list.html" in rendered
    second, rendered = renders_for(app, app.test_client(), "/stories/")
    assert rendered == [], "served from memory, not rendered again"
    assert "Rendered once" in second.text
    [nonce] = nonces(second)
    assert nonces(first) != {nonce}, "every response has its own nonce"
    assert f"'nonce-{nonce}'" in second.headers["Content-Security-Policy"]
    assert second.text.replace(nonce, "N") == first.text.replace(nonces(first).pop(), "N")
    clock.now += 1.0
    assert "stories/list.html" in renders_for(app, app.test_client(), "/stories/")[1]


def test_a_visitor_with_a_session_gets_their_own_page(app, clock):
    make_story(app, make_user(app), title="Kept rows")
    renders_for(app, app.test_client(), "/")  # the page is now kept
    client = app.test_client()
    with client.session_transaction() as session:
        session["_flashes"] = [("info", "Only for this visitor.")]
    response, rendered = renders_for(app, client, "/")
    assert rendered == ["main/home.html"]
    assert "Only for this visitor." in response.text
    assert "Only for this visitor." not in renders_for(app, app.test_client(), "/")[0].text


@pytest.mark.own_app
def test_a_page_that_writes_the_session_is_not_kept(app, clock):
    renders = []

    class Touching(ListView):
        model = Story
        cache_anonymous = True

        def render(self, **context):
            renders.append(1)
            flask_session["seen"] = "yes"  # e.g. a CSRF token made for this visitor
            return f'<script nonce="{csp_nonce()}"></script>'

    app.add_url_rule("/touching", view_func=Touching.as_view("touching"))
    for _ in range(2):
        assert app.test_client().get("/touching").status_code == 200
    assert len(renders) == 2


def test_hosts_and_prefixes_have_their_own_pages(app, clock):
    renders_for(app, app.test_client(), "/")
    other = renders_for(app, app.test_client(), "/", environ_overrides={"SCRIPT_NAME": "/p"})
    assert 'href="/p/stories/"' in other[0].text
    assert other[1] == ["main/home.html"]


def test_bookkeeping_commits_keep_the_pages(app, clock):
    make_story(app, make_user(app), title="Still kept")
    client = app.test_client()
    queries_for(app, client, "/stories/")
    with app.app_context():
        with pages_unchanged(db.session()):
            db.session.execute(text("UPDATE story SET title = 'Changed quietly'"))
            db.session.commit()
        assert queries_for(app, client, "/stories/")[0] == 0, "kept through that commit"
        make_story(app, make_user(app, email="second@example.com"), title="A real change")
    assert "A real change" in queries_for(app, client, "/stories/")[1]


def test_a_signed_in_visit_does_not_empty_the_caches(app, clock):
    make_story(app, make_user(app))
    member = app.test_client()
    assert sign_in(member).status_code == 302
    anonymous = app.test_client()
    queries_for(app, anonymous, "/stories/")
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5), tick=False):
        with count_queries(app) as statements:
            assert member.get("/about").status_code == 200
        assert any(s.lstrip().upper().startswith("UPDATE") for s in statements), "last seen"
    assert queries_for(app, anonymous, "/stories/")[0] == 0


@pytest.mark.settings(RATELIMIT_ENABLED=True, RATELIMIT_DEFAULT="100 per second")
def test_a_visit_without_cookies_loads_no_user(app, clock):
    """No sign-in cookie, nobody signed in (app/visitors.py): a kept page is served
    with no user loaded, by the rate-limit key and the cache alike; with a cookie,
    Flask-Login loads the user as ever."""
    from flask_login import user_accessed

    make_story(app, make_user(app), title="Read by strangers")
    loads: list[object] = []

    def count(sender: object, **extra: object) -> None:
        loads.append(sender)

    with user_accessed.connected_to(count, app):
        stranger = app.test_client()
        assert "Read by strangers" in stranger.get("/stories/").get_data(as_text=True)
        kept = stranger.get("/stories/")
        assert kept.status_code == 200
        assert "Read by strangers" in kept.get_data(as_text=True)
        assert "X-RateLimit-Remaining" in kept.headers, "counted, by address"
        assert loads == [app], "only the first visit rendered the page (its navbar asks)"
        with_cookie = app.test_client()
        with_cookie.set_cookie("remember_token", "not-a-valid-token")
        assert with_cookie.get("/stories/").status_code == 200
        assert len(loads) == 2
