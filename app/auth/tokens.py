"""Signed, expiring, single-use links for password reset and email confirmation.

A token is itsdangerous's ``URLSafeTimedSerializer`` (HMAC-SHA1 over
``SECRET_KEY``, one salt per purpose so a confirmation token never resets a
password) of ``[user id, fingerprint]``.  The fingerprint is a SHA-256 of the
account's password hash, ``session_version``, email and
``email_confirmed_at``: when any of them changes -- the reset sets a new
password, the confirmation sets ``email_confirmed_at``, the owner changes the
password otherwise -- every earlier token stops matching, so a token works
once (OWASP ASVS 4.0 2.5.1, 2.5.2; OWASP Forgot Password Cheat Sheet).
Its age is checked against ``PASSWORD_RESET_MAX_AGE``,
``EMAIL_CONFIRM_MAX_AGE`` or ``EMAIL_CHANGE_MAX_AGE`` seconds.

A change of address keeps its pending state in the token alone (no table):
``[user id, fingerprint, new address]`` under its own salt; changing the
address changes the fingerprint, so the link works once.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

from app.extensions import db
from app.models.user import User

#: purpose -> (salt, config key of the lifetime in seconds).
PURPOSES = {
    "reset": ("bastion.password-reset", "PASSWORD_RESET_MAX_AGE"),
    "confirm": ("bastion.email-confirm", "EMAIL_CONFIRM_MAX_AGE"),
    "email": ("bastion.email-change", "EMAIL_CHANGE_MAX_AGE"),
}


def fingerprint(user: User) -> str:
    """A short digest of what a token must outlive no change of (see the module's docstring)."""
    confirmed = user.email_confirmed_at.isoformat() if user.email_confirmed_at else ""
    material = f"{user.password_hash}\0{user.session_version}\0{user.email}\0{confirmed}"
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    salt = PURPOSES[purpose][0]
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def make_token(user: User, purpose: str, *extra: str) -> str:
    """A URL-safe token for ``user`` and ``purpose`` (a key of :data:`PURPOSES`).

    :param extra: strings the token carries too (signed, not encrypted: the
        ``"email"`` purpose carries the new address, which only its link reaches).
    :raises KeyError: for another purpose (a programming error).
    """
    return str(_serializer(purpose).dumps([user.id, fingerprint(user), *extra]))


def read_token_with(token: str, purpose: str) -> tuple[User, list[str]] | None:
    """The live account ``token`` was made for and the ``extra`` strings it carries.

    :param token: the text from the link (any string: nothing is trusted before the check).
    :param purpose: a key of :data:`PURPOSES`.
    :returns: ``(user, extra)``, or ``None`` if the token is forged, expired,
        used (the account's fingerprint changed) or its account is deleted or disabled.
    """
    max_age = int(current_app.config[PURPOSES[purpose][1]])
    try:
        payload = _serializer(purpose).loads(token, max_age=max_age)
    except (BadSignature, ValueError, TypeError):  # SignatureExpired is a BadSignature
        return None
    if not isinstance(payload, list) or len(payload) < 2:
        return None
    user_id, mark, *extra = payload
    if (
        not isinstance(user_id, int)
        or not isinstance(mark, str)
        or not all(isinstance(item, str) for item in extra)
    ):
        return None
    user = db.session.get(User, user_id)
    if user is None or user.deleted_at is not None or user.is_disabled:
        return None
    if not hmac.compare_digest(fingerprint(user), mark):
        return None
    return user, extra


def read_token(token: str, purpose: str) -> User | None:
    """The live account ``token`` was made for, or ``None`` (see :func:`read_token_with`).

    :param token: the text from the link.
    :param purpose: ``"reset"`` or ``"confirm"``.
    """
    found = read_token_with(token, purpose)
    return None if found is None else found[0]
