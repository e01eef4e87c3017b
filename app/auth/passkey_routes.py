"""The "Passkeys" page of the account: add (WebAuthn, in JSON), rename and remove.

Adding a passkey asks for the password first (a stolen session must not
be able to add a way in that needs no password: OWASP ASVS 4.0 3.7.1);
removing one asks for it too, as turning two-factor off does.  Every
change is a POST with a CSRF token (forms, or the ``X-CSRFToken`` header
of the page's script), limited per account (``SIGNIN_RATE_LIMIT``) and
written to the security log.

The two JSON endpoints answer ``application/json``; a refusal is a 400
``application/problem+json`` whose ``detail`` the script shows on the
page (never a 500: every malformed body is a 400).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import (
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app.auth import bp
from app.auth.confirmation import send_notice
from app.auth.login import password_hasher
from app.auth.passkey_challenges import PasskeyError
from app.auth.passkey_forms import RemovePasskeyForm, RenamePasskeyForm
from app.auth.passkeys import (
    passkey_of,
    passkeys_of,
    register_passkey,
    registration_options,
)
from app.auth.security_log import log_event
from app.extensions import db
from app.forms import form_status, single_line_text
from app.models.passkey import Passkey
from flask_bastion import configured, csrf_rerender, limit
from flask_bastion.errors import problem_response
from flask_bastion.passwords import MAX_LENGTH

logger = logging.getLogger("bastion.auth")


def json_body() -> dict[str, Any]:
    """The request's JSON object.

    :raises PasskeyError: ``kind="malformed"`` for no body, a body that is
        not JSON, or JSON that is not an object.
    """
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise PasskeyError("The request was not understood. Please reload the page.", "malformed")
    return body


def refusal(message: str, status: int = 400) -> Response:
    """A problem+json refusal (RFC 9457) whose ``detail`` the page's script shows."""
    return problem_response(status, "Passkey not accepted", message)


def json_options(options: str) -> Response:
    """WebAuthn options (JSON text) as an uncacheable ``application/json`` answer."""
    response = current_app.response_class(options, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


def passkeys_page(status: int = 200, forms: dict[int, Any] | None = None) -> Response:
    """The page with the account's passkeys, a rename and a remove form for each.

    :param forms: forms posted with errors, by passkey id, shown instead of fresh ones.
    """
    forms = forms or {}
    keys = passkeys_of(current_user.id)
    rows = []
    for key in keys:
        posted = forms.get(key.id, {})
        rename = posted.get("rename") or RenamePasskeyForm(
            formdata=None, prefix=f"passkey-{key.id}", data={"name": key.name}
        )
        remove = posted.get("remove") or RemovePasskeyForm(formdata=None, prefix=f"remove-{key.id}")
        rows.append((key, rename, remove))
    page = render_template("auth/passkeys.html", rows=rows)
    return current_app.make_response((page, status))


bp.add_app_template_global(passkeys_of, "passkeys_of")


@bp.get("/account/passkeys")
@login_required
def passkeys() -> Response:
    """The passkeys page of the signed-in account."""
    return passkeys_page()


@bp.post("/account/passkeys/options")
@login_required
@limit(configured("SIGNIN_RATE_LIMIT"), methods=["POST"])
def passkey_options() -> Response:
    """Check the password (JSON ``{"password": ...}``), then answer the creation options."""
    try:
        password = json_body().get("password")
        if not isinstance(password, str) or not password:
            return refusal("Please enter your password.")
        if len(password) > MAX_LENGTH:  # as the forms' current_password_field
            return refusal("That is not your password.")
        if not password_hasher().verify(current_user.password_hash, password):
            log_event(current_user.id, "passkey_failed", "adding a passkey: wrong password")
            return refusal("That is not your password.")
        return json_options(registration_options(current_user))
    except PasskeyError as error:
        return refusal(error.message)


@bp.post("/account/passkeys")
@login_required
@limit(configured("SIGNIN_RATE_LIMIT"), methods=["POST"])
def passkey_register() -> Response:
    """Store a new passkey from ``{"credential": RegistrationResponseJSON, "name": ...}``."""
    try:
        body = json_body()
        name = single_line_text(body.get("name"))
        passkey = register_passkey(current_user, body.get("credential"), name)
    except PasskeyError as error:
        logger.warning("passkey not added to account %s (%s)", current_user.id, error.kind)
        return refusal(error.message)
    db.session.flush()
    log_event(current_user.id, "passkey_added", passkey.name, commit=False)
    db.session.commit()
    logger.info("account %s added passkey %s", current_user.id, passkey.id)
    send_notice(current_user, "passkey_added", names=[passkey.name])
    flash(f"Passkey “{passkey.name}” added. You can now sign in with it.", "success")
    return jsonify(redirect=url_for("auth.passkeys"))


def _owned(passkey_id: int) -> Passkey | None:
    return passkey_of(current_user.id, passkey_id)


@bp.post("/account/passkeys/<int:passkey_id>/rename")
@login_required
@limit(configured("SIGNIN_RATE_LIMIT"), methods=["POST"])
@csrf_rerender
def passkey_rename(passkey_id: int) -> Response:
    """Give one of the account's passkeys a new name."""
    passkey = _owned(passkey_id)
    if passkey is None:
        flash("That passkey no longer exists.", "info")
        return redirect(url_for("auth.passkeys"))
    form = RenamePasskeyForm(prefix=f"passkey-{passkey.id}")
    if not form.validate_on_submit():
        return passkeys_page(form_status(form), {passkey.id: {"rename": form}})
    old, passkey.name = passkey.name, form.name.data
    log_event(current_user.id, "passkey_renamed", f"{old} → {passkey.name}", commit=False)
    db.session.commit()
    flash(f"Passkey renamed to “{passkey.name}”.", "success")
    return redirect(url_for("auth.passkeys"))


@bp.post("/account/passkeys/<int:passkey_id>/remove")
@login_required
@limit(configured("SIGNIN_RATE_LIMIT"), methods=["POST"])
@csrf_rerender
def passkey_remove(passkey_id: int) -> Response:
    """Remove one of the account's passkeys (needs the password)."""
    passkey = _owned(passkey_id)
    if passkey is None:
        flash("That passkey no longer exists.", "info")
        return redirect(url_for("auth.passkeys"))
    form = RemovePasskeyForm(prefix=f"remove-{passkey.id}")
    if form.validate_on_submit():
        if password_hasher().verify(current_user.password_hash, form.password.data):
            name = passkey.name
            db.session.delete(passkey)
            log_event(current_user.id, "passkey_removed", name, commit=False)
            db.session.commit()
            logger.info("account %s removed passkey %s", current_user.id, passkey_id)
            send_notice(current_user, "passkey_removed", names=[name])
            flash(f"Passkey “{name}” removed. It no longer signs you in.", "success")
            return redirect(url_for("auth.passkeys"))
        log_event(current_user.id, "passkey_failed", "removing a passkey: wrong password")
        form.password.errors.append("That is not your password.")
    return passkeys_page(form_status(form), {passkey.id: {"remove": form}})
