"""The "Two-factor sign-in" page of the account: set-up, recovery codes, turning it off.

Every change is a POST with a CSRF token (``CSRFProtect``), limited per
account (``SIGNIN_RATE_LIMIT``), and logged in the security log.  Turning
two-factor off needs the password and a current code; new recovery codes
need a current code (OWASP ASVS 4.0 2.8, 3.7.1: re-authenticate before a
sensitive change).  Pages that show a secret or recovery codes are sent
with ``Cache-Control: no-store``.
"""

from __future__ import annotations

import logging

from flask import flash, make_response, redirect, render_template, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app.auth import bp
from app.auth.confirmation import send_notice
from app.auth.login import password_hasher
from app.auth.security_log import log_event
from app.auth.two_factor import (
    SecretUnreadable,
    check_second_factor,
    decrypt_secret,
    is_enabled,
    new_recovery_codes,
    provisioning_uri,
    qr_data_uri,
    remaining_recovery_codes,
    start_setup,
    turn_off,
    two_factor_of,
    verify_totp,
)
from app.auth.two_factor_forms import (
    ConfirmTwoFactorForm,
    DisableTwoFactorForm,
    RegenerateCodesForm,
    StartTwoFactorForm,
)
from app.extensions import db
from app.forms import form_status
from app.models.base import utcnow
from app.models.two_factor import TwoFactor
from flask_bastion import configured, csrf_rerender, limit

logger = logging.getLogger("bastion.auth")


def _no_store(page: str, status: int = 200) -> Response:
    response = make_response(page, status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _readable_secret(record: TwoFactor) -> str:
    """The secret of a set-up in progress; ``""`` if no key opens it (then it starts again)."""
    try:
        return decrypt_secret(record.secret)
    except SecretUnreadable:
        return ""


def two_factor_page(status: int = 200, **forms: object) -> Response:
    """The two-factor page in the state the account is in, with ``forms`` (others made fresh).

    No 2FA: a button to begin.  Set-up begun: the QR code, the secret as
    text and the confirmation form.  On: the count of unused recovery codes
    and the forms to make new ones or to turn it off.
    """
    record = two_factor_of(current_user.id)
    context: dict[str, object] = {
        "start_form": forms.get("start_form") or StartTwoFactorForm(formdata=None),
        "confirm_form": forms.get("confirm_form") or ConfirmTwoFactorForm(formdata=None),
        "disable_form": forms.get("disable_form") or DisableTwoFactorForm(formdata=None),
        "codes_form": forms.get("codes_form") or RegenerateCodesForm(formdata=None),
        "state": "off",
    }
    if record is not None and record.confirmed_at is not None:
        context.update(state="on", remaining=remaining_recovery_codes(current_user.id))
    elif record is not None and (secret := _readable_secret(record)):
        qr, qr_side = qr_data_uri(provisioning_uri(record, current_user.email))
        context.update(
            state="setup",
            secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            qr=qr,
            qr_side=qr_side,
        )
    page = render_template("auth/two_factor.html", **context)
    return _no_store(page, status)


bp.add_app_template_global(is_enabled, "two_factor_enabled")


def _codes_page(codes: list[str]) -> Response:
    return _no_store(render_template("auth/two_factor_codes.html", codes=codes))


@bp.get("/account/two-factor")
@login_required
def two_factor() -> Response:
    """The two-factor page of the signed-in account."""
    return two_factor_page()


@bp.post("/account/two-factor/start")
@login_required
@limit(configured("SIGNIN_RATE_LIMIT"), methods=["POST"])
@csrf_rerender
def two_factor_start() -> Response:
    """Begin the set-up: a new secret (not on until confirmed with a code)."""
    form = StartTwoFactorForm()
    if not form.validate_on_submit():
        return two_factor_page(form_status(form), start_form=form)
    if is_enabled(current_user.id):
        flash("Two-factor sign-in is already on.", "info")
    else:
        start_setup(current_user)
    return redirect(url_for("auth.two_factor"))


@bp.post("/account/two-factor/confirm")
@login_required
@limit(configured("SIGNIN_RATE_LIMIT"), methods=["POST"])
@csrf_rerender
def two_factor_confirm() -> Response:
    """Turn two-factor on once a code from the app is right; show the recovery codes once."""
    record = two_factor_of(current_user.id)
    if record is None or record.confirmed_at is not None:
        return redirect(url_for("auth.two_factor"))
    form = ConfirmTwoFactorForm()
    if form.validate_on_submit():
        if _readable_secret(record) and verify_totp(record, form.code.data):
            record.confirmed_at = utcnow()
            codes = new_recovery_codes(current_user.id)
            log_event(current_user.id, "two_factor_enabled", commit=False)
            db.session.commit()
            logger.info("account %s turned two-factor on", current_user.id)
            flash("Two-factor sign-in is on.", "success")
            return _codes_page(codes)
        form.code.errors.append("That code is not right. Check your device's clock and try again.")
    return two_factor_page(form_status(form), confirm_form=form)


@bp.post("/account/two-factor/recovery-codes")
@login_required
@limit(configured("SIGNIN_RATE_LIMIT"), methods=["POST"])
@csrf_rerender
def two_factor_recovery_codes() -> Response:
    """Replace the recovery codes (needs a current code); the new ones are shown once."""
    if not is_enabled(current_user.id):
        return redirect(url_for("auth.two_factor"))
    form = RegenerateCodesForm()
    if form.validate_on_submit():
        if check_second_factor(current_user.id, form.code.data):
            codes = new_recovery_codes(current_user.id)
            log_event(current_user.id, "recovery_codes_regenerated", commit=False)
            db.session.commit()
            return _codes_page(codes)
        log_event(current_user.id, "two_factor_failed", "new recovery codes")
        form.code.errors.append("That code is not right.")
    return two_factor_page(form_status(form), codes_form=form)


@bp.post("/account/two-factor/disable")
@login_required
@limit(configured("SIGNIN_RATE_LIMIT"), methods=["POST"])
@csrf_rerender
def two_factor_disable() -> Response:
    """Turn two-factor off: needs the password and a current code (or a recovery code)."""
    if not is_enabled(current_user.id):
        return redirect(url_for("auth.two_factor"))
    form = DisableTwoFactorForm()
    if form.validate_on_submit():
        password_ok = password_hasher().verify(current_user.password_hash, form.password.data)
        code_ok = password_ok and check_second_factor(current_user.id, form.code.data)
        if code_ok:
            turn_off(current_user.id)
            log_event(current_user.id, "two_factor_disabled", commit=False)
            db.session.commit()
            send_notice(current_user, "two_factor_disabled")
            logger.info("account %s turned two-factor off", current_user.id)
            flash("Two-factor sign-in is off.", "success")
            return redirect(url_for("auth.account"))
        log_event(current_user.id, "two_factor_failed", "turning two-factor off")
        form.form_errors.append("That password or code is not right.")
    return two_factor_page(form_status(form), disable_form=form)
