"""Stories: pages, the authorization matrix, soft delete and restore from the UI."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import INCLUDE_DELETED
from app.models.story import Story
from app.models.user import User
from tests.helpers import post_form
from tests.test_auth import sign_in

BODY = "Once upon a time, **a story** began."


def make_story(app, author_id: int, title="A story", body=BODY, published=True, **fields) -> int:
    with app.app_context():
        story = Story(title=title, body=body, published=published, author_id=author_id, **fields)
        db.session.add(story)
        db.session.commit()
        return story.id


def load_story(app, story_id: int) -> Story | None:
    with app.app_context():
        statement = select(Story).where(Story.id == story_id)
        return db.session.scalar(statement.execution_options(**{INCLUDE_DELETED: True}))


def client_as(app, who: str | None):
    client = app.test_client()
    if who is not None:
        assert sign_in(client, email=f"{who}@example.com").status_code == 302
    return client


# --- writing --------------------------------------------------------------


def test_author_writes_a_story_and_everyone_reads_it(app, people):
    author = client_as(app, "author")
    response = post_form(
        author, "/stories/new", "/stories/new", title="My tale", body=BODY, published="y"
    )
    assert response.status_code == 302
    story_path = response.headers["Location"]
    page = app.test_client().get(story_path).get_data(as_text=True)
    assert "My tale" in page
    assert "<strong>a story</strong>" in page
    assert "My tale" in app.test_client().get("/stories/").get_data(as_text=True)


def test_story_form_keeps_the_input_on_errors(app, people):
    author = client_as(app, "author")
    response = post_form(author, "/stories/new", "/stories/new", title="", body="Kept text here")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Please give your story a title." in page
    assert "Kept text here" in page


def test_control_characters_are_removed_before_saving(app, people):
    author = client_as(app, "author")
    title = "Safe\b\b\b\bEvil \u202etitle\x00"
    body = "Line one\r\nLine two\x1b[31m red\x07 \u2066hidden\u2069 café ✓"
    response = post_form(author, "/stories/new", "/stories/new", title=title, body=body)
    story_id = int(response.headers["Location"].rsplit("/", 1)[1])
    story = load_story(app, story_id)
    assert story.title == "SafeEvil title"
    assert story.body == "Line one\nLine two[31m red hidden café ✓"


def test_drafts_are_private_until_published(app, people):
    story_id = make_story(app, people["author"], title="Secret draft", published=False)
    assert app.test_client().get(f"/stories/{story_id}").status_code == 404
    assert client_as(app, "other").get(f"/stories/{story_id}").status_code == 404
    assert client_as(app, "author").get(f"/stories/{story_id}").status_code == 200
    assert client_as(app, "admin").get(f"/stories/{story_id}").status_code == 200
    assert "Secret draft" not in app.test_client().get("/stories/").get_data(as_text=True)
    mine = client_as(app, "author").get("/stories/mine").get_data(as_text=True)
    assert "Secret draft" in mine
    assert "Draft" in mine


# --- authorization matrix ---------------------------------------------------

#: (who, expected status) for edit GET, edit POST, delete POST and restore POST.
MATRIX = [(None, 302), ("other", 403), ("author", None), ("admin", None)]


@pytest.mark.parametrize(("who", "denied"), MATRIX)
def test_edit_matrix(app, people, who, denied):
    story_id = make_story(app, people["author"])
    client = client_as(app, who)
    form_page = client.get(f"/stories/{story_id}/edit")
    response = post_form(
        client, f"/stories/{story_id}/edit", "/contact", title="Changed", body=BODY
    )
    if denied:
        assert form_page.status_code == denied
        assert response.status_code == denied
        assert load_story(app, story_id).title == "A story"
    else:
        assert form_page.status_code == 200
        assert 'value="A story"' in form_page.get_data(as_text=True)
        assert response.status_code == 302
        assert load_story(app, story_id).title == "Changed"


@pytest.mark.parametrize(("who", "denied"), MATRIX)
def test_delete_and_restore_matrix(app, people, who, denied):
    story_id = make_story(app, people["author"])
    client = client_as(app, who)
    confirmation = client.get(f"/stories/{story_id}/delete")
    assert confirmation.status_code == (denied or 200)
    response = post_form(client, f"/stories/{story_id}/delete", "/contact")
    if denied:
        assert response.status_code == denied
        assert load_story(app, story_id).deleted_at is None
        with app.app_context():
            db.session.get(Story, story_id).soft_delete()
            db.session.commit()
    else:
        assert response.status_code == 302
        assert load_story(app, story_id).deleted_at is not None
    restore = post_form(client, f"/stories/{story_id}/restore", "/contact")
    if denied:
        # Someone else's deleted story is hidden, not forbidden: nothing tells it exists.
        assert restore.status_code == (404 if denied == 403 else denied)
        assert load_story(app, story_id).deleted_at is not None
    else:
        assert restore.status_code == 302
        assert load_story(app, story_id).deleted_at is None


def test_others_drafts_are_not_found_rather_than_forbidden(app, people):
    story_id = make_story(app, people["author"], published=False)
    client = client_as(app, "other")
    assert client.get(f"/stories/{story_id}/edit").status_code == 404
    assert post_form(client, f"/stories/{story_id}/delete", "/contact").status_code == 404


def test_delete_and_edit_need_post_and_csrf(app, people):
    story_id = make_story(app, people["author"])
    author = client_as(app, "author")
    assert author.post(f"/stories/{story_id}/delete").status_code == 400
    assert load_story(app, story_id).deleted_at is None


def test_own_pages_need_sign_in(app):
    for path in ("/stories/new", "/stories/mine", "/stories/trash"):
        response = app.test_client().get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/sign-in?next=")


# --- soft delete and restore through the UI ---------------------------------


def test_deleted_story_goes_to_the_trash_and_comes_back(app, people):
    story_id = make_story(app, people["author"], title="Lost and found")
    author = client_as(app, "author")
    post_form(author, f"/stories/{story_id}/delete", "/contact")
    assert app.test_client().get(f"/stories/{story_id}").status_code == 404
    assert "Lost and found" not in app.test_client().get("/stories/").get_data(as_text=True)
    trash = author.get("/stories/trash").get_data(as_text=True)
    assert "Lost and found" in trash
    assert (
        client_as(app, "other").get("/stories/trash").get_data(as_text=True).count("Lost and found")
        == 0
    )
    restored = post_form(author, f"/stories/{story_id}/restore", "/contact")
    assert restored.headers["Location"] == f"/stories/{story_id}"
    assert "“Lost and found” has been restored." in author.get(restored.headers["Location"]).text
    assert app.test_client().get(f"/stories/{story_id}").status_code == 200
    assert "The trash is empty." in author.get("/stories/trash").text


def test_restoring_a_live_story_is_not_found(app, people):
    story_id = make_story(app, people["author"])
    author = client_as(app, "author")
    assert post_form(author, f"/stories/{story_id}/restore", "/contact").status_code == 404


def test_stories_of_deleted_accounts_are_hidden(app, people):
    story_id = make_story(app, people["author"], title="Orphan")
    with app.app_context():
        db.session.get(User, people["author"]).soft_delete()
        db.session.commit()
    assert app.test_client().get(f"/stories/{story_id}").status_code == 404
    assert "Orphan" not in app.test_client().get("/stories/").get_data(as_text=True)
    assert app.test_client().get(f"/users/{people['author']}").status_code == 404


# --- lists and pagination ---------------------------------------------------


def make_many(app, author_id: int, count: int) -> None:
    start = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    with app.app_context():
        db.session.add_all(
            Story(
                title=f"Story {n:03d}",
                body=BODY,
                published=True,
                author_id=author_id,
                created_at=start + dt.timedelta(minutes=n),
            )
            for n in range(count)
        )
        db.session.commit()


def test_public_list_is_newest_first_and_every_story_reachable(app, people):
    make_many(app, people["author"], 45)
    client = app.test_client()
    first = client.get("/stories/").get_data(as_text=True)
    assert first.index("Story 044") < first.index("Story 043")
    assert "Story 024" not in first
    assert 'rel="prev"' not in first
    second = client.get(next_link(first)).get_data(as_text=True)
    assert "Story 024" in second
    assert "Story 025" not in second
    third = client.get(next_link(second)).get_data(as_text=True)
    assert "Story 004" in third
    assert "Story 000" in third
    assert 'rel="next"' not in third
    assert 'href="/stories/">First</a>' in third
    back = client.get(link(third, "prev")).get_data(as_text=True)
    assert re.findall(r"Story \d{3}", back) == re.findall(r"Story \d{3}", second)


def link(page: str, rel: str) -> str:
    """The ``href`` of the ``rel`` ("next" or "prev") pager link of ``page``."""
    [href] = re.findall(rf'href="([^"]+)" rel="{rel}"', page)
    return html.unescape(href)


def next_link(page: str) -> str:
    """The "Older" link of a list page."""
    return link(page, "next")


def test_empty_list_page_one_is_fine(app):
    response = app.test_client().get("/stories/")
    assert response.status_code == 200
    assert "No stories yet." in response.get_data(as_text=True)


def test_list_excerpts_are_escaped_once(app, people):
    make_story(app, people["author"], body="Tom & Jerry <script>alert(1)</script>")
    page = app.test_client().get("/stories/").get_data(as_text=True)
    assert "Tom &amp; Jerry &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&amp;amp;" not in page
