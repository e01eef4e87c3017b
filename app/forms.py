"""Form pieces shared by every blueprint."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Email, Length

from flask_bastion.errors import csrf_refusal
from flask_bastion.passwords import MAX_LENGTH
from flask_bastion.text import clean_text

#: RFC 5321 section 4.5.3.1.3: a path is at most 256 octets, so an address 254.
EMAIL_MAX_LENGTH = 254


#: Status of a form shown again with its errors: understood but invalid
#: (RFC 9110 section 15.5.21).
INVALID = 422


def form_status(form: FlaskForm) -> int:
    """200 for a fresh or valid form; 422 when it is shown again with errors.

    400 when the request was refused by the CSRF check
    (:func:`flask_bastion.errors.protect_csrf`): the form is shown again with
    the user's input and a fresh token, and nothing was changed.
    """
    if csrf_refusal():
        return 400
    return INVALID if form.errors or form.form_errors else 200


def strip_text(value: str | None) -> str | None:
    """WTForms filter: drop surrounding white space (pasted addresses often have some)."""
    return value.strip() if isinstance(value, str) else value


def single_line_text(value: object) -> str:
    """WTForms filter for one-line text (names, titles): :func:`clean_text` with
    ``single_line=True``.

    NUL, other control characters and bidi overrides are removed (PostgreSQL
    refuses NUL in text, a 500; the others hide or reorder text in pages and
    terminals: Flask's security notes, CVE-2021-42574), runs of white space
    become one space, and the ends are trimmed.  Anything but text (no value,
    an uploaded file in a text field) gives ``""``.
    """
    return clean_text(value, single_line=True) if isinstance(value, str) else ""


def multi_line_text(value: object) -> str:
    """WTForms filter for text with line breaks (messages, story bodies): :func:`clean_text`.

    The same characters go as in :func:`single_line_text`; tabs and line
    breaks stay (as ``\\n``).  Anything but text gives ``""``.
    """
    return clean_text(value) if isinstance(value, str) else ""


def normalize_email(value: str | None) -> str:
    """Trim and lower-case an email address (the form we store and look up)."""
    return (value or "").strip().lower()


def email_field(label: str, autocomplete: str, required: str, **render_kw: Any) -> EmailField:
    """An email input: required, checked for shape (not deliverability), trimmed."""
    return EmailField(
        label,
        validators=[
            DataRequired(required),
            Email("That doesn't look like an email address.", check_deliverability=False),
            Length(max=EMAIL_MAX_LENGTH),
        ],
        filters=[strip_text],
        render_kw={"autocomplete": autocomplete, "maxlength": EMAIL_MAX_LENGTH, **render_kw},
    )


def current_password_field(
    label: str = "Current password", required: str = "Please enter your current password."
) -> PasswordField:
    """A field for the account's password as it is now: sign-in, and the re-authentication
    a sensitive change asks for (OWASP ASVS 4.0 3.7.1).

    Required (``required`` is the message), at most
    :data:`flask_bastion.passwords.MAX_LENGTH` characters (longer input is
    refused before it reaches the password hash), ``autocomplete="current-password"``
    so password managers fill it in.  Its value is never rendered back.
    """
    return PasswordField(
        label,
        validators=[DataRequired(required), Length(max=MAX_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )
