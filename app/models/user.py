"""Accounts."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, Index, Integer, String, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import TimestampMixin, UTCDateTime
from app.models.soft_delete import SoftDeleteMixin

if TYPE_CHECKING:
    from app.models.story import Story


class User(SoftDeleteMixin, TimestampMixin, db.Model):
    """A person who can sign in.

    ``email`` is stored lower-cased and is unique among live accounts only
    (a partial unique index), so an address can register again after its
    account was deleted.  ``session_version`` goes into the Flask-Login id, with
    the token of a server-side session (:mod:`app.auth.user_sessions`):
    raising it (on a password change) signs the account out everywhere else.
    ``email_confirmed_at`` is set when the owner follows the confirmation link
    (or a password-reset link, which proves the same); an account without it
    can't sign in (:mod:`app.auth.confirmation`).
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
    email_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
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

    #: Token of the server-side session this object was loaded for (not a column):
    #: set by :func:`app.auth.login.start_session` and :func:`app.auth.login.load_user`.
    session_token = None

    def get_id(self) -> str:
        """``"<id>:<session_version>:<session token>"``: what Flask-Login puts in the cookies.

        :raises RuntimeError: when the object was not signed in through
            :func:`app.auth.login.start_session` or loaded by
            :func:`app.auth.login.load_user` (there is no session to name).
        """
        if not self.session_token:
            raise RuntimeError("no server-side session: sign in with start_session()")
        return f"{self.id}:{self.session_version}:{self.session_token}"

    def __repr__(self) -> str:
        return f"<User {self.id}>"
