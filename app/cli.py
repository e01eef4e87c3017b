"""``flask`` commands.

Flask-Migrate adds ``flask db`` and Flask-Assets ``flask assets``; this
module adds ``flask check [--deploy]`` and ``flask purge``,
:mod:`app.auth.cli` adds ``flask users``, :mod:`app.auth.api_keys_cli`
``flask api-keys`` and :mod:`app.jobs_cli` ``flask worker`` and
``flask jobs``.  Errors are one line on stderr and a non-zero exit (``click.ClickException``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import delete, func, select
from sqlalchemy.exc import OperationalError, ProgrammingError

from app.extensions import db
from app.models.base import utcnow
from app.models.soft_delete import INCLUDE_DELETED, SoftDeleteMixin
from app.outages import driver_error

F = TypeVar("F", bound=Callable[..., Any])

#: What a missing database, a wrong ``DATABASE_URL`` or a missing table raise.
DATABASE_SETUP_ERRORS = (OperationalError, ProgrammingError)


def database_problem(error: Exception) -> click.ClickException:
    """A one-line ``Error: ...`` for a database that is unreachable or not migrated.

    The command line is for operators, so the driver's first line is shown
    (``no such table: user``, ``connection refused``); a web page never shows it.
    """
    original = driver_error(error)
    first_line = (str(original).strip().splitlines() or [type(original).__name__])[0]
    return click.ClickException(
        f"database error: {first_line} -- check DATABASE_URL, and run `flask db upgrade`"
    )


def database_command(command: F) -> F:
    """Turn database set-up errors raised by ``command`` into one ``Error:`` line, exit 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except DATABASE_SETUP_ERRORS as error:
            raise database_problem(error) from None

    return wrapper  # type: ignore[return-value]


class DatabaseGroup(click.Group):
    """A command group whose subcommands report database set-up errors in one line."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand; :data:`DATABASE_SETUP_ERRORS` become ``Error: ...``."""
        try:
            return super().invoke(ctx)
        except DATABASE_SETUP_ERRORS as error:
            raise database_problem(error) from None


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


#: Settings ``flask check`` prints (never a secret's value).
SHOWN_SETTINGS = (
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
)


@click.command("check")
@click.option(
    "--deploy",
    is_flag=True,
    help="Audit the settings for a public deployment; exit 1 if anything is unsafe.",
)
@click.option(
    "--proxies",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Reverse proxies in front of the app (the documented nginx setup has 1).",
)
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    default=None,
    help="Processes serving the app in all (workers x instances); "
    "default WEB_CONCURRENCY or 2 x cores + 1.",
)
@with_appcontext
def check(deploy: bool, proxies: int, processes: int | None) -> None:
    """Print the effective security settings; with --deploy, audit them.

    The audit names every unsafe or missing setting with its fix (weak
    SECRET_KEY, debug, rate limits in memory with several processes, any
    host trusted, proxy hop counts above the proxies present, SQLite,
    HTTPS or HSTS off, insecure cookies, assets not built, migrations
    behind) and exits 1 when it finds any, so a deploy pipeline can gate on it.
    Warnings (no SECURITY_CONTACT for security.txt) are printed, exit 0.
    """
    from app.checks import DeploymentAudit

    config = current_app.config
    if not deploy:
        for key in SHOWN_SETTINGS:
            click.echo(f"{key}={config.get(key)!r}")
        storage = str(config["RATELIMIT_STORAGE_URI"])
        click.echo(f"RATELIMIT_STORAGE_URI={storage.split('@')[-1]!r}")
        click.echo(f"SECRET_KEY={'set' if config.get('SECRET_KEY') else 'MISSING'}")
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    findings = DeploymentAudit(app, proxies=proxies, processes=processes).run()
    click.echo(f"Deployment check of the {config['ENV_NAME']} configuration:")
    problems = [finding for finding in findings if not finding.warning]
    for finding in findings:
        click.echo(f"  {'WARN' if finding.warning else 'FAIL'} {finding}")
    if problems:
        raise click.ClickException(f"{len(problems)} problem(s) found; fix them before deploying")
    warnings = len(findings) - len(problems)
    click.echo("  no problems found" + (f" ({warnings} warning(s))" if warnings else ""))


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
@database_command
def purge(older_than: str, dry_run: bool) -> None:
    """Remove soft-deleted rows for good once they are past the retention period.

    Also removes security-log entries older than ``SECURITY_LOG_RETENTION_DAYS``
    and sign-in sessions that ended (revoked, or idle past the cookies'
    lifetime) before the ``--older-than`` cutoff.
    """
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
    for table, count in purge_account_records(cutoff, dry_run):
        click.echo(f"{table}: {count}")
    if dry_run:
        db.session.rollback()
        click.echo(f"dry run: {total} rows deleted before {cutoff:%Y-%m-%d %H:%M} UTC would go")
    else:
        db.session.commit()
        click.echo(f"purged {total} rows deleted before {cutoff:%Y-%m-%d %H:%M} UTC")


def purge_account_records(cutoff: datetime, dry_run: bool) -> list[tuple[str, int]]:
    """Delete old security-log entries and ended sessions (no commit); count them.

    :param cutoff: sessions revoked before it, or last seen before it minus
        :func:`app.auth.user_sessions.max_idle`, go.
    :param dry_run: count only.
    :returns: ``[(table name, rows)]`` for ``security_event`` and ``user_session``.
    :raises click.ClickException: when ``SECURITY_LOG_RETENTION_DAYS`` is below 1.
    """
    from app.auth.user_sessions import max_idle
    from app.models.user_session import SecurityEvent, UserSession

    days = int(current_app.config["SECURITY_LOG_RETENTION_DAYS"])
    if days < 1:
        raise click.ClickException("SECURITY_LOG_RETENTION_DAYS must be at least 1")
    conditions = (
        (SecurityEvent, SecurityEvent.created_at < utcnow() - timedelta(days=days)),
        (
            UserSession,
            (UserSession.revoked_at < cutoff) | (UserSession.last_seen_at < cutoff - max_idle()),
        ),
    )
    counts = []
    for model, condition in conditions:
        count = db.session.scalar(select(func.count()).select_from(model).where(condition)) or 0
        if count and not dry_run:
            db.session.execute(delete(model).where(condition))
        counts.append((model.__tablename__, count))
    return counts


def init_cli(app: Flask) -> None:
    """Register the ``flask`` commands on ``app``."""
    from app.auth.api_keys_cli import api_keys
    from app.auth.cli import users
    from app.jobs_cli import jobs, worker

    app.cli.add_command(api_keys)
    app.cli.add_command(check)
    app.cli.add_command(purge)
    app.cli.add_command(users)
    app.cli.add_command(jobs)
    app.cli.add_command(worker)
