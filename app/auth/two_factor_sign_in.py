"""The second step of sign-in, and ``REQUIRE_2FA_FOR_ADMINS``.

After a right password for an account with two-factor on, nobody is signed
in yet: the (signed) session keeps only a *pending* marker, the account id,
its session version, an expiry :data:`PENDING_SECONDS` ahead and the "keep
me signed in" choice.  A right code then signs in with
:func:`app.auth.login.start_session` (a fresh session).  Wrong codes are
limited per client and per account (``SIGNIN_RATE_LIMIT``, as the password
step) and written to the account's security log (OWASP ASVS 4.0 2.2.1,
2.8.4).

An account with a passkey has the second step too (the passkey, or a code
when TOTP is on; :mod:`app.auth.passkey_sign_in`).  With
``REQUIRE_2FA_FOR_ADMINS`` an administrator signed in without two-factor or
a passkey is sent to the set-up page from every other page until it is on
(only browser sessions: API keys are not affected).
"""

from __future__ import annotations

import logging
import time

from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from app.auth import bp
from app.auth.login import account_tag, sign_in_failed, start_session
from app.auth.passkeys import has_passkey
from app.auth.security_log import EVENT_LABELS, log_event
from app.auth.two_factor import check_second_factor, is_enabled, remaining_recovery_codes
from app.auth.two_factor_forms import SecondStepForm
from app.extensions import db
from app.forms import form_status
from app.models.user import User
from app.visitors import has_sign_in_cookie
from flask_bastion import client_address, configured, csrf_rerender, limit
from flask_bastion.redirects import safe_next_path

logger = logging.getLogger("bastion.auth")

#: How long the code step waits after the password (seconds).
PENDING_SECONDS = 5 * 60
_PENDING = "two_factor_pending"

EVENT_LABELS.update(
    {
        "two_factor_enabled": "Two-factor sign-in turned on",
        "two_factor_disabled": "Two-factor sign-in turned off",
        "two_factor_failed": "Wrong two-factor code",
        "recovery_code_used": "Recovery code used",
        "recovery_codes_regenerated": "New recovery codes made",
    }
)

#: Endpoints an administrator without two-factor may still reach under REQUIRE_2FA_FOR_ADMINS.
SETUP_ENDPOINTS = frozenset(
    {
        "auth.two_factor",
        "auth.two_factor_start",
        "auth.two_factor_confirm",
        "auth.passkeys",
        "auth.passkey_options",
        "auth.passkey_register",
        "auth.sign_out",
        "static",
    }
)


def two_factor_required(user: User) -> bool:
    """Whether ``user``'s password sign-in needs a second step (two-factor on, or a passkey)."""
    return is_enabled(user.id) or has_passkey(user.id)


def begin_second_step(user: User, remember: bool, next_path: str | None) -> Response:
    """Keep only the pending marker in the session and send the browser to the code step.

    :param remember: the "keep me signed in" choice, applied after the code.
    :param next_path: a local path to go to after the code (already checked).
    """
    session.clear()
    session[_PENDING] = {
        "user": user.id,
        "version": user.session_version,
        "until": int(time.time()) + PENDING_SECONDS,
        "remember": bool(remember),
    }
    logger.info("account %s passed the password step from %s", user.id, client_address())
    return redirect(url_for("auth.two_factor_sign_in", next=next_path))


def pending_user() -> User | None:
    """The account waiting for its code, or ``None`` (no marker, expired, or stale).

    A marker is stale once the account's password changed (its session
    version), or when it was deleted or disabled.
    """
    marker = session.get(_PENDING)
    if not isinstance(marker, dict) or marker.get("until", 0) < time.time():
        return None
    user = db.session.scalar(select(User).where(User.id == marker.get("user")))
    if user is None or not user.is_active or user.session_version != marker.get("version"):
        return None
    return user


def pending_marker() -> dict | None:
    """The session's marker of a passed password step (see :func:`begin_second_step`), if any.

    Only its shape is checked: :func:`pending_user` says whether it still holds.
    """
    marker = session.get(_PENDING)
    return marker if isinstance(marker, dict) else None


def pending_key() -> str:
    """Rate-limit key of the account at the second step (its code or passkey): the
    account of the pending marker, or the client address without one."""
    marker = pending_marker()
    if marker is not None and "user" in marker:
        return f"two-factor:{marker['user']}"
    return f"two-factor:none:{client_address()}"


@bp.route("/sign-in/two-factor", methods=["GET", "POST"])
@limit(configured("SIGNIN_RATE_LIMIT"), methods=["POST"], key_func=client_address)
@limit(
    configured("SIGNIN_RATE_LIMIT"),
    methods=["POST"],
    key_func=pending_key,
    deduct_when=sign_in_failed,
)
@csrf_rerender
def two_factor_sign_in() -> Response | tuple[str, int]:
    """The code step of sign-in (a TOTP code or a recovery code)."""
    next_path = safe_next_path(request.args.get("next"))
    user = pending_user()
    if user is None:
        session.pop(_PENDING, None)
        flash("Please sign in again.", "info")
        return redirect(url_for("auth.sign_in", next=next_path))
    form = SecondStepForm()
    if form.validate_on_submit():
        how = check_second_factor(user.id, form.code.data)
        if how is not None:
            remember = bool(session[_PENDING].get("remember"))
            db.session.commit()  # the step or the spent recovery code, before anything else
            start_session(user, remember=remember)
            if how == "recovery":
                log_event(user.id, "recovery_code_used", commit=False)
            detail = "with a recovery code" if how == "recovery" else "with two-factor"
            log_event(user.id, "sign_in", detail + (", kept signed in" if remember else ""))
            g.sign_in_succeeded = True
            logger.info("account %s signed in (%s) from %s", user.id, how, client_address())
            if how == "recovery":
                left = remaining_recovery_codes(user.id)
                flash(
                    f"You used a recovery code; {left} left. Make new ones on the"
                    " two-factor page if you are running out.",
                    "warning" if left < 3 else "info",
                )
            if next_path is not None:
                return redirect(request.script_root + next_path)
            return redirect(url_for("auth.account"))
        log_event(user.id, "two_factor_failed", "sign-in")
        logger.warning(
            "two-factor code refused for account tag %s from %s",
            account_tag(user.email),
            client_address(),
        )
        form.code.errors.append("That code is not right.")
    page = render_template(
        "auth/two_factor_sign_in.html",
        form=form,
        next=next_path,
        totp=is_enabled(user.id),
        passkey=has_passkey(user.id),
    )
    return page, form_status(form)


@bp.before_app_request
def require_two_factor_for_admins() -> Response | None:
    """``REQUIRE_2FA_FOR_ADMINS``: send an administrator without two-factor to its set-up.

    Applies to browser sessions only (``g.user_session``, not API keys);
    :data:`SETUP_ENDPOINTS` stay reachable.
    """
    if not current_app.config.get("REQUIRE_2FA_FOR_ADMINS"):
        return None
    if request.endpoint in SETUP_ENDPOINTS or request.endpoint is None:
        return None
    if not has_sign_in_cookie():  # nobody to load (health checks, crawlers): app.visitors
        return None
    if not (current_user.is_authenticated and current_user.is_admin):
        return None
    if g.get("user_session") is None or is_enabled(current_user.id):
        return None
    if has_passkey(current_user.id):  # a passkey is a second factor too
        return None
    flash("Administrators must turn on two-factor sign-in first.", "warning")
    return redirect(url_for("auth.two_factor"))
