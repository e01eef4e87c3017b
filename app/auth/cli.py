"""``flask users``: create, list, disable, enable, promote, demote accounts."""

from __future__ import annotations

import sys

import click
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.auth.login import find_live_user, password_hasher
from app.auth.user_sessions import revoke_sessions
from app.cli import DatabaseGroup
from app.extensions import db
from app.forms import normalize_email
from app.models import INCLUDE_DELETED
from app.models.base import utcnow
from app.models.user import User
from flask_bastion.passwords import password_problem
from flask_bastion.text import clean_text, terminal_safe


@click.group("users", cls=DatabaseGroup)
def users() -> None:
    """Manage accounts."""


def _require_user(email: str) -> User:
    user = find_live_user(normalize_email(email))
    if user is None:
        raise click.ClickException(f"no account with the email {email!r}")
    return user


@users.command("create")
@click.argument("email")
@click.option("--name", "display_name", required=True, help="Display name (at most 80 characters).")
@click.option("--admin", is_flag=True, help="Make the account an administrator.")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input instead of prompting.",
)
@with_appcontext
def create(email: str, display_name: str, admin: bool, password_stdin: bool) -> None:
    """Create an account with EMAIL.

    The display name is cleaned like the registration form's (control and
    bidi characters removed: :func:`flask_bastion.text.clean_text`).
    """
    email = normalize_email(email)
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError:
        raise click.ClickException(f"{email!r} is not an email address") from None
    display_name = clean_text(display_name, single_line=True)
    if not display_name or len(display_name) > 80:
        raise click.ClickException("the display name must be 1 to 80 characters long")
    if find_live_user(email) is not None:
        raise click.ClickException(f"an account with the email {email!r} already exists")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    problem = password_problem(
        password, current_app.config["PASSWORD_MIN_LENGTH"], (email, display_name)
    )
    if problem:
        raise click.ClickException(f"weak password: {problem}")
    user = User(
        email=email,
        display_name=display_name,
        password_hash=password_hasher().hash(password),
        is_admin=admin,
        email_confirmed_at=utcnow(),  # the operator vouches for the address
    )
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise click.ClickException(f"an account with the email {email!r} already exists") from None
    admin_flag = " (admin)" if admin else ""
    click.echo(f"created account {user.id} <{terminal_safe(email)}>{admin_flag}")


@users.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include deleted accounts.")
@with_appcontext
def list_users(show_all: bool) -> None:
    """List accounts: id, email, name and status (tab-separated).

    Control and bidi characters in stored text are printed as escapes
    (:func:`flask_bastion.text.terminal_safe`), never sent to the terminal.
    """
    query = select(User).order_by(User.id)
    if show_all:
        query = query.execution_options(**{INCLUDE_DELETED: True})
    for user in db.session.scalars(query):
        flags = ["deleted" if user.is_deleted else ("disabled" if user.is_disabled else "active")]
        if user.is_admin:
            flags.append("admin")
        email, name = terminal_safe(user.email), terminal_safe(user.display_name)
        click.echo(f"{user.id}\t{email}\t{name}\t{','.join(flags)}")


def _set_flag(email: str, attribute: str, value: bool, message: str) -> None:
    user = _require_user(email)
    setattr(user, attribute, value)
    if attribute == "is_disabled" and value:
        user.session_version += 1  # a disabled account is signed out everywhere
        revoke_sessions(user)  # and its sessions are listed as ended
    db.session.commit()
    click.echo(f"{message}: {terminal_safe(user.email)}")


#: name -> (attribute, value, message, help text) of the flag commands.
FLAG_COMMANDS = {
    "disable": ("is_disabled", True, "disabled", "Stop EMAIL from signing in (everywhere)."),
    "enable": ("is_disabled", False, "enabled", "Let a disabled EMAIL sign in again."),
    "promote": ("is_admin", True, "promoted to administrator", "Make EMAIL an administrator."),
    "demote": ("is_admin", False, "no longer an administrator", "Take admin rights from EMAIL."),
}


def _flag_command(name: str, attribute: str, value: bool, message: str, help_text: str) -> None:
    @users.command(name, help=help_text)
    @click.argument("email")
    @with_appcontext
    def command(email: str) -> None:
        _set_flag(email, attribute, value, message)


for _name, _spec in FLAG_COMMANDS.items():
    _flag_command(_name, *_spec)
