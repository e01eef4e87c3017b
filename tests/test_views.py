"""The generic views on two models, pagination details, and queries per page."""

from __future__ import annotations

import datetime as dt
import re
from contextlib import contextmanager

import pytest
import time_machine
from sqlalchemy import event, select

from app.extensions import db
from app.models.story import Story
from app.models.user import User
from app.stories.forms import StoryForm
from app.stories.policy import with_author
from app.views import DeleteView, DetailView, ListView, UpdateView
from tests.helpers import csrf_token, post_form
from tests.test_auth import make_user, sign_in
from tests.test_stories import BODY, load_story, make_many, make_story, next_link


@contextmanager
def count_queries(app):
    """Count the SQL statements run while the block executes."""
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def many_authors(app, count: int) -> list[int]:
    ids = [
        make_user(app, email=f"writer{n}@example.com", name=f"Writer {n:02d}") for n in range(count)
    ]
    for n, author_id in enumerate(ids):
        make_story(app, author_id, title=f"By writer {n:02d}")
    return ids


# --- the same classes serve users --------------------------------------------


def test_author_list_and_profile_use_the_generic_views(app):
    ids = many_authors(app, 3)
    silent = make_user(app, email="silent@example.com", name="Silent")
    make_story(app, silent, published=False)
    page = app.test_client().get("/users/").get_data(as_text=True)
    assert page.index("Writer 00") < page.index("Writer 02")
    assert "Silent" not in page, "only people who published"
    profile = app.test_client().get(f"/users/{ids[1]}").get_data(as_text=True)
    assert "Writer 01" in profile
    assert "By writer 01" in profile
    assert "writer1@example.com" not in profile, "email addresses are never public"
    assert app.test_client().get("/users/999").status_code == 404
    for view in ("users.index", "stories.index"):
        assert issubclass(app.view_functions[view].view_class, ListView)


def test_profile_lists_only_published_live_stories(app):
    author = make_user(app, email="w@example.com", name="Writer")
    make_story(app, author, title="Public one")
    make_story(app, author, title="Hidden draft", published=False)
    gone = make_story(app, author, title="Gone one")
    with app.app_context():
        db.session.get(Story, gone).soft_delete()
        db.session.commit()
    profile = app.test_client().get(f"/users/{author}").get_data(as_text=True)
    assert "Public one" in profile
    assert "Hidden draft" not in profile
    assert "Gone one" not in profile


def test_authors_whose_stories_are_all_deleted_are_not_listed(app):
    author = make_user(app, email="w@example.com", name="Vanished")
    story_id = make_story(app, author)
    with app.app_context():
        db.session.get(Story, story_id).soft_delete()
        db.session.commit()
    assert "Vanished" not in app.test_client().get("/users/").get_data(as_text=True)


def test_disabled_authors_have_no_public_page(app):
    author = make_user(app, email="w@example.com", name="Writer", is_disabled=True)
    make_story(app, author)
    assert app.test_client().get(f"/users/{author}").status_code == 404
    assert "Writer" not in app.test_client().get("/users/").get_data(as_text=True)


# --- a subclass decides: rows, what may be seen, what may be changed ----------


class StoriesBy(ListView):
    """Every story of the author in the URL, drafts too."""

    model = Story
    template = "stories/list.html"

    def get_query(self, author_id):
        return with_author(select(Story).where(Story.author_id == author_id)).order_by(Story.id)


class StoryByTitle(DetailView):
    """A story named by its title, except one."""

    model = Story
    template = "stories/detail.html"
    lookup = "title"

    def get_query(self):
        return with_author(select(Story))

    def can_view(self, story):
        return story.title != "Hidden"


class DraftEditor(UpdateView):
    """Anyone may rename a draft, no one a published story: ``can_edit`` alone decides."""

    model = Story
    template = "stories/form.html"
    form_class = StoryForm

    def can_edit(self, story):
        return not story.published

    def populate(self, story, form):
        story.title = form.title.data

    def success_url(self, story):
        return f"/drafts/{story.id}"


@pytest.mark.own_app
def test_get_query_takes_the_url_values_and_can_view_hides_rows(app):
    app.add_url_rule("/by/<int:author_id>", view_func=StoriesBy.as_view("by"))
    app.add_url_rule("/titled/<title>", view_func=StoryByTitle.as_view("titled"))
    one = make_user(app, email="one@example.com", name="One")
    two = make_user(app, email="two@example.com", name="Two")
    make_story(app, one, title="First one")
    make_story(app, one, title="Hidden", published=False)
    make_story(app, two, title="Second one")
    client = app.test_client()
    page = client.get(f"/by/{one}").get_data(as_text=True)
    assert "First one" in page
    assert "Hidden" in page, "this query includes drafts"
    assert "Second one" not in page
    assert client.get("/titled/Second one").status_code == 200
    assert client.get("/titled/Hidden").status_code == 404
    assert client.get("/titled/Nothing").status_code == 404


@pytest.mark.own_app
def test_can_edit_decides_what_is_forbidden(app):
    app.add_url_rule("/drafts/<int:id>", view_func=DraftEditor.as_view("drafts"))
    author = make_user(app)
    draft = make_story(app, author, title="Draft", published=False)
    public = make_story(app, author, title="Public")
    client = app.test_client()  # no decorators: anonymous visitors too
    assert client.get(f"/drafts/{public}").status_code == 403
    assert (
        post_form(client, f"/drafts/{public}", "/contact", title="X", body=BODY).status_code == 403
    )
    assert load_story(app, public).title == "Public"
    assert client.get("/drafts/999").status_code == 404
    response = post_form(client, f"/drafts/{draft}", title="Renamed", body=BODY)
    assert response.headers["Location"] == f"/drafts/{draft}"
    assert load_story(app, draft).title == "Renamed"
    with client.session_transaction() as session:
        assert "_flashes" not in session, "no message, nothing flashed"


class AnyoneDeletes(DeleteView):
    """No permission methods: the defaults let everyone see and change every row."""

    model = Story

    def success_url(self, story):
        return "/"


@pytest.mark.own_app
def test_default_permissions_allow_everyone(app):
    app.add_url_rule("/wipe/<int:id>", view_func=AnyoneDeletes.as_view("wipe"))
    story_id = make_story(app, make_user(app))
    response = post_form(app.test_client(), f"/wipe/{story_id}", "/contact")
    assert response.status_code == 302
    assert load_story(app, story_id).deleted_at is not None


def test_methods_follow_the_handlers_a_view_has(app):
    methods = {name: app.view_functions[f"stories.{name}"].methods for name in ("index", "edit")}
    assert methods == {"index": {"GET"}, "edit": {"GET", "POST"}}
    # Delete asks first (GET: the confirmation page); restore is one click from the trash.
    assert app.view_functions["stories.delete"].methods == {"GET", "POST"}
    assert app.view_functions["stories.restore"].methods == {"POST"}


# --- queries per page: bounded, no N+1 ----------------------------------------


@pytest.mark.settings(LIST_CACHE_SECONDS=0)  # count the queries of every request
@pytest.mark.parametrize("authors", [2, 20])
def test_story_list_runs_the_same_queries_whatever_the_authors(app, authors):
    many_authors(app, authors)
    client = app.test_client()
    client.get("/stories/")  # warm-up
    with count_queries(app) as statements:
        assert client.get("/stories/").status_code == 200
    assert len(statements) == 1, statements  # the page's rows with authors and the capped count


def test_story_page_is_one_query(app):
    [_author] = many_authors(app, 1)
    with app.app_context():
        story_id = db.session.scalar(select(Story.id))
    client = app.test_client()
    with count_queries(app) as statements:
        assert client.get(f"/stories/{story_id}").status_code == 200
    assert len(statements) == 1


def test_signed_in_pages_add_only_the_user_lookup(app):
    many_authors(app, 5)
    make_story(app, make_user(app))
    client = app.test_client()
    sign_in(client)
    with count_queries(app) as statements:
        client.get("/stories/mine")
    assert len(statements) == 2  # the account, the rows


def test_profile_is_three_queries_however_many_stories(app):
    [author] = many_authors(app, 1)
    make_many(app, author, 60)
    with count_queries(app) as statements:
        page = app.test_client().get(f"/users/{author}").get_data(as_text=True)
    assert len(statements) == 3  # the author, how many stories, one page of them
    assert len(re.findall(r'href="/stories/\d+"', page)) == 20, "a page of 20 on a profile"
    rest = app.test_client().get(next_link(page)).get_data(as_text=True)
    assert len(re.findall(r'href="/stories/\d+"', rest)) == 20
    assert f'href="/users/{author}">First</a>' in rest


# --- pagination ---------------------------------------------------------------


@pytest.mark.own_app
def test_per_page_is_capped(app):
    class Everything(ListView):
        model = Story
        template = "stories/list.html"
        per_page = 10_000

        def get_query(self, **values):
            return with_author(select(Story))

    app.add_url_rule("/everything", view_func=Everything.as_view("everything"))
    [author] = many_authors(app, 1)
    make_many(app, author, 150)
    client = app.test_client()
    first = client.get("/everything").get_data(as_text=True)
    assert len(re.findall(r'href="/stories/\d+"', first)) == 100
    # The template links to stories.index; the cursor is the same for this view.
    cursor = next_link(first).split("?", 1)[1]
    last = client.get(f"/everything?{cursor}").get_data(as_text=True)
    assert len(re.findall(r'href="/stories/\d+"', last)) == 51


# --- form views ---------------------------------------------------------------


def test_expired_token_on_the_story_form_keeps_the_text(app):
    make_user(app)
    client = app.test_client()
    start = dt.datetime(2031, 1, 1, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        sign_in(client)
        token = csrf_token(client, "/stories/new")
    with time_machine.travel(start + dt.timedelta(hours=3), tick=False):
        response = client.post(
            "/stories/new",
            data={"csrf_token": token, "title": "Long work", "body": "Hours of writing kept."},
        )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'value="Long work"' in page
    assert "Hours of writing kept." in page
    with app.app_context():
        assert db.session.scalars(select(User)).first() is not None
        assert db.session.scalar(select(Story)) is None


@pytest.mark.settings(LIST_CACHE_SECONDS=0)  # count the queries of every request
def test_an_empty_list_is_one_statement(app):
    client = app.test_client()
    client.get("/stories/")  # warm-up
    with count_queries(app) as statements:
        page = client.get("/stories/")
    assert page.status_code == 200
    assert "No stories yet" in page.get_data(as_text=True)
    assert len(statements) == 1
    assert "count(" not in statements[0].lower(), "a keyset page counts nothing"


# --- list pages read outside a transaction (PostgreSQL) ----------------------------


@contextmanager
def autocommit_per_statement(app):
    """Whether the driver connection was in autocommit mode, for each statement run."""
    modes: list[bool] = []

    def record(conn, cursor, statement, *args):
        modes.append(conn.connection.dbapi_connection.autocommit)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield modes
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.mark.postgres
def test_anonymous_list_reads_without_begin_and_the_pool_gets_transactions_back(production_pg_app):
    app = production_pg_app
    many_authors(app, 3)
    client = app.test_client()
    with autocommit_per_statement(app) as modes:
        assert client.get("/stories/").status_code == 200
    assert modes == [True], "one SELECT, no BEGIN/ROLLBACK round trips"
    # The connection went back to the pool in its normal mode: a write that is
    # rolled back leaves nothing behind.
    with app.app_context():
        with db.engine.connect() as connection:
            assert connection.connection.dbapi_connection.autocommit is False
            assert connection.get_isolation_level() == "READ COMMITTED"
        db.session.add(Story(title="Never kept", body=BODY, published=True, author_id=1))
        db.session.flush()
        db.session.rollback()
        assert db.session.scalar(select(Story).where(Story.title == "Never kept")) is None


@pytest.mark.postgres
def test_signed_in_lists_stay_in_the_request_s_transaction(production_pg_app):
    app = production_pg_app
    many_authors(app, 2)
    make_story(app, make_user(app))
    client = app.test_client()
    assert sign_in(client).status_code == 302
    with autocommit_per_statement(app) as modes:
        assert client.get("/stories/mine").status_code == 200
    assert modes == [False, False], "the account, then the rows: one transaction"
