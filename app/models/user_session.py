"""Server-side sign-in sessions and the per-account security log.

A :class:`UserSession` is made by each sign-in (:mod:`app.auth.user_sessions`).
Its random token rides in the signed session cookie and in the remember-me
cookie (inside Flask-Login's user id); the database keeps only the token's
SHA-256, as for API keys (OWASP ASVS 4.0 3.2.3, 3.3.1).  Revoking the row
ends both cookies on their next request.

A :class:`SecurityEvent` is one line of an account's security log
(:mod:`app.auth.security_log`): what happened, when, from which address and
device.  It never holds a password, a session token or a whole API key.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import UTCDateTime, utcnow

if TYPE_CHECKING:
    from app.models.user import User

#: Longest device label kept (characters).
DEVICE_MAX_LENGTH = 80
#: Longest client address kept (an IPv6 address with a zone fits).
ADDRESS_MAX_LENGTH = 64


class UserSession(db.Model):
    """One signed-in browser of one account.

    ``token_hash`` is the lower-case hex SHA-256 of the session token (64
    characters); the token itself is never stored.  ``last_seen_at`` is
    updated at most once a minute (see :func:`app.auth.user_sessions.touch`).
    A row whose ``revoked_at`` is set is refused for good.  Removing the
    account for good removes its rows (``ON DELETE CASCADE``).
    """

    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    ip_address: Mapped[str] = mapped_column(String(ADDRESS_MAX_LENGTH), default="")
    device: Mapped[str] = mapped_column(String(DEVICE_MAX_LENGTH), default="")
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # lazy="raise": the loader says how it loads the owner (one query per request).
    user: Mapped[User] = relationship(lazy="raise")

    def __repr__(self) -> str:
        return f"<UserSession {self.id} of {self.user_id}>"


class SecurityEvent(db.Model):
    """One entry of an account's security log.

    ``kind`` is one of :data:`app.auth.security_log.EVENT_LABELS`; ``detail``
    is a short public note (an API key's prefix, a session's number), never
    a secret.  Entries older than ``SECURITY_LOG_RETENTION_DAYS`` are removed
    by ``flask purge``.
    """

    __tablename__ = "security_event"
    __table_args__ = (
        Index("ix_security_event_user_id_id", "user_id", "id"),
        Index("ix_security_event_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    ip_address: Mapped[str] = mapped_column(String(ADDRESS_MAX_LENGTH), default="")
    device: Mapped[str] = mapped_column(String(DEVICE_MAX_LENGTH), default="")
    detail: Mapped[str] = mapped_column(String(120), default="")

    def __repr__(self) -> str:
        return f"<SecurityEvent {self.id} {self.kind} of {self.user_id}>"
