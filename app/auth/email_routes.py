"""Password reset and email confirmation pages (links from :mod:`app.auth.confirmation` mails).

``/forgot-password`` answers the same whether or not the address has an
account; ``/reset-password/<token>`` and ``/confirm-email/<token>`` show a
form on GET (mail scanners that follow links change nothing) and act on POST.
Asking for a mail is limited by ``MAIL_RATE_LIMIT`` per client and per address.
"""

from __future__ import annotations

import logging

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response
from wtforms import SubmitField

from app.auth import bp
from app.auth.confirmation import send_notice
from app.auth.forms import NewPasswordForm
from app.auth.login import account_tag, end_session, password_hasher
from app.auth.new_device import remember_device
from app.auth.security_log import log_event
from app.auth.tokens import read_token
from app.auth.user_sessions import revoke_sessions
from app.extensions import db
from app.forms import email_field, form_status, normalize_email
from app.jobs import enqueue
from app.models.base import utcnow
from flask_bastion import client_address, configured, csrf_rerender, limit
from flask_bastion.errors import CSRFRerenderForm

logger = logging.getLogger("bastion.auth")

RESET_SENT = (
    "If an account exists for that address, we've sent it a link to reset the password. "
    "The link works for a limited time and only once."
)


class ForgotPasswordForm(CSRFRerenderForm):
    """Ask for a reset link."""

    email = email_field("Email address", "email", "Please enter your email address.")
    submit = SubmitField("Send me a link")


class ResetPasswordForm(NewPasswordForm):
    """Choose a new password (the same rules as registration)."""

    submit = SubmitField("Set the new password")


class ConfirmEmailForm(CSRFRerenderForm):
    """One button: confirming is a POST, never a GET a link scanner could trigger."""

    submit = SubmitField("Confirm my address")


def _address_key() -> str:
    """Rate-limit key of the address a form names (hashed, so no address is stored)."""
    return "mail:" + account_tag(normalize_email(request.form.get("email")))


def _bad_link() -> tuple[str, int]:
    return render_template("auth/bad_link.html"), 404


@bp.route("/forgot-password", methods=["GET", "POST"])
@limit(configured("MAIL_RATE_LIMIT"), methods=["POST"], key_func=client_address)
@limit(configured("MAIL_RATE_LIMIT"), methods=["POST"], key_func=_address_key)
@csrf_rerender
def forgot_password() -> Response | tuple[str, int]:
    """Queue a reset link for the address (sent if it has a live, enabled account); same answer."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        email = normalize_email(form.email.data)
        # The same work for every address: the worker looks the account up.
        enqueue(
            "app.auth.confirmation.send_reset_link",
            email,
            request.url_root,
            client_address(),
            request.headers.get("User-Agent", "")[:512],
        )
        logger.info("password reset asked for tag %s from %s", account_tag(email), client_address())
        flash(RESET_SENT, "info")
        return redirect(url_for("auth.sign_in"))
    return render_template("auth/forgot_password.html", form=form), form_status(form)


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
@limit(configured("SIGNIN_RATE_LIMIT"), methods=["POST"], key_func=client_address)
@csrf_rerender
def reset_password(token: str) -> Response | tuple[str, int]:
    """Set a new password from a valid link; every session of the account ends."""
    user = read_token(token, "reset")
    if user is None:
        return _bad_link()
    form = ResetPasswordForm(personal_values=(user.email, user.display_name))
    if form.validate_on_submit():
        user.password_hash = password_hasher().hash(form.new_password.data)
        user.session_version += 1  # every session and remember cookie ends
        if user.email_confirmed_at is None:
            user.email_confirmed_at = utcnow()  # the link proves the address
        revoked = revoke_sessions(user)
        log_event(user.id, "password_reset", f"{revoked} session(s) signed out", commit=False)
        db.session.commit()
        send_notice(user, "password_reset")
        remember_device(user)  # this browser reads the account's mail: not a "new device"
        if current_user.is_authenticated:
            end_session()
        logger.info("account %s reset its password from %s", user.id, client_address())
        flash("Your password has been reset and every device signed out. Sign in now.", "success")
        return redirect(url_for("auth.sign_in"))
    return render_template("auth/reset_password.html", form=form, token=token), form_status(form)


@bp.route("/confirm-email/<token>", methods=["GET", "POST"])
@limit(configured("SIGNIN_RATE_LIMIT"), methods=["POST"], key_func=client_address)
@csrf_rerender
def confirm_email(token: str) -> Response | tuple[str, int]:
    """Confirm the address of the account a valid link names."""
    user = read_token(token, "confirm")
    if user is None:
        return _bad_link()
    form = ConfirmEmailForm()
    if form.validate_on_submit():
        user.email_confirmed_at = utcnow()
        log_event(user.id, "email_confirmed", commit=False)
        db.session.commit()
        remember_device(user)  # this browser reads the account's mail: not a "new device"
        logger.info("account %s confirmed its address", user.id)
        flash("Your email address is confirmed. You can sign in now.", "success")
        return redirect(url_for("auth.sign_in"))
    return render_template("auth/confirm_email.html", form=form, token=token), form_status(form)
