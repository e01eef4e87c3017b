"""Forms of two-factor sign-in.  Codes and passwords are never re-rendered into a page."""

from __future__ import annotations

from wtforms import StringField, SubmitField
from wtforms.validators import DataRequired, Length

from app.forms import current_password_field
from flask_bastion.errors import CSRFRerenderForm


class CodeField(StringField):
    """A text field shown empty again after a post: a code is never written back into a page."""

    def _value(self) -> str:
        return ""


def code_field(label: str, hint: str) -> CodeField:
    """A one-time code field (6 digits from the app, or a recovery code)."""
    return CodeField(
        label,
        description=hint,
        validators=[DataRequired("Please enter a code."), Length(max=40)],
        render_kw={
            "autocomplete": "one-time-code",
            "spellcheck": "false",
            "autocapitalize": "off",
        },
        filters=[lambda value: value.strip() if value else value],
    )


APP_OR_RECOVERY = "The 6-digit code from your authenticator app, or one of your recovery codes."


class StartTwoFactorForm(CSRFRerenderForm):
    """Begin the set-up (makes a new secret)."""

    submit = SubmitField("Turn on two-factor")


class ConfirmTwoFactorForm(CSRFRerenderForm):
    """Finish the set-up with a code from the app (RFC 6238)."""

    code = code_field("Code from the app", "The 6 digits your app shows for this site.")
    submit = SubmitField("Confirm and turn on")


class SecondStepForm(CSRFRerenderForm):
    """The second step of sign-in: a TOTP code or a recovery code."""

    code = code_field("Verification code", APP_OR_RECOVERY)
    submit = SubmitField("Verify")


class DisableTwoFactorForm(CSRFRerenderForm):
    """Turn two-factor off: the password and a current code."""

    password = current_password_field("Your password", "Please enter your password.")
    code = code_field("Verification code", APP_OR_RECOVERY)
    submit = SubmitField("Turn off two-factor")


class RegenerateCodesForm(CSRFRerenderForm):
    """Replace the recovery codes (the old ones stop working); needs a current code."""

    code = code_field("Verification code", APP_OR_RECOVERY)
    submit = SubmitField("Make new recovery codes")
