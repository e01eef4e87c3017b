"""The pages as a user meets them: the home page's stories, authors with counts, the
"where next" around delete, trash and restore, and forms that screen readers can use."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.extensions import db
from app.models.story import Story
from tests.helpers import post_form
from tests.test_stories import client_as, load_story, make_many, make_story


def titles(page: str) -> list[str]:
    """The story titles of the cards on ``page``, in order."""
    return re.findall(r'<h2 class="h5 card-title"><a href="[^"]+">([^<]+)</a>', page)


# --- home -----------------------------------------------------------------


def test_home_shows_the_six_newest_published_stories(app, people):
    make_many(app, people["author"], 8)
    make_story(app, people["author"], title="A secret draft", published=False)
    page = app.test_client().get("/").text
    assert titles(page) == [f"Story {n:03d}" for n in range(7, 1, -1)]
    assert "A secret draft" not in page
    assert 'href="/stories/">All stories</a>' in page


def test_home_ignores_a_cursor(app, people):
    make_many(app, people["author"], 8)
    client = app.test_client()
    first = client.get("/").text
    older = re.search(r'href="/stories/\?cursor=([^"]+)"', client.get("/stories/?").text)
    assert titles(client.get("/?cursor=abc").text) == titles(first)
    if older:
        assert titles(client.get(f"/?cursor={older.group(1)}").text) == titles(first)


def test_empty_home_invites_the_first_story(app, people):
    assert "No stories yet." in app.test_client().get("/").text
    assert 'href="/stories/new">Write the first one</a>' in client_as(app, "author").get("/").text


def test_home_has_no_vague_link_text(app):
    page = app.test_client().get("/").text
    assert ">Learn more<" not in page
    assert "Read the stories" in page


# --- authors --------------------------------------------------------------


def test_author_list_counts_published_stories(app, people):
    make_many(app, people["author"], 3)
    make_story(app, people["other"], title="One", published=True)
    make_story(app, people["other"], title="Draft", published=False)
    page = app.test_client().get("/users/").text
    assert re.search(r">Author</a>\s*<span[^>]*>3 stories</span>", page)
    assert re.search(r">Other</a>\s*<span[^>]*>1 story</span>", page)


def test_author_page_shows_count_and_cards(app, people):
    make_many(app, people["author"], 3)
    with app.app_context():
        story = db.session.scalars(select(Story).where(Story.title == "Story 000")).one()
        story.soft_delete()
        db.session.commit()
    page = app.test_client().get(f"/users/{people['author']}").text
    assert "2 published stories" in page
    assert titles(page) == ["Story 002", "Story 001"]


# --- delete, trash, restore ------------------------------------------------


def test_delete_link_asks_first_without_changing_anything(app, people):
    story_id = make_story(app, people["author"], title="Keep me")
    author = client_as(app, "author")
    story_page = author.get(f"/stories/{story_id}").text
    assert f'href="/stories/{story_id}/delete"' in story_page
    assert 'data-bs-target="#confirm-delete"' in story_page  # the dialog, with JavaScript
    confirmation = author.get(f"/stories/{story_id}/delete").text
    assert "Delete this story?" in confirmation
    assert "“Keep me”" in confirmation
    assert f'action="/stories/{story_id}/delete"' in confirmation
    assert 'class="btn btn-danger">Move to trash</button>' in confirmation
    assert f'href="/stories/{story_id}">Cancel</a>' in confirmation
    assert load_story(app, story_id).deleted_at is None


def test_after_deleting_my_stories_says_where_it_went(app, people):
    story_id = make_story(app, people["author"], title="Gone for now")
    author = client_as(app, "author")
    response = post_form(author, f"/stories/{story_id}/delete", "/contact")
    assert response.headers["Location"] == "/stories/mine"
    mine = author.get("/stories/mine").text
    assert "“Gone for now” is in the trash." in mine
    assert "You have not written a story yet." not in mine
    assert "1 story is in the trash." in mine
    assert 'href="/stories/trash">Open the trash</a>' in mine


def test_my_stories_invites_a_new_author_to_write(app, people):
    mine = client_as(app, "author").get("/stories/mine").text
    assert "You have not written a story yet." in mine
    assert 'href="/stories/new">Write your first one</a>' in mine


def test_trash_leads_back(app, people):
    trash = client_as(app, "author").get("/stories/trash").text
    assert "The trash is empty." in trash
    assert 'href="/stories/mine">Back to my stories</a>' in trash


# --- forms ------------------------------------------------------------------


def test_password_hint_is_part_of_the_field_before_the_button(app):
    page = app.test_client().get("/register").text
    hint = page.index('id="password-help"')
    assert hint < page.index('type="submit"')
    assert re.search(r'<input[^>]*aria-describedby="password-help"[^>]*id="password"', page)
    assert "Use at least 12 characters." in page


def test_errors_are_announced_on_the_field(app):
    client = app.test_client()
    response = post_form(client, "/register", email="not-an-address", display_name="")
    page = response.text
    assert response.status_code == 422
    email = re.search(r'<input[^>]*id="email"[^>]*>', page).group(0)
    assert 'aria-invalid="true"' in email
    assert 'aria-describedby="email-error"' in email
    assert 'id="email-error" class="invalid-feedback">That doesn' in page
    password = re.search(r'<input[^>]*id="password"[^>]*>', page).group(0)
    assert 'aria-describedby="password-help password-error"' in password
    assert 'value="not-an-address"' in page  # the user's input is kept


def test_valid_fields_are_not_marked_invalid(app):
    page = app.test_client().get("/sign-in").text
    assert "aria-invalid" not in page
    assert "is-invalid" not in page


def test_final_account_deletion_button_is_red(app, people):
    page = client_as(app, "author").get("/account/delete").text
    assert re.search(r'<input class="btn btn-danger"[^>]*value="Delete my account"', page)
    assert 'href="/account">Keep my account</a>' in page


def test_api_key_access_is_a_labelled_group(app, people):
    page = client_as(app, "author").get("/account").text
    legend = r'<fieldset class="mb-3">\s*<legend class="form-label fs-6">Access</legend>'
    assert re.search(legend, page)


def test_about_page_does_not_name_itself_as_its_own_foundation(app):
    page = app.test_client().get("/about").text
    assert "built on Bastion" not in page
    assert "Talisman" not in page


def test_without_javascript_the_menu_is_shown_open(app):
    page = app.test_client().get("/").text
    [href] = re.findall(r'<noscript><link rel="stylesheet" href="([^"]+)"', page)
    css = app.test_client().get(href).text
    assert ".navbar-collapse.collapse{display:block!important}" in css
    assert ".navbar-toggler" in css
