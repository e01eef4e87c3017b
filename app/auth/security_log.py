"""The per-account security log: sign-ins, failures, sign-outs, revocations, key changes.

Each entry is a :class:`~app.models.user_session.SecurityEvent` with the
request's address and device label.  The user sees the newest
:data:`SHOWN_EVENTS` on the account page, admins at
``/admin/accounts/<id>/security-log``; ``flask purge`` removes entries older
than ``SECURITY_LOG_RETENTION_DAYS`` (OWASP ASVS 4.0 7.1.3, 7.2.1: security
events are logged, never with a password, session token or whole key).
"""

from __future__ import annotations

from sqlalchemy import select

from app.auth.user_sessions import client_details
from app.extensions import db
from app.models.user_session import SecurityEvent

#: kind -> what the log says.
EVENT_LABELS = {
    "registered": "Account created",
    "sign_in": "Signed in",
    "sign_in_failed": "Failed sign-in (wrong password)",
    "sign_out": "Signed out",
    "session_revoked": "Signed out a session",
    "sessions_revoked": "Signed out every other session",
    "password_changed": "Password changed",  # nosec B105 - a label, not a password
    "password_reset_requested": "Password reset link sent",  # nosec B105 - a label
    "password_reset": "Password reset by email link",  # nosec B105 - a label
    "email_confirmed": "Email address confirmed",
    "api_key_created": "API key created",
    "api_key_revoked": "API key revoked",
}
#: Entries shown on the account page (newest first).
SHOWN_EVENTS = 20
#: Entries shown to an admin per account (newest first).
ADMIN_SHOWN_EVENTS = 200


def log_event(user_id: int, kind: str, detail: str = "", *, commit: bool = True) -> SecurityEvent:
    """Add an entry to account ``user_id``'s log, with this request's address and device.

    :param kind: a key of :data:`EVENT_LABELS`.
    :param detail: a short public note (at most 120 characters), never a secret.
    :param commit: commit now (default), or leave it to the caller's change.
    :raises ValueError: for an unknown ``kind`` (a programming error).
    """
    if kind not in EVENT_LABELS:
        raise ValueError(f"unknown security event {kind!r}")
    address, device = client_details()
    event = SecurityEvent(
        user_id=user_id, kind=kind, ip_address=address, device=device, detail=detail[:120]
    )
    db.session.add(event)
    if commit:
        db.session.commit()
    return event


def events_of(user_id: int, limit: int = SHOWN_EVENTS) -> list[SecurityEvent]:
    """The newest ``limit`` entries of account ``user_id``'s log, newest first."""
    return list(
        db.session.scalars(
            select(SecurityEvent)
            .where(SecurityEvent.user_id == user_id)
            .order_by(SecurityEvent.id.desc())
            .limit(limit)
        )
    )
