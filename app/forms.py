"""Form pieces shared by every blueprint."""

from __future__ import annotations

from typing import Any

from wtforms import EmailField
from wtforms.validators import DataRequired, Email, Length

#: RFC 5321 section 4.5.3.1.3: a path is at most 256 octets, so an address 254.
EMAIL_MAX_LENGTH = 254


def strip_text(value: str | None) -> str | None:
    """WTForms filter: drop surrounding white space (pasted addresses often have some)."""
    return value.strip() if isinstance(value, str) else value


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
