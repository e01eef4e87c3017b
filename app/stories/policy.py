"""Who may see, edit, delete and restore a story, and which stories a list shows.

The one place these rules live: the HTML pages (:mod:`app.stories.routes`)
and the REST API (:mod:`app.api.stories`) both call it, so nothing is
decided twice.  Each rule takes the *principal* explicitly: the signed-in
:class:`~app.models.user.User`, or ``None`` for an anonymous client (an
HTML view passes Flask-Login's ``current_user``, an API view whatever its
``authenticate()`` returned).

Rules:

* a published story of a live author is visible to everyone;
* a draft is visible to its author and to admins (to anybody else it does
  not exist: 404, never 403, so its existence is not revealed);
* only the author or an admin may edit, delete or restore a story;
* a deleted story is visible only to those who may restore it.

Every statement joins the (live) author and loads it with the story in the
same query (:func:`with_author`), so the stories of deleted accounts are
hidden and a page costs the same whatever the number of authors on it.
Indexes that serve these statements at any table size: see
:class:`app.models.story.Story`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, false, or_, select
from sqlalchemy.orm import contains_eager

from app.models import INCLUDE_DELETED
from app.models.story import Story
from app.models.user import User

#: Lists of stories: newest first, then the higher id (keyset order, :mod:`app.views.keyset`).
NEWEST_FIRST = ("-created_at", "-id")


def signed_in(principal: Any) -> User | None:
    """``principal`` if it is a signed-in user, else ``None`` (Flask-Login's anonymous user)."""
    if principal is None or not getattr(principal, "is_authenticated", False):
        return None
    return principal


def is_admin(principal: Any) -> bool:
    """Whether ``principal`` is a signed-in administrator."""
    user = signed_in(principal)
    return bool(user is not None and user.is_admin)


def with_author(statement: Select[Any]) -> Select[Any]:
    """Join the (live) author and load it with the story: no query per author.

    The inner join also hides the stories of deleted accounts.  Only the
    author's id and display name are loaded: a list page needs no more, and
    reads no password hash or email address.
    """
    return statement.join(Story.author).options(
        contains_eager(Story.author).load_only(User.id, User.display_name)
    )


def live_stories() -> Select[Any]:
    """Live stories of live authors, drafts included (:func:`can_view` decides)."""
    return with_author(select(Story))


def published_stories() -> Select[Any]:
    """Published stories of live authors: the public list."""
    return with_author(select(Story).where(Story.published))


def stories_of(author_id: int) -> Select[Any]:
    """The live stories of one author, drafts included (for the author's own list)."""
    return with_author(select(Story).where(Story.author_id == author_id))


def deleted_stories(principal: Any = None, *, everyone: bool = False) -> Select[Any]:
    """Deleted stories with their author: those ``principal`` may restore.

    :param principal: the user asking; admins get everyone's, others their own.
    :param everyone: every deleted story, whoever asks (for loading one row
        whose permission :func:`can_restore` then checks).
    """
    statement = with_author(select(Story).where(Story.deleted_at.is_not(None)))
    statement = statement.execution_options(**{INCLUDE_DELETED: True})
    if everyone or is_admin(principal):
        return statement
    user = signed_in(principal)
    if user is None:
        return statement.where(false())
    return statement.where(Story.author_id == user.id)


def can_edit(principal: Any, story: Story) -> bool:
    """Only the author, or an admin, may edit, delete or restore ``story``."""
    user = signed_in(principal)
    return user is not None and (story.author_id == user.id or user.is_admin)


def can_view(principal: Any, story: Story) -> bool:
    """Published live stories for everyone; drafts and deleted ones for who may edit them."""
    if story.deleted_at is not None:
        return can_edit(principal, story)
    return story.published or can_edit(principal, story)


def can_delete(principal: Any, story: Story) -> bool:
    """Moving a story to the trash: the same people who may edit it."""
    return can_edit(principal, story)


def can_restore(principal: Any, story: Story) -> bool:
    """Bringing a story back from the trash: the same people who may edit it."""
    return can_edit(principal, story)


def visible_stories(
    principal: Any,
    *,
    author: int | None = None,
    published: bool | None = None,
    created_after: datetime | None = None,
    include_deleted: bool = False,
) -> Select[Any]:
    """The stories ``principal`` may list, filtered (no ``order_by``: a keyset orders them).

    :param principal: the user asking, or ``None``.
    :param author: only this author's stories (a user id).
    :param published: ``True``: published only; ``False``: drafts only (of
        the principal, or everyone's for an admin); ``None``: both, as visible.
    :param created_after: only stories created strictly after this aware moment.
    :param include_deleted: also deleted stories; honoured for admins only
        (callers refuse it to others before asking).

    Each combination is served by an index of :class:`~app.models.story.Story`
    (published: ``ix_story_public_list``; drafts: ``ix_story_drafts``; an
    author: ``ix_story_author_created_id``; a signed-in user's mix:
    ``ix_story_live_created``; with deleted rows: ``ix_story_created_id``).
    """
    user = signed_in(principal)
    admin = is_admin(principal)
    statement = with_author(select(Story))
    if include_deleted and admin:
        statement = statement.execution_options(**{INCLUDE_DELETED: True})
    if published is True:
        statement = statement.where(Story.published)
    elif published is False:
        statement = statement.where(~Story.published)
        if not admin:
            statement = statement.where(Story.author_id == user.id if user is not None else false())
    elif not admin:
        statement = statement.where(
            or_(Story.published, Story.author_id == user.id)
            if user is not None
            else Story.published
        )
    if author is not None:
        statement = statement.where(Story.author_id == author)
    if created_after is not None:
        statement = statement.where(Story.created_at > created_after)
    return statement


class StoryRules:
    """Mixin for views of one story: how it is loaded and who may see and change it.

    The view's ``current_principal()`` (see :class:`app.views.base.ModelView`)
    names who asks; the rules are this module's functions.
    """

    model = Story

    def get_query(self, **values: Any) -> Select[Any]:
        """Live stories of live authors, drafts too (:meth:`can_view` decides)."""
        return live_stories()

    def can_view(self, story: Story) -> bool:
        """:func:`can_view` for the view's principal."""
        return can_view(self.current_principal(), story)  # type: ignore[attr-defined]

    def can_edit(self, story: Story) -> bool:
        """:func:`can_edit` for the view's principal."""
        return can_edit(self.current_principal(), story)  # type: ignore[attr-defined]
