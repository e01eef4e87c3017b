"""Administration pages: only for accounts with ``is_admin``; 403 for everyone else."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, abort, render_template
from flask_login import current_user, login_required
from sqlalchemy import select

from app.auth.passkeys import passkey_user_ids
from app.auth.security_log import ADMIN_SHOWN_EVENTS, EVENT_LABELS, events_of
from app.auth.two_factor import enabled_user_ids
from app.auth.user_sessions import live_sessions
from app.extensions import db
from app.models import INCLUDE_DELETED
from app.models.user import User

bp = Blueprint("admin", __name__, url_prefix="/admin")
F = TypeVar("F", bound=Callable[..., Any])


def admin_required(view: F) -> F:
    """Sign-in required (else the sign-in page), then ``is_admin`` (else 403)."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return login_required(wrapped)  # type: ignore[return-value]


@bp.get("/")
@admin_required
def users() -> str:
    """Every account, deleted ones included, newest first, and its second factors
    (an authenticator app, passkeys, both or none)."""
    accounts = db.session.scalars(
        select(User).order_by(User.id.desc()).execution_options(**{INCLUDE_DELETED: True})
    ).all()
    return render_template(
        "admin/users.html",
        accounts=accounts,
        two_factor_ids=enabled_user_ids(),
        passkey_ids=passkey_user_ids(),
    )


@bp.get("/accounts/<id:user_id>/security-log")
@admin_required
def security_log(user_id: int) -> str:
    """One account's security log (deleted accounts too), newest first, bounded.

    Shows the newest :data:`app.auth.security_log.ADMIN_SHOWN_EVENTS` entries
    and the account's live sessions; an unknown account is a 404.
    """
    account = db.session.scalar(
        select(User).where(User.id == user_id).execution_options(**{INCLUDE_DELETED: True})
    )
    if account is None:
        abort(404)
    return render_template(
        "admin/security_log.html",
        account=account,
        events=events_of(account.id, ADMIN_SHOWN_EVENTS),
        event_labels=EVENT_LABELS,
        limit=ADMIN_SHOWN_EVENTS,
        user_sessions=live_sessions(account),
    )
