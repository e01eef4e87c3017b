"""Server-side sign-in sessions: open, find, touch, list and revoke.

Each sign-in makes a :class:`~app.models.user_session.UserSession` row.
Flask-Login's user id is ``"<user id>:<session_version>:<token>"`` (its
documented "alternative tokens"): it is stored in the signed session cookie
and in the signed remember-me cookie, and :func:`app.auth.login.load_user`
looks the token up on every request.  So revoking the row ends the session
cookie *and* the remember-me cookie on their next request, in every process
that shares the database (OWASP ASVS 4.0 3.3.1, 3.3.3).

``session_version`` stays: a password change raises it *and* revokes every
row, so a cookie made before the change is dead even if a row were missed.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from flask import current_app, has_request_context, request
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from app.extensions import db
from app.models.base import utcnow
from app.models.user import User
from app.models.user_session import ADDRESS_MAX_LENGTH, DEVICE_MAX_LENGTH, UserSession
from app.views.page_cache import pages_unchanged
from flask_bastion import client_address

#: ``last_seen_at`` is written at most this often per session (no write per request).
TOUCH_INTERVAL = timedelta(minutes=1)

# (pattern, name), first match wins: Edge and Opera say "Chrome" too, Chrome says "Safari".
_BROWSERS = (
    (r"Edg(?:e|A|iOS)?/", "Edge"),
    (r"OPR/|Opera", "Opera"),
    (r"Firefox/|FxiOS/", "Firefox"),
    (r"Chrom(?:e|ium)/|CriOS/", "Chrome"),
    (r"Safari/", "Safari"),
    (r"curl/", "curl"),
)
_SYSTEMS = (
    (r"iPhone|iPad|iPod", "iOS"),
    (r"Android", "Android"),
    (r"CrOS", "ChromeOS"),
    (r"Windows", "Windows"),
    (r"Mac OS X|Macintosh", "macOS"),
    (r"Linux|X11", "Linux"),
)


def device_label(user_agent: str | None) -> str:
    """A short, human label of a ``User-Agent`` header, e.g. ``"Firefox on Linux"``.

    Only well-known browser and system names are ever returned (never text
    from the header itself, so nothing a client sends is echoed);
    ``"Unknown device"`` when neither is recognised.
    """
    text = (user_agent or "")[:512]
    browser = next((name for pattern, name in _BROWSERS if re.search(pattern, text)), None)
    system = next((name for pattern, name in _SYSTEMS if re.search(pattern, text)), None)
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or "Unknown device"


def hash_token(token: str) -> str:
    """Lower-case hex SHA-256 of a session token (what the database stores)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def max_idle() -> timedelta:
    """How long a session may go unseen before it is dead: the longer cookie lifetime.

    ``PERMANENT_SESSION_LIFETIME`` and ``REMEMBER_COOKIE_DURATION`` (seconds
    or ``timedelta``); a replayed cookie older than both is refused even
    though Flask-Login does not check the remember-me cookie's age itself.
    """
    config = current_app.config
    lifetimes = [config["PERMANENT_SESSION_LIFETIME"], config["REMEMBER_COOKIE_DURATION"]]
    return max(t if isinstance(t, timedelta) else timedelta(seconds=int(t)) for t in lifetimes)


def client_details() -> tuple[str, str]:
    """``(address, device label)`` of the current request; ``("", "Command line")`` outside one."""
    if not has_request_context():
        return "", "Command line"
    address = client_address()[:ADDRESS_MAX_LENGTH]
    return address, device_label(request.headers.get("User-Agent"))[:DEVICE_MAX_LENGTH]


def open_session(user: User) -> tuple[UserSession, str]:
    """Make a session row for ``user`` from this request's address and device; commit.

    :returns: the row and its token (43 URL-safe characters).  The token
        exists only in the return value and in the signed cookies.
    """
    token = secrets.token_urlsafe(32)
    address, device = client_details()
    now = utcnow()
    record = UserSession(
        user_id=user.id,
        token_hash=hash_token(token),
        created_at=now,
        last_seen_at=now,
        ip_address=address,
        device=device,
    )
    db.session.add(record)
    db.session.commit()
    return record, token


def find_session(token: str) -> UserSession | None:
    """The session row whose token is ``token``, with its owner loaded (one query), or ``None``.

    Revoked and idle rows are returned too; :func:`is_live` decides.  A
    deleted owner is filtered out by the soft-delete rule, so
    ``record.user`` may be ``None``.
    """
    return db.session.scalar(
        select(UserSession)
        .options(joinedload(UserSession.user))
        .where(UserSession.token_hash == hash_token(token))
    )


def is_live(record: UserSession, now: datetime | None = None) -> bool:
    """Not revoked and seen within :func:`max_idle` of ``now`` (default: the current time)."""
    now = now or utcnow()
    return record.revoked_at is None and record.last_seen_at > now - max_idle()


def touch(record: UserSession) -> bool:
    """Set ``last_seen_at`` to now if it is older than :data:`TOUCH_INTERVAL`; commit.

    At most one write a minute per session, not one per request; the
    ``UPDATE`` is conditional, so concurrent requests write once.

    :returns: whether a row was written.
    """
    now = utcnow()
    if record.last_seen_at > now - TOUCH_INTERVAL:
        return False
    result = db.session.execute(
        update(UserSession)
        .where(UserSession.id == record.id, UserSession.last_seen_at <= now - TOUCH_INTERVAL)
        .values(last_seen_at=now)
        .execution_options(synchronize_session=False)
    )
    with pages_unchanged(db.session()):  # a visit changes no page: the page caches stay
        db.session.commit()
    set_committed_value(record, "last_seen_at", now)  # known, not a change to flush
    return bool(result.rowcount)


def live_sessions(user: User) -> list[UserSession]:
    """``user``'s live sessions, most recently seen first."""
    return list(
        db.session.scalars(
            select(UserSession)
            .where(
                UserSession.user_id == user.id,
                UserSession.revoked_at.is_(None),
                UserSession.last_seen_at > utcnow() - max_idle(),
            )
            .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
        )
    )


def revoke_session(record: UserSession) -> bool:
    """Revoke ``record`` (``revoked_at`` = now); no commit (part of the caller's change).

    :returns: ``False`` when it was already revoked.
    """
    if record.revoked_at is not None:
        return False
    record.revoked_at = utcnow()
    return True


def revoke_sessions(user: User, keep: UserSession | None = None) -> int:
    """Revoke every unrevoked session of ``user`` except ``keep``; no commit.

    :returns: how many rows were revoked.
    """
    query = update(UserSession).where(
        UserSession.user_id == user.id, UserSession.revoked_at.is_(None)
    )
    if keep is not None:
        query = query.where(UserSession.id != keep.id)
    result = db.session.execute(
        query.values(revoked_at=utcnow()).execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)
