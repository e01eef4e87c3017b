"""Accounts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Boolean, Index, Integer, String, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import TimestampMixin
from app.models.soft_delete import SoftDeleteMixin

if TYPE_CHECKING:
    from app.models.story import Story


class User(SoftDeleteMixin, TimestampMixin, db.Model):
    """A person who can sign in.

    ``email`` is stored lower-cased and is unique among live accounts only
    (a partial unique index), so an address can register again after its
    account was deleted.  ``session_version`` goes into the Flask-Login id:
    raising it (on a password change) signs the account out everywhere else.
    """

    __tablename__ = "user_account"
    __table_args__ = (
        Index(
            "uq_user_account_email_live",
            "email",
            unique=True,
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    display_name: Mapped[str] = mapped_column(String(80))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    is_disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    session_version: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    stories: Mapped[list[Story]] = relationship(
        back_populates="author", lazy="raise", passive_deletes=True
    )

    # --- Flask-Login's user protocol ----------------------------------------
    @property
    def is_active(self) -> bool:
        """Disabled and deleted accounts can't sign in."""
        return not self.is_disabled and self.deleted_at is None

    @property
    def is_authenticated(self) -> bool:
        """Always true for a loaded account (Flask-Login protocol)."""
        return True

    @property
    def is_anonymous(self) -> bool:
        """Always false for a loaded account (Flask-Login protocol)."""
        return False

    def get_id(self) -> str:
        """``"<id>:<session_version>"``: stored in the session by Flask-Login."""
        return f"{self.id}:{self.session_version}"

    def __repr__(self) -> str:
        return f"<User {self.id}>"
