"""``flask check --deploy``: the security checklist plus what Bastion itself needs.

:class:`DeploymentAudit` adds to :class:`~flask_bastion.audit.SecurityAudit`
the checks that need the application: the database (PostgreSQL, reachable,
migrations at the head), the built assets, a production key that is not
the development one, mail that leaves, and (a warning) two-factor required of
administrators in production.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from app.assets import AssetsNotBuiltError, make_bundles
from app.config import INSTANCE_PATH
from app.extensions import db
from app.outages import driver_error
from flask_bastion.audit import Finding, SecurityAudit


class DeploymentAudit(SecurityAudit):
    """:class:`SecurityAudit` for ``app``'s config, plus database and asset checks.

    :param app: the application as ``flask`` loaded it.
    :param kwargs: ``proxies`` and ``processes``, as for :class:`SecurityAudit`.
    """

    def __init__(self, app: Flask, **kwargs: Any) -> None:
        super().__init__(app.config, **kwargs)
        self.app = app

    def check_development_key(self) -> Iterator[Finding]:
        """Production doesn't reuse the key ``make run`` generated."""
        dev_key_file = INSTANCE_PATH / "secret_key"
        key = str(self.config.get("SECRET_KEY") or "")
        if (
            key
            and dev_key_file.is_file()
            and hmac.compare_digest(dev_key_file.read_text().strip(), key)
        ):
            yield Finding(
                "SECRET_KEY",
                "is the development key from instance/secret_key",
                "generate a new one for production",
            )

    def check_database(self) -> Iterator[Finding]:
        """PostgreSQL (not SQLite), reachable, and migrated to the single head."""
        url = str(self.config.get("SQLALCHEMY_DATABASE_URI", ""))
        if url.startswith("sqlite"):
            yield Finding(
                "DATABASE_URL",
                "is SQLite: several workers or instances can't share it safely",
                "set DATABASE_URL=postgresql+psycopg://user@host/bastion",
            )
        with self.app.app_context():
            directory = self.app.extensions["migrate"].directory
            script = ScriptDirectory(directory)
            try:
                with db.engine.connect() as connection:
                    current = set(MigrationContext.configure(connection).get_current_heads())
            except SQLAlchemyError as error:
                yield Finding(
                    "DATABASE_URL",
                    f"can't be reached ({type(driver_error(error)).__name__})",
                    "check DATABASE_URL and that the database server runs",
                )
                return
        heads = set(script.get_heads())
        if current != heads:
            yield Finding(
                "migrations",
                f"the database is at {sorted(current) or 'no revision'}, the code at "
                f"{sorted(heads)}",
                "run  flask db upgrade",
            )

    def check_mail(self) -> Iterator[Finding]:
        """Mail really leaves (``smtp://``/``smtps://``) and goes through the job queue."""
        from app.jobs import queue_url
        from app.mail import SENDING_SCHEMES

        url = str(self.config.get("MAIL_URL") or "")
        if url.partition("://")[0] not in SENDING_SCHEMES:
            yield Finding(
                "MAIL_URL",
                f"is {url.partition('://')[0] + '://' if url else 'not set'}: password-reset and "
                "confirmation mails never reach anyone",
                "set MAIL_URL=smtps://user:password@smtp.example.com:465 (or smtp://...:587)",
            )
        if queue_url(self.config) is None:
            yield Finding(
                "JOBS_REDIS_URL",
                "names no Redis: mail is sent inside the web request, without retries",
                "set JOBS_REDIS_URL (or RATELIMIT_STORAGE_URI) to redis://host:6379/0 "
                "and run  flask worker",
            )

    def check_two_factor_for_admins(self) -> Iterator[Finding]:
        """Production asks administrators for two-factor (``REQUIRE_2FA_FOR_ADMINS``); a warning.

        An administrator's password alone opens every account's data (OWASP
        ASVS 4.0 2.2.3 and 4.3.1: administrative interfaces use multi-factor
        authentication); turning it off is allowed, not advised.
        """
        if self.config.get("ENV_NAME") != "production":
            return
        if not self.config.get("REQUIRE_2FA_FOR_ADMINS"):
            yield Finding(
                "REQUIRE_2FA_FOR_ADMINS",
                "is off: an administrator's password alone opens the admin pages",
                "remove REQUIRE_2FA_FOR_ADMINS=false (on by default in production)",
                warning=True,
            )

    def check_assets(self) -> Iterator[Finding]:
        """Every CSS/JS bundle is built (production refuses to serve without them)."""
        registry = self.app.extensions["bastion.assets"]
        with self.app.app_context():
            for name in make_bundles():
                try:
                    registry.resolve(name)
                except AssetsNotBuiltError:
                    yield Finding(
                        "assets", f"bundle {name!r} is not built", "run  flask assets build"
                    )
                    return
