"""Two-factor sign-in (TOTP, RFC 6238) and its one-time recovery codes.

A :class:`TwoFactor` row holds an account's TOTP secret, encrypted (see
:mod:`app.auth.two_factor`); it is *on* only once ``confirmed_at`` is set,
i.e. after the user typed a code from the app (a row without it is a set-up
in progress).  ``last_step`` is the RFC 6238 time step of the last accepted
code: a code of that step or an earlier one is refused (replay protection,
RFC 6238 section 5.2).  A :class:`RecoveryCode` keeps only the SHA-256 of a
high-entropy code and is spent once (``used_at``).  Removing the account for
good removes both (``ON DELETE CASCADE``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import UTCDateTime, utcnow


class TwoFactor(db.Model):
    """One account's authenticator-app secret (at most one per account).

    ``secret`` is a Fernet token (encrypted and authenticated) of the base32
    secret, never the secret itself.
    """

    __tablename__ = "two_factor"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True
    )
    secret: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    def __repr__(self) -> str:
        return f"<TwoFactor of {self.user_id}>"


class RecoveryCode(db.Model):
    """A one-time recovery code: the lower-case hex SHA-256 of the code, spent when ``used_at``."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    def __repr__(self) -> str:
        return f"<RecoveryCode {self.id} of {self.user_id}>"
