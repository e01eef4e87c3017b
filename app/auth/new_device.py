"""A mail to the owner when a sign-in comes from a browser the account has not used.

"Known" browsers are remembered without a table, the way GitHub remembers
verified devices: each successful sign-in sets a long-lived cookie
(:data:`DEVICE_COOKIE`, ``KNOWN_DEVICE_MAX_AGE`` seconds) whose value is
signed with ``SECRET_KEY`` (itsdangerous, its own salt) and lists one *mark*
per account that signed in with this browser (at most
:data:`MAX_ACCOUNTS`, the latest first).  A mark is an HMAC of the account's
id and creation time, so the cookie names no account to whoever reads it and
can't be forged or copied to another account.  A browser that proved it reads
the account's mailbox (the confirmation or password-reset link) is marked too.

:func:`note_sign_in` runs inside :func:`app.auth.login.start_session`, the
one path every way of signing in takes (password, the two-factor step,
passkeys).  It mails the owner (device label, address, time in UTC, a link to
"Where you're signed in" to sign that session out) when the browser carries
no valid mark for the account, except:

* the account's very first sign-in, shortly after its address was confirmed
  (no earlier session on record and the address confirmed within
  ``EMAIL_CONFIRM_MAX_AGE``): the owner has just proved the mailbox;
* a sign-in renewed by the signed-in user in the same browser (a password change).

Clearing cookies, a private window or a new ``SECRET_KEY`` make a browser
unknown again: one more mail, never one less (fails closed).  The mail goes
through the job queue (:func:`app.mail.send_mail`); a failure is logged and
never fails the sign-in (OWASP ASVS 4.0 2.5.5, 3.3 ; NIST SP 800-63B 5.2.1 asks
that subscribers be told of authenticator events).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import timedelta

from flask import after_this_request, current_app, request, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from werkzeug.wrappers import Response

from app.extensions import db
from app.mail import send_mail
from app.models.base import utcnow
from app.models.user import User
from app.models.user_session import UserSession

logger = logging.getLogger("bastion.auth")

#: Name of the cookie that lists the accounts signed in with this browser.
DEVICE_COOKIE = "known_device"
#: Accounts a browser is remembered for (the latest sign-ins win).
MAX_ACCOUNTS = 10
_SALT = "bastion.known-device"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def device_mark(user: User) -> str:
    """The mark of ``user`` in the cookie: 16 hex digits of an HMAC-SHA256 over ``SECRET_KEY``."""
    created = user.created_at.isoformat() if user.created_at else ""
    key = str(current_app.config["SECRET_KEY"]).encode("utf-8")
    message = f"known-device\0{user.id}\0{created}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:16]


def known_marks() -> list[str]:
    """The marks this request's cookie carries; ``[]`` if absent, forged, malformed or too old."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return []
    max_age = int(current_app.config["KNOWN_DEVICE_MAX_AGE"])
    try:
        marks = _serializer().loads(raw, max_age=max_age)
    except (BadSignature, ValueError, TypeError):  # SignatureExpired is a BadSignature
        return []
    if not isinstance(marks, list) or not all(isinstance(mark, str) for mark in marks):
        return []
    return marks[:MAX_ACCOUNTS]


def is_known_device(user: User) -> bool:
    """Whether this request's browser signed in to ``user`` before (a valid mark)."""
    mark = device_mark(user)
    return any(hmac.compare_digest(mark, known) for known in known_marks())


def remember_device(user: User) -> None:
    """Mark this browser as known to ``user``: the response sets :data:`DEVICE_COOKIE`.

    The cookie has the session cookie's path, domain and ``Secure`` flag, is
    ``HttpOnly`` and ``SameSite=Lax``, and lives ``KNOWN_DEVICE_MAX_AGE`` seconds.
    """
    mark = device_mark(user)
    marks = [mark, *(known for known in known_marks() if known != mark)][:MAX_ACCOUNTS]
    value = _serializer().dumps(marks)

    @after_this_request
    def set_cookie(response: Response) -> Response:
        app = current_app
        interface = app.session_interface
        response.set_cookie(
            DEVICE_COOKIE,
            value,
            max_age=int(app.config["KNOWN_DEVICE_MAX_AGE"]),
            path=interface.get_cookie_path(app),  # type: ignore[arg-type]
            domain=interface.get_cookie_domain(app),  # type: ignore[arg-type]
            secure=bool(app.config["SESSION_COOKIE_SECURE"]),
            httponly=True,
            samesite="Lax",
        )
        return response


def is_first_sign_in(user: User, record: UserSession) -> bool:
    """Whether ``record`` is the account's first sign-in, soon after the address was confirmed.

    True when no session of ``user`` exists but ``record`` and the address
    was confirmed within ``EMAIL_CONFIRM_MAX_AGE`` seconds.  The time bound
    keeps an account whose old sessions ``flask purge`` removed from counting
    as new.
    """
    confirmed = user.email_confirmed_at
    window = timedelta(seconds=int(current_app.config["EMAIL_CONFIRM_MAX_AGE"]))
    if confirmed is None or confirmed < utcnow() - window:
        return False
    earlier = db.session.scalar(
        select(UserSession.id)
        .where(UserSession.user_id == user.id, UserSession.id != record.id)
        .limit(1)
    )
    return earlier is None


def note_sign_in(user: User, record: UserSession, *, renewed: bool = False) -> bool:
    """After a successful sign-in: mail the owner if the browser is new, then mark it known.

    :param record: the new session row (its device label, address and time go in the mail).
    :param renewed: the user was already signed in to this account in this
        browser (a password change signs in again): never a notice.
    :returns: whether a notice was queued.  Never raises for a mail that fails.
    """
    notify = not renewed and not is_known_device(user) and not is_first_sign_in(user, record)
    remember_device(user)
    if not notify:
        return False
    try:
        send_mail(
            user.email,
            "New sign-in to your account",
            "mail/new_device.txt",
            user=user,
            device=record.device or "Unknown device",
            address=record.ip_address or "unknown",
            when=record.created_at.strftime("%Y-%m-%d %H:%M UTC"),
            sessions_url=url_for("auth.account", _anchor="sessions", _external=True),
            reset_url=url_for("auth.forgot_password", _external=True),
        )
    except Exception:  # a notice that can't be built or queued must not fail the sign-in
        logger.exception("new-device notice for account %s not sent", user.id)
        return False
    logger.info("account %s signed in from a new device: notice queued", user.id)
    return True
