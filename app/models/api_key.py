"""API keys: hashed, scoped, expiring, revocable credentials for the REST API.

A key reads ``bst_<prefix>_<secret>``.  The prefix is public (it is shown in
lists and names the key in ``flask api-keys revoke``); the database stores
it, for lookup, and the SHA-256 of the *whole* key, never the key itself
(OWASP ASVS 4.0 2.10.2 / 6.4, as GitHub and Stripe do).  Keys are issued and
checked by :mod:`app.auth.api_keys`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import UTCDateTime, utcnow

if TYPE_CHECKING:
    from app.models.user import User

#: Longest name a user may give a key (characters, after cleaning).
NAME_MAX_LENGTH = 80
#: Length of the public prefix (characters, ``[A-Za-z0-9]``).
PREFIX_LENGTH = 8
#: Scopes, weakest first: a key with a scope also has every weaker one.
SCOPES = ("read", "write")


class ApiKey(db.Model):
    """One API key of one account.

    ``key_hash`` is the lower-case hex SHA-256 of the whole key (64
    characters).  ``expires_at`` ``None`` means the key never expires;
    ``last_used_at`` is updated at most once a minute; a key whose
    ``revoked_at`` is set is refused for good.  Deleting the account (even
    softly) makes its keys unusable; removing it for good removes them
    (``ON DELETE CASCADE``).
    """

    __tablename__ = "api_key"
    __table_args__ = (CheckConstraint("scope IN ('read', 'write')", name="scope"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH))
    prefix: Mapped[str] = mapped_column(String(PREFIX_LENGTH), unique=True, index=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(5))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # lazy="raise": every query says how it loads the owner (no N+1 by accident).
    user: Mapped[User] = relationship(lazy="raise")

    def status(self, now: datetime | None = None) -> str:
        """``"revoked"``, ``"expired"`` or ``"active"`` at ``now`` (default: the current time).

        The owner's state is not part of it; see
        :func:`app.auth.api_keys.authenticate_key` for the whole rule.
        """
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= (now or utcnow()):
            return "expired"
        return "active"

    def __repr__(self) -> str:
        return f"<ApiKey {self.id} {self.prefix}>"
