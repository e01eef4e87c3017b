"""Who may see which accounts and what of them, and who may change them.

Shared by the author pages (:mod:`app.users`) and the REST API
(:mod:`app.api.users`).  The principal is a signed-in
:class:`~app.models.user.User` or ``None`` (see :mod:`app.stories.policy`).

* Everyone sees the public fields (id, display name, membership date) of
  live, enabled accounts that have published a story; admins see every live
  account.  Anybody else's account does not exist for them (404).
* The email address and the roles are seen only by the account itself and
  by admins.
* Only admins change accounts (display name, admin role, disabled).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, and_, exists, func, or_, select

from app.models.story import Story
from app.models.user import User
from app.stories.policy import is_admin, signed_in


def has_published() -> Any:
    """SQL condition: the user has at least one published story (deleted ones are
    left out by the session's soft-delete filter, inside the subquery too)."""
    return exists().where(Story.author_id == User.id, Story.published)


def public_authors() -> Select[Any]:
    """Live, enabled accounts that published: the public author list."""
    return select(User).where(User.is_disabled.is_(False), has_published())


def visible_users(principal: Any) -> Select[Any]:
    """The accounts ``principal`` may see: admins every live one; others the
    public authors and their own account."""
    if is_admin(principal):
        return select(User)
    public = and_(User.is_disabled.is_(False), has_published())
    me = signed_in(principal)
    return select(User).where(or_(User.id == me.id, public) if me is not None else public)


def can_see_private(principal: Any, user: User) -> bool:
    """Whether ``principal`` may see ``user``'s email and roles: self or an admin."""
    me = signed_in(principal)
    return (me is not None and me.id == user.id) or is_admin(principal)


def can_edit_user(principal: Any, user: User) -> bool:
    """Only admins change accounts."""
    return is_admin(principal)


def published_counts(author_ids: list[int]) -> Select[Any]:
    """``(author_id, count)`` rows: how many live stories each of ``author_ids`` published
    (served by ``ix_story_author_created_id``; authors without any are absent)."""
    return (
        select(Story.author_id, func.count())
        .where(Story.author_id.in_(author_ids), Story.published)
        .group_by(Story.author_id)
    )
