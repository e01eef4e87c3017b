"""Pages of an email-address change (the logic is :mod:`app.auth.email_change`).

``/account/email`` asks for the new address and the current password; asking
is limited by ``MAIL_RATE_LIMIT`` per account and per client, like the
password-reset form.  ``/account/email/confirm/<token>`` shows a button on GET
and moves the account on POST, limited by ``SIGNIN_RATE_LIMIT`` per client.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app.auth import bp
from app.auth.email_change import (
    ADDRESS_TAKEN,
    CHANGE_SENT,
    AddressTaken,
    apply_email_change,
    request_email_change,
)
from app.auth.forms import ChangeEmailForm, ConfirmEmailChangeForm
from app.auth.login import password_hasher
from app.auth.tokens import read_token_with
from app.forms import form_status, normalize_email
from app.models.user import User
from flask_bastion import client_address, configured, csrf_rerender, limit


@bp.route("/account/email", methods=["GET", "POST"])
@login_required
@limit(configured("MAIL_RATE_LIMIT"), methods=["POST"], key_func=client_address)
@limit(configured("MAIL_RATE_LIMIT"), methods=["POST"])
@csrf_rerender
def change_email() -> Response | tuple[str, int]:
    """Ask for a link to a new address; the same answer whether or not it is free."""
    user: User = current_user._get_current_object()
    form = ChangeEmailForm()
    if form.validate_on_submit():
        new_email = normalize_email(form.new_email.data)
        if not password_hasher().verify(user.password_hash, form.password.data):
            form.password.errors.append("That is not your current password.")
        elif new_email == user.email:
            form.new_email.errors.append("That is already your address.")
        else:
            request_email_change(user, new_email)
            flash(CHANGE_SENT, "info")
            return redirect(url_for("auth.account"))
    return render_template("auth/change_email.html", form=form), form_status(form)


@bp.route("/account/email/confirm/<token>", methods=["GET", "POST"])
@limit(configured("SIGNIN_RATE_LIMIT"), methods=["POST"], key_func=client_address)
@csrf_rerender
def confirm_email_change(token: str) -> Response | tuple[str, int]:
    """Show the new address with a button (GET); move the account to it (POST).

    A dead link (forged, expired, used, or the password or address changed
    since): 404.  The address taken meanwhile by another account: 409 with
    :data:`app.auth.email_change.ADDRESS_TAKEN`.
    """
    found = read_token_with(token, "email")
    if found is None or len(found[1]) != 1:
        return render_template("auth/bad_link.html"), 404
    user, (new_email,) = found
    form = ConfirmEmailChangeForm()
    status = form_status(form)
    if form.validate_on_submit():
        try:
            apply_email_change(user, new_email)
        except AddressTaken:
            form.form_errors.append(ADDRESS_TAKEN)
            status = 409
        else:
            flash(f"Your email address is now {new_email}.", "success")
            signed_in = current_user.is_authenticated and current_user.id == user.id
            return redirect(url_for("auth.account" if signed_in else "auth.sign_in"))
    page = render_template(
        "auth/confirm_email_change.html", form=form, token=token, new_email=new_email
    )
    return page, status
