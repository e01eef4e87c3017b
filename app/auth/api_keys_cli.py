"""``flask api-keys``: create, list and revoke API keys (:mod:`app.auth.api_keys`)."""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.auth.api_keys import is_prefix, issue_key, parse_expiry, revoke
from app.auth.login import find_live_user
from app.cli import DatabaseGroup
from app.extensions import db
from app.forms import normalize_email
from app.models import INCLUDE_DELETED
from app.models.api_key import SCOPES, ApiKey
from app.models.base import utcnow
from app.models.user import User
from flask_bastion.text import terminal_safe


@click.group("api-keys", cls=DatabaseGroup)
def api_keys() -> None:
    """Manage API keys (the key itself is shown once, at creation)."""


def _owner(email: str) -> User:
    user = find_live_user(normalize_email(email))
    if user is None:
        raise click.ClickException(f"no account with the email {email!r}")
    return user


def _when(value: datetime | None, none: str = "never") -> str:
    return none if value is None else f"{value:%Y-%m-%d %H:%M}"


def _expiry(ctx: click.Context, param: click.Parameter, value: str) -> object:
    try:
        return parse_expiry(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


@api_keys.command("create")
@click.option("--user", "email", required=True, help="Email address of the key's owner.")
@click.option("--scope", type=click.Choice(SCOPES), required=True, help="write includes read.")
@click.option(
    "--expires",
    default="90d",
    show_default=True,
    callback=_expiry,
    help="Lifetime: a number and d, h or m (90d, 12h, 30m), or never.",
)
@click.option("--name", default="command line", show_default=True, help="At most 80 characters.")
@with_appcontext
def create(email: str, scope: str, expires: object, name: str) -> None:
    """Create a key for the account with --user and print it (once: it is not stored)."""
    user = _owner(email)
    try:
        key, raw = issue_key(user, name=name, scope=scope, expires_in=expires)  # type: ignore[arg-type]
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    click.echo(raw)
    expires = "never" if key.expires_at is None else f"{_when(key.expires_at)} UTC"
    click.echo(
        f"prefix {key.prefix}, scope {key.scope}, expires {expires}"
        " -- store the key now: it can't be shown again",
        err=True,
    )


@api_keys.command("list")
@click.option("--user", "email", default=None, help="Only the keys of this account.")
@with_appcontext
def list_keys(email: str | None) -> None:
    """List keys, tab-separated: prefix, name, scope, owner, created, expires, last used, status.

    Never the key or its hash.  Times are UTC.  Keys of deleted accounts
    are listed (status ``owner deleted``) unless --user is given.
    """
    query = (
        select(ApiKey)
        .options(joinedload(ApiKey.user))
        .order_by(ApiKey.id)
        .execution_options(**{INCLUDE_DELETED: True})
    )
    if email is not None:
        query = query.where(ApiKey.user_id == _owner(email).id)
    now = utcnow()
    for key in db.session.scalars(query):
        owner = key.user  # None once purged where foreign keys are not enforced (SQLite)
        status = key.status(now)
        if status == "active" and (owner is None or owner.is_deleted):
            status = "owner deleted"
        elif status == "active" and owner.is_disabled:
            status = "owner disabled"
        row = (
            key.prefix,
            terminal_safe(key.name),
            key.scope,
            "-" if owner is None else terminal_safe(owner.email),
            _when(key.created_at),
            _when(key.expires_at),
            _when(key.last_used_at, none="-"),
            status,
        )
        click.echo("\t".join(row))


@api_keys.command("revoke")
@click.argument("prefix")
@with_appcontext
def revoke_command(prefix: str) -> None:
    """Revoke the key whose prefix is PREFIX (see `flask api-keys list`), for good."""
    if not is_prefix(prefix):
        # The text is not repeated: it may be a whole key pasted by mistake.
        raise click.ClickException("a key prefix is 8 letters and digits (see flask api-keys list)")
    key = db.session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if key is None:
        raise click.ClickException(f"no API key with the prefix {prefix}")
    if revoke(key):
        click.echo(f"revoked {prefix}")
    else:
        click.echo(f"{prefix} was already revoked")
