"""Public author pages, subclasses of the same generic views as the story pages.

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


PROFILE_STORIES = 50


class AuthorList(ListView):
    """Live, enabled accounts with published stories, by display name."""

    model = User
    template = "users/list.html"
    per_page = 30

    def get_query(self, **values: Any) -> Select[Any]:
        """Enabled accounts (deleted ones are hidden by the session) that published."""
        return (
            select(User)
            .where(User.is_disabled.is_(False), has_published())
            .order_by(User.display_name, User.id)
        )


class AuthorProfile(DetailView):
    """One author (as ``author``) and their newest published stories (as ``stories``)."""

    model = User
    template = "users/profile.html"
    context_name = "author"

    def get_query(self, **values: Any) -> Select[Any]:
        """Enabled, live accounts (deleted ones are hidden by the session)."""
        return select(User).where(User.is_disabled.is_(False))

    def get_context(self, **context: Any) -> dict[str, Any]:
        """Add ``stories``: the author's newest published stories, at most ``PROFILE_STORIES``."""
        stories = db.session.scalars(
            select(Story)
            .where(Story.author_id == context["object"].id, Story.published)
            .order_by(Story.created_at.desc(), Story.id.desc())
            .limit(PROFILE_STORIES)
        ).all()
        return super().get_context(stories=stories, **context)


bp.add_url_rule("/", view_func=AuthorList.as_view("index"))
bp.add_url_rule("/<id:id>", view_func=AuthorProfile.as_view("detail"))
