"""Passkeys: WebAuthn public-key credentials an account signs in with.

A :class:`Passkey` row keeps what the W3C Web Authentication spec (Level 2,
section 7.1 step 26, "credential record") asks a relying party to store: the
credential id, its COSE public key, the signature counter, the transports
the browser reported and the backup flags, plus a name the user chose.  The
private key never leaves the authenticator.  ``user_handle`` is the random,
opaque WebAuthn ``user.id`` of the account (section 14.6.1: never an email
or database id); every passkey of an account carries the same one.  Removing
the account for good removes its passkeys (``ON DELETE CASCADE``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, LargeBinary, String, false
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import UTCDateTime, utcnow

#: Longest credential id accepted (WebAuthn Level 3, section 5.1: at most 1023 bytes).
CREDENTIAL_ID_MAX_BYTES = 1023
#: Longest passkey name, in characters.
NAME_MAX_LENGTH = 64


class Passkey(db.Model):
    """One registered WebAuthn credential of an account."""

    __tablename__ = "passkey"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(CREDENTIAL_ID_MAX_BYTES), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    user_handle: Mapped[bytes] = mapped_column(LargeBinary(64))
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Comma-separated ``AuthenticatorTransport`` values ("internal,hybrid"); may be empty.
    transports: Mapped[str] = mapped_column(String(200), default="")
    name: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH))
    #: The authenticator model's AAGUID ("00000000-..." when it gives none).
    aaguid: Mapped[str] = mapped_column(String(36), default="")
    backup_eligible: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    backed_up: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    def __repr__(self) -> str:
        return f"<Passkey {self.id} of {self.user_id}>"
