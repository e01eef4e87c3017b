"""``flask`` commands.

Flask-Migrate adds ``flask db``, Flask-Assets adds ``flask assets``; this
module adds ``flask check-config``.
"""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext


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


def init_cli(app: Flask) -> None:
    """Register this module's commands on ``app``."""
    app.cli.add_command(check_config)
