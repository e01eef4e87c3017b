"""Forms of the passkeys page: rename and remove (adding one is a WebAuthn ceremony in JSON)."""

from __future__ import annotations

from wtforms import StringField, SubmitField
from wtforms.validators import DataRequired, Length

from app.forms import current_password_field, single_line_text
from app.models.passkey import NAME_MAX_LENGTH
from flask_bastion.errors import CSRFRerenderForm


def _name_field(label: str) -> StringField:
    return StringField(
        label,
        description="So you can tell your passkeys apart, for example “Phone” or “Work laptop”.",
        validators=[DataRequired("Please give the passkey a name."), Length(max=NAME_MAX_LENGTH)],
        filters=[single_line_text],
        render_kw={"maxlength": NAME_MAX_LENGTH, "autocomplete": "off"},
    )


class RenamePasskeyForm(CSRFRerenderForm):
    """A new name for one passkey (made with ``prefix=f"passkey-{id}"``: one form per passkey)."""

    name = _name_field("Name")
    submit = SubmitField("Rename")


class RemovePasskeyForm(CSRFRerenderForm):
    """Remove one passkey: needs the password (OWASP ASVS 4.0 3.7.1, as for two-factor)."""

    password = current_password_field("Your password", "Please enter your password to confirm.")
    submit = SubmitField("Remove passkey")
