"""Two-factor sign-in with TOTP: secrets, codes, recovery codes and the QR code.

The rules come from RFC 6238 (TOTP) and RFC 4226 (HOTP) as authenticator
apps implement them: SHA-1, 6 digits, 30-second steps, a base32 secret of
160 bits (RFC 4226 section 4 asks for at least 128).  A code is accepted
for the current step and one step either side (:data:`WINDOW`, RFC 6238
section 5.2 on clock drift), and only for a step later than the last one
accepted for the account (replay protection, same section).

The secret is stored encrypted with Fernet (AES-128-CBC + HMAC-SHA256, from
the ``cryptography`` library) under a key derived from ``SECRET_KEY`` with
HKDF-SHA256; ``SECRET_KEY_FALLBACKS`` still decrypt after a key rotation
(see ``docs/security.md``).  Recovery codes are 80 random bits, shown once
and stored as SHA-256 (OWASP ASVS 4.0 2.6.2, 2.8.3).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import time

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import delete, or_, select, update

from app.extensions import db
from app.models.base import utcnow
from app.models.two_factor import RecoveryCode, TwoFactor
from app.models.user import User

logger = logging.getLogger("bastion.auth")

#: Seconds per TOTP step (RFC 6238 default, what authenticator apps use).
STEP_SECONDS = 30
#: Digits per code.
DIGITS = 6
#: Steps accepted either side of the current one (clock drift).
WINDOW = 1
#: Recovery codes made at a time.
RECOVERY_CODE_COUNT = 10
#: Pixels per QR module, and modules of quiet zone around it.
QR_SCALE, QR_BORDER = 5, 4
_HKDF_INFO = b"bastion two-factor secret v1"


class SecretUnreadable(RuntimeError):
    """The stored secret can't be decrypted: ``SECRET_KEY`` changed without a fallback."""


def _fernet_key(secret_key: str) -> bytes:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
        secret_key.encode("utf-8")
    )
    return base64.urlsafe_b64encode(derived)


def _cipher() -> MultiFernet:
    """Fernet under ``SECRET_KEY`` first, then each of ``SECRET_KEY_FALLBACKS`` (to decrypt)."""
    config = current_app.config
    keys = [config["SECRET_KEY"], *(config.get("SECRET_KEY_FALLBACKS") or ())]
    return MultiFernet([Fernet(_fernet_key(str(key))) for key in keys])


def encrypt_secret(secret: str) -> str:
    """Encrypt a base32 TOTP secret for the database (a Fernet token, ASCII)."""
    return _cipher().encrypt(secret.encode("ascii")).decode("ascii")


def decrypt_secret(token: str) -> str:
    """The base32 secret inside ``token``.

    :raises SecretUnreadable: when no configured key opens it.
    """
    try:
        return _cipher().decrypt(token.encode("ascii")).decode("ascii")
    except InvalidToken:
        raise SecretUnreadable("two-factor secret not readable with SECRET_KEY") from None


def current_step(now: float | None = None) -> int:
    """The RFC 6238 time step (``T``) of ``now`` (Unix seconds; default: the clock)."""
    return int((time.time() if now is None else now) // STEP_SECONDS)


def normalize_code(code: str | None) -> str:
    """``code`` without spaces and dashes, lower-cased (what people type varies)."""
    return "".join((code or "").split()).replace("-", "").lower()


def two_factor_of(user_id: int) -> TwoFactor | None:
    """The account's :class:`TwoFactor` row (confirmed or in set-up), if any."""
    return db.session.get(TwoFactor, user_id)


def is_enabled(user_id: int) -> bool:
    """Whether the account has confirmed two-factor sign-in."""
    record = two_factor_of(user_id)
    return record is not None and record.confirmed_at is not None


def enabled_user_ids() -> set[int]:
    """Ids of every account with two-factor on (one query; for the admin list)."""
    rows = db.session.scalars(select(TwoFactor.user_id).where(TwoFactor.confirmed_at.is_not(None)))
    return set(rows)


def start_setup(user: User) -> TwoFactor:
    """Give ``user`` a new secret, not yet on (replaces an unfinished set-up). Commits.

    :raises ValueError: when two-factor is already on (turn it off first).
    """
    record = two_factor_of(user.id)
    if record is not None and record.confirmed_at is not None:
        raise ValueError("two-factor is already on")
    secret = encrypt_secret(pyotp.random_base32(32))
    if record is None:
        record = TwoFactor(user_id=user.id, secret=secret)
        db.session.add(record)
    else:
        record.secret, record.created_at, record.last_step = secret, utcnow(), None
    db.session.commit()
    return record


def verify_totp(record: TwoFactor, code: str | None, now: float | None = None) -> bool:
    """Check a 6-digit code against ``record`` and, if right, claim its step.

    Accepts the steps ``T-1``, ``T`` and ``T+1`` that are later than the last
    accepted one.  The step is claimed by a conditional update
    (``last_step IS NULL OR last_step < step``), so two requests racing with
    the same code can't both win, even when ``record`` was read before the
    other one committed; the caller commits.  Compares in constant time.

    :returns: whether the code was accepted.
    :raises SecretUnreadable: see :func:`decrypt_secret`.
    """
    code = normalize_code(code)
    if len(code) != DIGITS or not code.isdigit():
        return False
    totp = pyotp.TOTP(decrypt_secret(record.secret), digits=DIGITS, interval=STEP_SECONDS)
    step = current_step(now)
    floor = record.last_step if record.last_step is not None else -1
    for candidate in range(step - WINDOW, step + WINDOW + 1):
        if candidate > floor and hmac.compare_digest(totp.generate_otp(candidate), code):
            claimed = db.session.execute(
                update(TwoFactor)
                .where(
                    TwoFactor.user_id == record.user_id,
                    or_(TwoFactor.last_step.is_(None), TwoFactor.last_step < candidate),
                )
                .values(last_step=candidate)
                .execution_options(synchronize_session=False)
            )
            db.session.refresh(record)
            if not claimed.rowcount:  # type: ignore[attr-defined]
                return False
            # Re-encrypted under the current SECRET_KEY (after a rotation, the
            # fallback key is then no longer needed for this account).
            record.secret = _cipher().rotate(record.secret.encode("ascii")).decode("ascii")
            return True
    return False


def provisioning_uri(record: TwoFactor, account_name: str) -> str:
    """The ``otpauth://totp/...`` URI an authenticator app reads from the QR code."""
    issuer = str(current_app.config.get("SITE_NAME") or "Bastion")
    return pyotp.TOTP(decrypt_secret(record.secret)).provisioning_uri(
        name=account_name, issuer_name=issuer
    )


def qr_data_uri(uri: str) -> tuple[str, int]:
    """The QR code of ``uri`` as an SVG ``data:`` URI for an ``<img>``, and its side in pixels.

    Made by ``segno`` on the server: nothing leaves the site, and the strict
    CSP allows it (``img-src 'self' data:``; no inline style).  Dark modules
    on a white background (with the quiet zone), so it scans in dark mode too.
    """
    qr = segno.make(uri, error="m")
    side, _ = qr.symbol_size(scale=QR_SCALE, border=QR_BORDER)
    data = qr.svg_data_uri(
        scale=QR_SCALE, border=QR_BORDER, dark="#000", light="#fff", svgclass=None, lineclass=None
    )
    return data, side


def _hash_code(code: str) -> str:
    return hashlib.sha256(normalize_code(code).encode("ascii")).hexdigest()


def new_recovery_codes(user_id: int) -> list[str]:
    """Replace the account's recovery codes with :data:`RECOVERY_CODE_COUNT` new ones.

    Each is 80 random bits in base32, shown as ``xxxx-xxxx-xxxx-xxxx``;
    only their SHA-256 is stored.  The caller commits.

    :returns: the codes, to be shown once.
    """
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = base64.b32encode(secrets.token_bytes(10)).decode("ascii").lower()
        codes.append("-".join(raw[i : i + 4] for i in range(0, 16, 4)))
    db.session.add_all(RecoveryCode(user_id=user_id, code_hash=_hash_code(c)) for c in codes)
    return codes


def use_recovery_code(user_id: int, code: str | None) -> bool:
    """Spend one of the account's unused recovery codes, if ``code`` is one.

    The update is conditional (``used_at IS NULL``), so two requests racing
    with the same code can't both win.  The caller commits.
    """
    if len(normalize_code(code)) != 16:
        return False
    spent = db.session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user_id,
            RecoveryCode.code_hash == _hash_code(code or ""),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
    )
    return bool(spent.rowcount)  # type: ignore[attr-defined]


def remaining_recovery_codes(user_id: int) -> int:
    """How many unused recovery codes the account has."""
    codes = db.session.scalars(
        select(RecoveryCode.id).where(
            RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)
        )
    )
    return len(list(codes))


def check_second_factor(user_id: int, code: str | None) -> str | None:
    """Check a TOTP code or a recovery code of an account with two-factor on.

    :returns: ``"totp"`` or ``"recovery"`` for an accepted code (the caller
        commits), ``None`` for a wrong, replayed or spent one, or when the
        account has no two-factor on.  A secret no key opens (``SECRET_KEY``
        changed without a fallback) is logged as an error; recovery codes
        still work then.
    """
    record = two_factor_of(user_id)
    if record is None or record.confirmed_at is None:
        return None
    try:
        if verify_totp(record, code):
            return "totp"
    except SecretUnreadable:  # a recovery code still works
        logger.error("two-factor secret of account %s unreadable: SECRET_KEY changed?", user_id)
    if use_recovery_code(user_id, code):
        return "recovery"
    return None


def turn_off(user_id: int) -> None:
    """Remove the account's secret and recovery codes. The caller commits."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    db.session.execute(delete(TwoFactor).where(TwoFactor.user_id == user_id))
