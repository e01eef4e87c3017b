"""Stories that users write."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import TimestampMixin
from app.models.soft_delete import SoftDeleteMixin

if TYPE_CHECKING:
    from app.models.user import User

TITLE_MAX_LENGTH = 200
BODY_MAX_LENGTH = 50_000


class Story(SoftDeleteMixin, TimestampMixin, db.Model):
    """A story: a title and a Markdown body by one author, published or a draft.

    ``body`` is the Markdown source as written (control characters removed);
    it is rendered and sanitised when shown (:mod:`app.stories.markdown`).
    Indexes serve every list at any table size, each an ordering that ends in
    ``id`` (the keyset, :mod:`app.views.keyset`): the public list (published,
    live), drafts, one author's stories, a signed-in user's mix of published
    stories and own drafts (live rows), and an admin's list with deleted rows
    (:func:`app.stories.policy.visible_stories` says which serves which).
    """

    __tablename__ = "story"
    __table_args__ = (
        Index(
            "ix_story_public_list",
            "created_at",
            "id",
            sqlite_where=text("published AND deleted_at IS NULL"),
            postgresql_where=text("published AND deleted_at IS NULL"),
        ),
        Index(
            "ix_story_drafts",
            "created_at",
            "id",
            sqlite_where=text("NOT published AND deleted_at IS NULL"),
            postgresql_where=text("NOT published AND deleted_at IS NULL"),
        ),
        Index(
            "ix_story_live_created",
            "created_at",
            "id",
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index("ix_story_author_created_id", "author_id", "created_at", "id"),
        Index("ix_story_created_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(TITLE_MAX_LENGTH))
    body: Mapped[str] = mapped_column(Text)
    published: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    author_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=False
    )
    # lazy="raise": every query must say how it loads authors (no N+1 by accident).
    author: Mapped[User] = relationship(back_populates="stories", lazy="raise")

    def __repr__(self) -> str:
        return f"<Story {self.id}>"
