"""Story cards are rendered once and reused, and never shown stale (app/stories/cards.py)."""

from __future__ import annotations

import pytest
from markupsafe import Markup
from sqlalchemy import select, update
from sqlalchemy.orm import contains_eager

from app.extensions import db
from app.models.story import Story
from app.models.user import User
from app.stories.cards import CardCache
from tests.test_auth import make_user
from tests.test_stories import make_story


def cards(app):
    return app.extensions["bastion.story_cards"]


@pytest.mark.settings(LIST_CACHE_SECONDS=0)  # the page itself is rendered every time
def test_a_card_is_rendered_once_then_reused(app):
    author = make_user(app, name="Ada")
    make_story(app, author, title="First light", body="Dawn *breaks*.")
    client = app.test_client()
    first = client.get("/stories/").get_data(as_text=True)
    [(key, card)] = cards(app).entries.items()
    assert card in first, "the page shows the card as rendered"
    assert "Dawn breaks." in card
    # The second page takes the card from the cache instead of rendering it again.
    cards(app).entries[key] = Markup("<p>from the cache</p>")
    assert "<p>from the cache</p>" in client.get("/stories/").get_data(as_text=True)
    assert len(cards(app).entries) == 1


def test_edits_renames_and_publishing_show_at_once(app):
    author = make_user(app, name="Ada")
    story_id = make_story(app, author, title="Old title", body="Old body.")
    client = app.test_client()
    assert "Old title" in client.get("/stories/").get_data(as_text=True)
    with app.app_context():
        # Changed behind the ORM's back: no updated_at bump, the card still follows.
        db.session.execute(
            update(Story).where(Story.id == story_id).values(title="New title", body="New body.")
        )
        db.session.execute(update(User).where(User.id == author).values(display_name="Lovelace"))
        db.session.commit()
    page = client.get("/stories/").get_data(as_text=True)
    assert "New title" in page
    assert "New body." in page
    assert "Lovelace" in page
    assert "Old title" not in page


@pytest.mark.settings(PROXY_FIX_X_PREFIX=1)
def test_cards_follow_the_path_prefix(app):
    author = make_user(app)
    story_id = make_story(app, author)
    client = app.test_client()
    plain = client.get("/stories/").get_data(as_text=True)
    prefixed = client.get("/stories/", headers={"X-Forwarded-Prefix": "/blog"}).get_data(
        as_text=True
    )
    assert f'href="/stories/{story_id}"' in plain
    assert f'href="/blog/stories/{story_id}"' in prefixed
    assert f'href="/stories/{story_id}"' not in prefixed


def test_drafts_keep_their_badge_and_the_oldest_cards_go_first(app):
    author = make_user(app)
    make_story(app, author, title="Unfinished", published=False)
    cache = CardCache(max_entries=2)
    with app.test_request_context("/"):
        stories = db.session.scalars(
            select(Story).join(Story.author).options(contains_eager(Story.author))
        ).all()
        assert "Draft" in cache.render(stories[0])
        for n, title in enumerate(["One", "Two", "Three"]):
            stories[0].title = title
            assert title in cache.render(stories[0]), n
        db.session.rollback()
    assert len(cache.entries) == 2
    assert [key[2] for key in cache.entries] == ["Two", "Three"]
