"""Public author pages, subclasses of the same generic views as the story pages.

``/users/`` lists live accounts that have published something, and
``/users/<id>`` shows one author and their published stories, newest first,
paged by cursor like every list (two queries per page).  Only the
display name and the membership date are public; email addresses never are.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort
from sqlalchemy import Select, select

from app.extensions import db
from app.models.story import Story
from app.models.user import User
from app.stories.policy import NEWEST_FIRST, with_author
from app.users.policy import public_authors, published_counts
from app.views import ListView

bp = Blueprint("users", __name__, url_prefix="/users")


class AuthorList(ListView):
    """Live, enabled accounts with published stories, by display name."""

    model = User
    template = "users/list.html"
    order_by = ("display_name", "id")
    cache_anonymous = True
    per_page = 30

    def get_query(self, **values: Any) -> Select[Any]:
        """Enabled accounts (deleted ones are hidden by the session) that published."""
        return public_authors()

    def load_page(self, **values: Any) -> dict[str, Any]:
        """The page, and ``story_counts``: published stories per author on it (one query)."""
        loaded = super().load_page(**values)
        ids = [author.id for author in loaded["items"]]
        counts = db.session.execute(published_counts(ids)).all() if ids else []
        loaded["story_counts"] = {author_id: count for author_id, count in counts}
        return loaded


class AuthorProfile(ListView):
    """One author (as ``author``) and their published stories, newest first, by cursor."""

    model = Story
    template = "users/profile.html"
    order_by = NEWEST_FIRST

    def get_author(self, id: int) -> User:
        """The enabled, live account ``id`` (deleted ones are hidden by the session).

        :raises werkzeug.exceptions.NotFound: when there is none.
        """
        author = db.session.scalars(
            select(User).where(User.id == id, User.is_disabled.is_(False))
        ).one_or_none()
        if author is None:
            abort(404)
        return author

    def get_query(self, **values: Any) -> Select[Any]:
        """The published stories of ``values["author"]``, with their author (for the cards)."""
        return with_author(
            select(Story).where(Story.author_id == values["author"].id, Story.published)
        )

    def get(self, **values: Any) -> str:
        """Render the author named by the URL's ``id``, how many stories they published,
        and one page of them."""
        author = self.get_author(values["id"])
        stories = self.get_query(author=author)
        page = self.paginate(stories)
        return self.render(
            author=author, page=page, items=page.items, story_count=self.count(stories), **values
        )


bp.add_url_rule("/", view_func=AuthorList.as_view("index"))
bp.add_url_rule("/<id:id>", view_func=AuthorProfile.as_view("detail"))
