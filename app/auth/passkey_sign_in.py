"""Signing in with a passkey: without a password, or as the second step after it.

**Passwordless** (``/sign-in/passkey``): the options are the same for
everyone (no ``allowCredentials``: the browser offers the discoverable
passkeys it holds for this site, so nothing tells which accounts exist),
user verification is required, and a verified passkey counts as both
factors (something you have, and the PIN or biometric that unlocked it):
no code step follows, and ``REQUIRE_2FA_FOR_ADMINS`` is met.

**Second step** (``/sign-in/two-factor/passkey``): after a right password
for an account with a passkey, any of that account's passkeys finishes the
sign-in, as a TOTP code does.

Both sign in through :func:`app.auth.login.start_session`, like the
password form: a fresh server-side session, the security log, "keep me
signed in".  Both are limited per client address (``SIGNIN_RATE_LIMIT``),
the second step also per account for refusals.  Disabled, unconfirmed and
deleted accounts can't sign in.  Answers are JSON: ``{"redirect": url}``,
or a 400 problem+json whose ``detail`` the page shows.
"""

from __future__ import annotations

import logging

from flask import g, jsonify, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from app.auth import bp
from app.auth.confirmation import UNCONFIRMED, send_confirmation
from app.auth.login import sign_in_failed, start_session
from app.auth.passkey_challenges import SECOND_STEP, SIGN_IN, UNKNOWN, PasskeyError
from app.auth.passkey_routes import json_body, json_options, refusal
from app.auth.passkeys import authentication_options, has_passkey, verify_assertion
from app.auth.security_log import log_event
from app.auth.two_factor_sign_in import pending_key, pending_marker, pending_user
from app.extensions import db
from app.models.user import User
from flask_bastion import client_address, configured, limit
from flask_bastion.redirects import safe_next_path

logger = logging.getLogger("bastion.auth")
SIGN_IN_AGAIN = "Your sign-in has expired. Please sign in with your password again."


def _signed_in(user: User, remember: bool, detail: str) -> Response:
    """Open the session (as the password form does), log it, and name the next page."""
    start_session(user, remember=remember)
    log_event(user.id, "sign_in", detail + (", kept signed in" if remember else ""))
    g.sign_in_succeeded = True
    logger.info("account %s signed in with a passkey from %s", user.id, client_address())
    next_path = safe_next_path(request.args.get("next"))
    target = request.script_root + next_path if next_path else None
    return jsonify(redirect=target or url_for("auth.account"))


def _refused(error: PasskeyError, account_id: int | None = None) -> Response:
    """Log a refused answer (in the passkey owner's or ``account_id``'s log) and answer 400."""
    owner = account_id or (error.passkey.user_id if error.passkey is not None else None)
    logger.warning("passkey sign-in refused (%s) from %s", error.kind, client_address())
    if owner is not None and error.kind != "expired":
        name = error.passkey.name if error.passkey is not None else ""
        if error.kind == "clone":
            log_event(owner, "passkey_clone_suspected", name)
        else:
            log_event(owner, "passkey_failed", f"sign-in ({error.kind})")
    return refusal(error.message)


@bp.post("/sign-in/passkey/options")
@limit(configured("SIGNIN_RATE_LIMIT"), methods=["POST"], key_func=client_address)
def passkey_sign_in_options() -> Response:
    """Request options for a passwordless sign-in: the same for every visitor."""
    return json_options(authentication_options(SIGN_IN))


@bp.post("/sign-in/passkey")
@limit(configured("SIGNIN_RATE_LIMIT"), methods=["POST"], key_func=client_address)
def passkey_sign_in() -> Response:
    """Sign in with a discoverable passkey (``{"credential": ..., "remember": bool}``)."""
    try:
        body = json_body()
        assertion = verify_assertion(SIGN_IN, body.get("credential"))
    except PasskeyError as error:
        return _refused(error)
    passkey = assertion.passkey
    db.session.commit()  # the counter moved on the authenticator: keep it, whatever follows
    user = db.session.scalar(select(User).where(User.id == passkey.user_id))
    if user is None:  # a deleted account (its passkeys go with it when purged)
        return refusal(UNKNOWN)
    if user.is_disabled:
        log_event(user.id, "sign_in_failed", "passkey; account disabled")
        return refusal("This account is disabled. Contact the site's team.")
    if user.email_confirmed_at is None:
        send_confirmation(user)
        return refusal(UNCONFIRMED)
    remember = body.get("remember") is True
    return _signed_in(user, remember, f"with passkey “{passkey.name}”, no password")


@bp.post("/sign-in/two-factor/passkey/options")
@limit(configured("SIGNIN_RATE_LIMIT"), methods=["POST"], key_func=client_address)
def second_step_passkey_options() -> Response:
    """Request options for the second step: the passkeys of the account at that step."""
    user = pending_user()
    if user is None or not has_passkey(user.id):
        return refusal(SIGN_IN_AGAIN)
    return json_options(authentication_options(SECOND_STEP, user))


@bp.post("/sign-in/two-factor/passkey")
@limit(configured("SIGNIN_RATE_LIMIT"), methods=["POST"], key_func=client_address)
@limit(
    configured("SIGNIN_RATE_LIMIT"),
    methods=["POST"],
    key_func=pending_key,
    deduct_when=sign_in_failed,
)
def second_step_passkey() -> Response:
    """Finish a password sign-in with one of the account's passkeys."""
    user = pending_user()
    if user is None:
        return refusal(SIGN_IN_AGAIN)
    try:
        body = json_body()
        assertion = verify_assertion(SECOND_STEP, body.get("credential"), user)
    except PasskeyError as error:
        return _refused(error, user.id)
    marker = pending_marker() or {}
    db.session.commit()
    detail = f"with password and passkey “{assertion.passkey.name}”"
    return _signed_in(user, bool(marker.get("remember")), detail)
