"""Account forms.  Passwords are never re-rendered into a page."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from wtforms import (
    BooleanField,
    PasswordField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
)
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from app.forms import current_password_field, email_field, single_line_text
from app.models.api_key import NAME_MAX_LENGTH
from flask_bastion.errors import CSRFRerenderForm
from flask_bastion.passwords import MAX_LENGTH, password_problem


def password_hint() -> str:
    """The hint shown under a new-password field (``PASSWORD_MIN_LENGTH`` characters).

    NIST SP 800-63B section 3.1.1.2: tell the user the length rule before they type,
    and favour long passphrases over composition rules.
    """
    return (
        f"Use at least {current_app.config['PASSWORD_MIN_LENGTH']} characters. A passphrase"
        " of several unrelated words is easy to remember and hard to guess."
    )


class StrongPassword:
    """WTForms validator applying :func:`flask_bastion.passwords.password_problem`.

    :param personal_fields: names of fields of the same form whose values the
        password must not be built on.
    """

    def __init__(self, *personal_fields: str) -> None:
        self.personal_fields = personal_fields

    def __call__(self, form: CSRFRerenderForm, field: PasswordField) -> None:
        personal = tuple(str(form[name].data or "") for name in self.personal_fields)
        personal += tuple(getattr(form, "personal_values", ()))
        problem = password_problem(
            field.data or "", current_app.config["PASSWORD_MIN_LENGTH"], personal
        )
        if problem:
            raise ValidationError(problem)


class RegisterForm(CSRFRerenderForm):
    """Create an account; the display name is cleaned (:func:`app.forms.single_line_text`)."""

    email = email_field("Email address", "email", "Please enter your email address.")
    display_name = StringField(
        "Display name",
        validators=[DataRequired("Please choose a display name."), Length(max=80)],
        filters=[single_line_text],
        render_kw={"autocomplete": "nickname"},
    )
    password = PasswordField(
        "Password",
        validators=[
            DataRequired("Please choose a password."),
            StrongPassword("email", "display_name"),
        ],
        render_kw={"autocomplete": "new-password", "maxlength": MAX_LENGTH},
    )
    confirm = PasswordField(
        "Repeat the password",
        validators=[EqualTo("password", "The two passwords differ.")],
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField("Create account")

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.password.description = password_hint()


class SignInForm(CSRFRerenderForm):
    """Sign in with email and password."""

    email = email_field("Email address", "username", "Please enter your email address.")
    password = current_password_field("Password", "Please enter your password.")
    remember = BooleanField("Keep me signed in on this device")
    submit = SubmitField("Sign in")


class NewPasswordForm(CSRFRerenderForm):
    """A new password, typed twice, under the registration rules (:class:`StrongPassword`).

    :param personal_values: the account's email and display name, which the
        password must not be built on.
    """

    new_password = PasswordField(
        "New password",
        validators=[DataRequired("Please choose a new password."), StrongPassword()],
        render_kw={"autocomplete": "new-password", "maxlength": MAX_LENGTH},
    )
    confirm = PasswordField(
        "Repeat the new password",
        validators=[EqualTo("new_password", "The two passwords differ.")],
        render_kw={"autocomplete": "new-password"},
    )

    def __init__(self, *args, personal_values: tuple[str, ...] = (), **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.personal_values = personal_values
        self.new_password.description = password_hint()


class ChangePasswordForm(NewPasswordForm):
    """Change the password; asks for the current one."""

    current_password = current_password_field()
    submit = SubmitField("Change password")


class DeleteAccountForm(CSRFRerenderForm):
    """Confirm account deletion with the password."""

    password = current_password_field("Your password", "Please enter your password to confirm.")
    submit = SubmitField("Delete my account")


class ChangeEmailForm(CSRFRerenderForm):
    """The new address and the current password (re-authentication, OWASP ASVS 4.0 3.7.1)."""

    new_email = email_field("New email address", "email", "Please enter the new address.")
    password = current_password_field()
    submit = SubmitField("Send a link to the new address")


class ConfirmEmailChangeForm(CSRFRerenderForm):
    """One button: moving the account is a POST, never a GET a link scanner could trigger."""

    submit = SubmitField("Use this address")


class SignOutForm(CSRFRerenderForm):
    """Sign-out is a POST with a CSRF token, never a GET link."""

    submit = SubmitField("Sign out")


#: Lifetimes offered for a new API key: form value -> (days or None = never, label).
API_KEY_LIFETIMES = {
    "30": (30, "30 days"),
    "90": (90, "90 days"),
    "365": (365, "1 year"),
    "never": (None, "Never expires"),
}


class ApiKeyForm(CSRFRerenderForm):
    """Create an API key: a name, a scope and a lifetime (:mod:`app.auth.api_keys`)."""

    name = StringField(
        "Name",
        validators=[DataRequired("Please name the key."), Length(max=NAME_MAX_LENGTH)],
        filters=[single_line_text],
        description="What the key is for, e.g. the machine or script using it.",
        render_kw={"maxlength": NAME_MAX_LENGTH, "autocomplete": "off"},
    )
    scope = RadioField(
        "Access",
        choices=[SelectChoice("read", "Read only"), SelectChoice("write", "Read and write")],
        default="read",
    )
    expires = SelectField(
        "Expires after",
        choices=[SelectChoice(value, label) for value, (_, label) in API_KEY_LIFETIMES.items()],
        default="90",
    )
    submit = SubmitField("Create key")

    def lifetime(self) -> timedelta | None:
        """The chosen lifetime (``None``: never expires); call after validation."""
        days = API_KEY_LIFETIMES[self.expires.data][0]
        return None if days is None else timedelta(days=days)
