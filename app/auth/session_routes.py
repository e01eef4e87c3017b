"""The "Where you're signed in" and "Security log" sections of the account page.

Revoking is a POST with a CSRF token (``CSRFProtect``), limited per account
like the other account actions (``SIGNIN_RATE_LIMIT``); another account's
session number answers 404, as if it did not exist.
"""

from __future__ import annotations

from flask import abort, flash, redirect, url_for
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.wrappers import Response

from app.auth import bp
from app.auth.login import current_session, end_session
from app.auth.security_log import log_event
from app.auth.user_sessions import revoke_session, revoke_sessions
from app.extensions import db
from app.models.user_session import UserSession
from flask_bastion import configured, limit


def _back() -> Response:
    return redirect(url_for("auth.account") + "#sessions")


@bp.post("/account/sessions/<id:session_id>/revoke")
@login_required
@limit(configured("SIGNIN_RATE_LIMIT"), methods=["POST"])
def revoke_user_session(session_id: int) -> Response:
    """Sign out one of the signed-in user's sessions (its cookies stop working at once).

    Revoking the current session signs this browser out too.  Another
    account's session (or an unknown number): 404.
    """
    record = db.session.scalar(
        select(UserSession).where(
            UserSession.id == session_id, UserSession.user_id == current_user.id
        )
    )
    if record is None:
        abort(404)
    if not revoke_session(record):
        flash("That session was already signed out.", "info")
        return _back()
    log_event(current_user.id, "session_revoked", f"session {record.id}, {record.device}")
    if record is current_session():
        end_session()
        flash("You have signed out.", "info")
        return redirect(url_for("main.home"))
    flash(f"The session on {record.device} has been signed out.", "success")
    return _back()


@bp.post("/account/sessions/revoke-others")
@login_required
@limit(configured("SIGNIN_RATE_LIMIT"), methods=["POST"])
def revoke_other_sessions() -> Response:
    """Sign out every session of the signed-in user except this one."""
    count = revoke_sessions(current_user, keep=current_session())
    log_event(current_user.id, "sessions_revoked", f"{count} session(s)")
    flash(
        f"Signed out {count} other session{'' if count == 1 else 's'}."
        if count
        else "You were signed in nowhere else.",
        "success" if count else "info",
    )
    return _back()
