"""Account pages.  Every state change is a POST with a CSRF token."""

from __future__ import annotations

import logging

from flask import current_app, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app.auth import bp
from app.auth.api_key_routes import account_page
from app.auth.api_keys import revoke_all
from app.auth.confirmation import (
    CHECK_INBOX,
    UNCONFIRMED,
    register_account,
    send_confirmation,
    send_notice,
)
from app.auth.forms import (
    ApiKeyForm,
    ChangePasswordForm,
    DeleteAccountForm,
    RegisterForm,
    SignInForm,
)
from app.auth.login import (
    account_tag,
    end_session,
    find_live_user,
    password_hasher,
    sign_in_failed,
    start_session,
)
from app.auth.security_log import log_event
from app.auth.two_factor_sign_in import begin_second_step, two_factor_required
from app.auth.user_sessions import revoke_sessions
from app.extensions import db
from app.forms import form_status, normalize_email
from app.models.user import User
from flask_bastion import client_address, configured, csrf_rerender, limit
from flask_bastion.redirects import safe_next_path

logger = logging.getLogger("bastion.auth")
GENERIC_FAILURE = "Incorrect email or password."


def _account_key() -> str:
    """Rate-limit key of the account a sign-in attempt names (hashed email)."""
    return "account:" + account_tag(normalize_email(request.form.get("email")))


def _next_path() -> str | None:
    return safe_next_path(request.args.get("next"))


def _redirect_after_sign_in() -> Response:
    target = _next_path()
    if target is not None:
        return redirect(request.script_root + target)
    return redirect(url_for("auth.account"))


@bp.route("/register", methods=["GET", "POST"])
@limit(configured("REGISTER_RATE_LIMIT"), methods=["POST"], key_func=client_address)
@csrf_rerender
def register() -> Response | tuple[str, int]:
    """Start a registration: "check your inbox", whether or not the address is taken."""
    if current_user.is_authenticated:
        return redirect(url_for("auth.account"))
    form = RegisterForm()
    if form.validate_on_submit():
        # The same answer whether or not the address has an account (app.auth.confirmation).
        email = normalize_email(form.email.data)
        register_account(email, form.display_name.data.strip(), form.password.data)
        flash(CHECK_INBOX, "info")
        return redirect(url_for("auth.sign_in"))
    return render_template("auth/register.html", form=form), form_status(form)


@bp.route("/sign-in", methods=["GET", "POST"])
@limit(configured("SIGNIN_RATE_LIMIT"), methods=["POST"], key_func=client_address)
@limit(
    configured("SIGNIN_RATE_LIMIT"),
    methods=["POST"],
    key_func=_account_key,
    deduct_when=sign_in_failed,
)
@csrf_rerender
def sign_in() -> Response | tuple[str, int]:
    """Sign in; the same message for an unknown email and a wrong password."""
    if current_user.is_authenticated:
        return _redirect_after_sign_in()
    form = SignInForm()
    if form.validate_on_submit():
        email = normalize_email(form.email.data)
        hasher = password_hasher()
        user = find_live_user(email)
        if user is None:
            hasher.verify_dummy(form.password.data)
            reason = "unknown account"
        elif not hasher.verify(user.password_hash, form.password.data):
            reason = "wrong password"
            log_event(user.id, "sign_in_failed")
        elif user.is_disabled:
            reason = "disabled account"
            log_event(user.id, "sign_in_failed", "account disabled")
            form.form_errors.append("This account is disabled. Contact the site's team.")
        elif user.email_confirmed_at is None:
            reason = "unconfirmed address"
            send_confirmation(user)
            form.form_errors.append(UNCONFIRMED)
        else:
            if hasher.needs_rehash(user.password_hash):
                user.password_hash = hasher.hash(form.password.data)
                db.session.commit()
                logger.info("password hash of account %s upgraded", user.id)
            if two_factor_required(user):  # right password: the code step decides
                g.sign_in_succeeded = True
                return begin_second_step(user, bool(form.remember.data), _next_path())
            start_session(user, remember=bool(form.remember.data))
            log_event(user.id, "sign_in", "kept signed in" if form.remember.data else "")
            g.sign_in_succeeded = True
            logger.info("account %s signed in from %s", user.id, client_address())
            return _redirect_after_sign_in()
        logger.warning(
            "sign-in failed (%s) for account tag %s from %s",
            reason,
            account_tag(email),
            client_address(),
        )
        if not form.form_errors:
            form.form_errors.append(GENERIC_FAILURE)
    return render_template("auth/sign_in.html", form=form, next=_next_path()), form_status(form)


@bp.post("/sign-out")
def sign_out() -> Response:
    """Sign out (POST only, CSRF-checked by ``CSRFProtect``); the session is revoked."""
    if current_user.is_authenticated:
        log_event(current_user.id, "sign_out")
        logger.info("account %s signed out", current_user.id)
    end_session()
    flash("You have signed out.", "info")
    return redirect(url_for("main.home"))


@bp.get("/account")
@login_required
def account() -> Response:
    """The signed-in user's account page, with its API keys."""
    return account_page(ApiKeyForm())


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
@limit(configured("SIGNIN_RATE_LIMIT"), methods=["POST"])
@csrf_rerender
def change_password() -> Response | tuple[str, int]:
    """Change the password (asks for the current one); signs out other sessions."""
    user: User = current_user._get_current_object()
    form = ChangePasswordForm(personal_values=(user.email, user.display_name))
    if form.validate_on_submit():
        hasher = password_hasher()
        if hasher.verify(user.password_hash, form.current_password.data):
            user.password_hash = hasher.hash(form.new_password.data)
            user.session_version += 1  # every other session and remember cookie ends
            revoked = revoke_sessions(user)
            log_event(user.id, "password_changed", f"{revoked} session(s) signed out", commit=False)
            db.session.commit()
            remember = current_app.config["REMEMBER_COOKIE_NAME"] in request.cookies
            start_session(user, remember=remember)
            send_notice(user, "password_changed")
            logger.info("account %s changed its password", user.id)
            flash("Your password has been changed. Other devices have been signed out.", "success")
            return redirect(url_for("auth.account"))
        form.current_password.errors.append("That is not your current password.")
    return render_template("auth/change_password.html", form=form), form_status(form)


@bp.route("/account/delete", methods=["GET", "POST"])
@login_required
@limit(configured("SIGNIN_RATE_LIMIT"), methods=["POST"])
@csrf_rerender
def delete_account() -> Response | tuple[str, int]:
    """Delete the account (soft delete, confirmed with the password), then sign out."""
    user: User = current_user._get_current_object()
    form = DeleteAccountForm()
    if form.validate_on_submit():
        if password_hasher().verify(user.password_hash, form.password.data):
            user.soft_delete()
            revoke_all(user)  # unusable already (deleted owner); revoked for good too
            revoke_sessions(user)
            db.session.commit()
            logger.info("account %s deleted itself", user.id)
            end_session()
            flash("Your account has been deleted.", "info")
            return redirect(url_for("main.home"))
        form.password.errors.append("That is not your password.")
    return render_template("auth/delete_account.html", form=form), form_status(form)
