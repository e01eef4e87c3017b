"""Public author pages, served by the same generic views as stories.

``/users/`` lists live accounts that have published something, and
``/users/<id>`` shows one author and their newest published stories (two
queries, however many stories they wrote).  Only the
display name and the membership date are public; email addresses never are.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from sqlalchemy import Select, exists, select

from app.extensions import db
from app.models.story import Story
from app.models.user import User
from app.views import DetailView, ListView

bp = Blueprint("users", __name__, url_prefix="/users")


def has_published() -> Any:
    """SQL condition: the user has at least one published story (deleted ones are
    left out by the session's soft-delete filter, inside the subquery too)."""
    return exists().where(Story.author_id == User.id, Story.published)


def authors() -> Select[Any]:
    """Live, enabled accounts with published stories, by display name."""
    return (
        select(User)
        .where(User.is_disabled.is_(False), has_published())
        .order_by(User.display_name, User.id)
    )


PROFILE_STORIES = 50


def live_authors() -> Select[Any]:
    """Enabled, live accounts (deleted ones are hidden by the session)."""
    return select(User).where(User.is_disabled.is_(False))


def latest_stories(author: User) -> dict[str, Any]:
    """The author's newest published stories, at most ``PROFILE_STORIES``."""
    stories = db.session.scalars(
        select(Story)
        .where(Story.author_id == author.id, Story.published)
        .order_by(Story.created_at.desc(), Story.id.desc())
        .limit(PROFILE_STORIES)
    ).all()
    return {"stories": stories}


bp.add_url_rule(
    "/", view_func=ListView.as_view("index", User, "users/list.html", query=authors, per_page=30)
)
bp.add_url_rule(
    "/<int:id>",
    view_func=DetailView.as_view(
        "detail",
        User,
        "users/profile.html",
        query=live_authors,
        context_name="author",
        extra_context=latest_stories,
    ),
)
