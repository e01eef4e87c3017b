"""``flask`` commands.

Flask-Migrate adds ``flask db`` and Flask-Assets ``flask assets``; this
module adds ``flask check-config`` and ``flask purge``, and
:mod:`app.auth.cli` adds ``flask users``.  Errors are one line on stderr and
a non-zero exit (``click.ClickException``).
"""

from __future__ import annotations

import re
from datetime import timedelta

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import delete, func, select

from app.extensions import db
from app.models.base import utcnow
from app.models.soft_delete import INCLUDE_DELETED, SoftDeleteMixin

DURATION_RE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$", re.IGNORECASE)
DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """Parse ``30d``, ``12h``, ``90m``, ``3600s`` or ``2w`` into a :class:`timedelta`.

    :raises click.BadParameter: for anything else.
    """
    match = DURATION_RE.match(text or "")
    if not match:
        raise click.BadParameter(
            f"{text!r} is not a duration; use a number and a unit: s, m, h, d or w (e.g. 30d)"
        )
    amount, unit = int(match.group(1)), match.group(2).lower()
    try:
        duration = timedelta(**{DURATION_UNITS[unit]: amount})
        utcnow() - duration  # must stay a representable date
    except OverflowError:
        raise click.BadParameter(f"{text!r} is too long a duration") from None
    return duration


def soft_delete_models() -> list[type]:
    """Every mapped model class that has the soft-delete mixin."""
    return sorted(
        (
            mapper.class_
            for mapper in db.Model.registry.mappers
            if issubclass(mapper.class_, SoftDeleteMixin)
        ),
        key=lambda cls: cls.__tablename__,
    )


@click.command("check-config")
@with_appcontext
def check_config() -> None:
    """Print the effective security-relevant settings (never secret values)."""
    config = current_app.config
    shown = [
        "ENV_NAME",
        "TRUSTED_HOSTS",
        "FORCE_HTTPS",
        "SESSION_COOKIE_SECURE",
        "PATH_PREFIX",
        "PROXY_FIX_X_FOR",
        "PROXY_FIX_X_PROTO",
        "PROXY_FIX_X_HOST",
        "PROXY_FIX_X_PORT",
        "PROXY_FIX_X_PREFIX",
        "RATELIMIT_DEFAULT",
        "MAX_CONTENT_LENGTH",
    ]
    for key in shown:
        click.echo(f"{key}={config.get(key)!r}")
    storage = str(config["RATELIMIT_STORAGE_URI"])
    click.echo(f"RATELIMIT_STORAGE_URI={storage.split('@')[-1]!r}")
    click.echo(f"SECRET_KEY={'set' if config.get('SECRET_KEY') else 'MISSING'}")


@click.command("purge")
@click.option(
    "--older-than",
    "older_than",
    default="30d",
    show_default=True,
    help="Retention: remove rows soft-deleted longer ago than this (s, m, h, d, w).",
)
@click.option("--dry-run", is_flag=True, help="Count what would be removed; remove nothing.")
@with_appcontext
def purge(older_than: str, dry_run: bool) -> None:
    """Remove soft-deleted rows for good once they are past the retention period."""
    cutoff = utcnow() - parse_duration(older_than)
    total = 0
    for model in soft_delete_models():
        condition = model.deleted_at.is_not(None) & (model.deleted_at < cutoff)
        count = db.session.scalar(
            select(func.count())
            .select_from(model)
            .where(condition)
            .execution_options(**{INCLUDE_DELETED: True})
        )
        if count and not dry_run:
            db.session.execute(delete(model).where(condition))
        total += count or 0
        click.echo(f"{model.__tablename__}: {count}")
    if dry_run:
        db.session.rollback()
        click.echo(f"dry run: {total} rows deleted before {cutoff:%Y-%m-%d %H:%M} UTC would go")
    else:
        db.session.commit()
        click.echo(f"purged {total} rows deleted before {cutoff:%Y-%m-%d %H:%M} UTC")


def init_cli(app: Flask) -> None:
    """Register the ``flask`` commands on ``app``."""
    from app.auth.cli import users

    app.cli.add_command(check_config)
    app.cli.add_command(purge)
    app.cli.add_command(users)
