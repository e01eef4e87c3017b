"""Issuing, checking and revoking API keys (the model: :class:`app.models.api_key.ApiKey`).

A key is ``bst_<prefix>_<secret>``: ``bst_``, 8 letters and digits (the
public prefix, unique, for lookup), ``_``, and 43 characters of
``secrets.token_urlsafe(32)`` (256 random bits).  56 ASCII characters in all.
The whole key is shown once, when it is issued; the database keeps its
SHA-256.  A fast hash is right for 256-bit random secrets, which can't be
guessed (unlike passwords, which need argon2id): OWASP ASVS 4.0 6.4, and how
GitHub and Stripe store tokens.

Clients send a key as ``Authorization: Bearer <key>`` (RFC 6750 section 2.1)
or as ``X-API-Key: <key>``.  Nothing here builds API endpoints; the API
calls :func:`key_from_request`, :func:`authenticate_key`, :func:`has_scope`
and :func:`touch`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import string
from datetime import datetime, timedelta

from flask import Request
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from app.auth.security_log import log_event
from app.extensions import db
from app.models.api_key import NAME_MAX_LENGTH, PREFIX_LENGTH, SCOPES, ApiKey
from app.models.base import utcnow
from app.models.user import User
from flask_bastion.text import clean_text

logger = logging.getLogger("bastion.auth")

KEY_MARKER = "bst_"
#: Length of a whole key: marker, prefix, ``_`` and a 43-character secret.
KEY_LENGTH = len(KEY_MARKER) + PREFIX_LENGTH + 1 + 43
_PREFIX_ALPHABET = string.ascii_letters + string.digits
_KEY_SHAPE = re.compile(
    rf"{KEY_MARKER}(?P<prefix>[A-Za-z0-9]{{{PREFIX_LENGTH}}})_[A-Za-z0-9_-]{{43}}", re.ASCII
)
_PREFIX_SHAPE = re.compile(rf"[A-Za-z0-9]{{{PREFIX_LENGTH}}}", re.ASCII)
#: Compared with when no key has the prefix, so that an unknown prefix costs
#: the same hash and comparison as a wrong secret.
_NO_SUCH_KEY = hashlib.sha256(b"no such key").hexdigest()
#: ``last_used_at`` is written at most this often per key (no write per request).
TOUCH_INTERVAL = timedelta(minutes=1)
#: The longest expiry :func:`parse_expiry` accepts (``never`` is longer still).
MAX_EXPIRY = timedelta(days=3650)
_EXPIRY = re.compile(r"([0-9]{1,6})([dhm])", re.ASCII | re.IGNORECASE)
_EXPIRY_UNITS = {"d": "days", "h": "hours", "m": "minutes"}
_ISSUE_ATTEMPTS = 3


def hash_key(raw: str) -> str:
    """The stored form of a whole key: lower-case hex SHA-256 of its ASCII bytes (64 chars)."""
    return hashlib.sha256(raw.encode("ascii")).hexdigest()


def is_prefix(text: object) -> bool:
    """True when ``text`` has the shape of a key prefix (8 ASCII letters and digits)."""
    return isinstance(text, str) and _PREFIX_SHAPE.fullmatch(text) is not None


def parse_expiry(text: str | None) -> timedelta | None:
    """Parse a key lifetime: ``90d``, ``12h``, ``30m`` (days, hours, minutes) or ``never``.

    :param text: the lifetime as typed (case and surrounding space ignored).
    :returns: the lifetime, or ``None`` for ``never``.
    :raises ValueError: with a message for people, for anything else, for
        zero, and for more than :data:`MAX_EXPIRY` (3650 days).
    """
    value = (text or "").strip().lower()
    if value == "never":
        return None
    match = _EXPIRY.fullmatch(value)
    if match is None:
        raise ValueError(
            f"{text!r} is not a lifetime: use a number and d, h or m (90d, 12h, 30m) or never"
        )
    lifetime = timedelta(**{_EXPIRY_UNITS[match.group(2)]: int(match.group(1))})
    if lifetime <= timedelta(0):
        raise ValueError("a key must live at least a minute (or use never)")
    if lifetime > MAX_EXPIRY:
        raise ValueError(f"a lifetime is at most {MAX_EXPIRY.days}d (or use never)")
    return lifetime


def clean_key_name(name: str | None) -> str:
    """The name as stored: :func:`flask_bastion.text.clean_text` on one line.

    :raises ValueError: when nothing is left or it is longer than 80 characters.
    """
    cleaned = clean_text(name, single_line=True) if isinstance(name, str) else ""
    if not cleaned or len(cleaned) > NAME_MAX_LENGTH:
        raise ValueError(f"the name must be 1 to {NAME_MAX_LENGTH} characters long")
    return cleaned


def _new_key() -> tuple[str, str]:
    prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))
    return prefix, f"{KEY_MARKER}{prefix}_{secrets.token_urlsafe(32)}"


def issue_key(
    user: User, *, name: str, scope: str, expires_in: timedelta | None
) -> tuple[ApiKey, str]:
    """Create a key for ``user`` and commit it.

    :param user: the owner, a live account.
    :param name: what the user calls the key; cleaned by :func:`clean_key_name`.
    :param scope: ``"read"`` or ``"write"`` (which includes read).
    :param expires_in: lifetime from now, or ``None`` for a key that never expires.
    :returns: the stored row and the whole key.  The key exists only in this
        return value: show it once, never store or log it (only its prefix).
    :raises ValueError: for a bad name, an unknown scope or a lifetime that is
        not positive.
    """
    cleaned = clean_key_name(name)
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
    if expires_in is not None and expires_in <= timedelta(0):
        raise ValueError("expires_in must be positive, or None for no expiry")
    for attempt in range(1, _ISSUE_ATTEMPTS + 1):
        prefix, raw = _new_key()
        now = utcnow()
        key = ApiKey(
            user_id=user.id,
            name=cleaned,
            prefix=prefix,
            key_hash=hash_key(raw),
            scope=scope,
            created_at=now,
            expires_at=None if expires_in is None else now + expires_in,
        )
        db.session.add(key)
        log_event(user.id, "api_key_created", f"{prefix} ({scope})", commit=False)
        try:
            db.session.commit()
        except IntegrityError:  # the prefix is taken (about 1 in 10**14 per key)
            db.session.rollback()
            if attempt == _ISSUE_ATTEMPTS:
                raise
            continue
        logger.info("account %s created API key %s (%s)", user.id, prefix, scope)
        return key, raw
    raise AssertionError("unreachable")  # pragma: no cover


def authenticate_key(raw: str | None) -> ApiKey | None:
    """The live key that ``raw`` is, or ``None``.

    Live means: the secret matches, the key is not revoked and not expired,
    and its owner exists, is not deleted and is not disabled.  The owner is
    loaded with the key (``key.user``).

    Anything that is not a well-formed key (``None``, empty, another shape,
    NUL or non-ASCII characters, too long) is ``None`` at once, without a
    query; this function never raises for any input.  A well-formed key costs
    one query, one SHA-256 and one :func:`hmac.compare_digest` whether its
    prefix is unknown or its secret wrong, so timing does not tell the two
    apart (OWASP ASVS 4.0 2.2, constant-time comparison of secrets).
    """
    if not isinstance(raw, str) or len(raw) != KEY_LENGTH:
        return None
    shape = _KEY_SHAPE.fullmatch(raw)
    if shape is None:
        return None
    key = db.session.scalar(
        select(ApiKey).where(ApiKey.prefix == shape["prefix"]).options(joinedload(ApiKey.user))
    )
    matches = hmac.compare_digest(key.key_hash if key else _NO_SUCH_KEY, hash_key(raw))
    if key is None or not matches or key.status() != "active":
        return None
    # Deleted owners are not loaded (app.models.soft_delete), so key.user is None.
    if key.user is None or not key.user.is_active:
        return None
    return key


def key_from_request(request: Request) -> str | None:
    """The key a request carries, or ``None``: it is not checked here.

    Read from ``Authorization: Bearer <key>`` (RFC 6750 section 2.1; the
    scheme is case-insensitive, RFC 9110 section 11.1) or from ``X-API-Key``.
    A request that sends both is ``None``: RFC 6750 section 2 allows one
    method per request.  Other schemes (``Basic``) are not keys.
    """
    bearer = None
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, credentials = header.strip().partition(" ")
        if scheme.lower() == "bearer":
            bearer = credentials.strip() or None
    other = (request.headers.get("X-API-Key") or "").strip() or None
    if bearer is not None and other is not None:
        return None
    return bearer or other


def touch(key: ApiKey, now: datetime | None = None) -> bool:
    """Record that ``key`` was used; write at most once per :data:`TOUCH_INTERVAL` (1 minute).

    No query is made while ``key.last_used_at`` is recent.  Otherwise one
    conditional ``UPDATE`` (so several instances write once between them)
    and a commit of the session (call it after the request's own changes
    are committed, or as part of them).

    :param key: a key returned by :func:`authenticate_key`.
    :param now: the time of use (aware); default the current time.
    :returns: whether the row was written.
    """
    now = now or utcnow()
    due = now - TOUCH_INTERVAL
    if key.last_used_at is not None and key.last_used_at > due:
        return False
    result = db.session.execute(
        update(ApiKey)
        .where(
            ApiKey.id == key.id,
            or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= due),
        )
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    written = bool(result.rowcount)
    if written:
        key.last_used_at = now
    return written


def revoke(key: ApiKey) -> bool:
    """Revoke ``key`` for good (``revoked_at`` = now) and commit.

    :returns: ``False`` when it was already revoked (nothing changes).
    """
    if key.revoked_at is not None:
        return False
    key.revoked_at = utcnow()
    log_event(key.user_id, "api_key_revoked", key.prefix, commit=False)
    db.session.commit()
    logger.info("API key %s of account %s revoked", key.prefix, key.user_id)
    return True


def revoke_all(user: User) -> int:
    """Revoke every unrevoked key of ``user`` (no commit: part of the caller's change).

    :returns: how many keys were revoked.
    """
    result = db.session.execute(
        update(ApiKey)
        .where(ApiKey.user_id == user.id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def has_scope(key: ApiKey, scope: str) -> bool:
    """Whether ``key`` allows ``scope``: ``"write"`` keys may also read.

    :raises ValueError: for a scope other than ``"read"`` or ``"write"`` (a
        programming error, not a client's).
    """
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; use one of {', '.join(SCOPES)}")
    return key.scope in SCOPES and SCOPES.index(key.scope) >= SCOPES.index(scope)


def keys_of(user: User) -> list[ApiKey]:
    """Every key of ``user``, newest first (revoked and expired ones too)."""
    return list(
        db.session.scalars(
            select(ApiKey).where(ApiKey.user_id == user.id).order_by(ApiKey.id.desc())
        )
    )
