"""Bastion: a secure-by-default Flask + Bootstrap application foundation.

``create_app`` is the application factory (Flask docs, "Application
Factories"); it does nothing but call the small ``register_*`` steps below.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import sys
from collections.abc import Mapping
from typing import Any

import click
from dotenv import load_dotenv
from flask import Flask
from flask.helpers import get_debug_flag

from app.config import (
    INSTANCE_PATH,
    PROJECT_ROOT,
    Config,
    ConfigError,
    apply_environment,
    load_dev_secret_key,
    select_config,
    settable_keys,
)

__all__ = ["ConfigError", "create_app"]


def create_app(config: str | Mapping[str, Any] | None = None) -> Flask:
    """Create and configure the application.

    :param config: a config name (``development``, ``testing``,
        ``production``), or a mapping of settings to apply on top of the
        class named by ``BASTION_CONFIG`` (or by a ``BASTION_CONFIG`` key in
        the mapping).  ``None`` uses ``BASTION_CONFIG`` (default: production).
    :returns: the Flask application.
    :raises ConfigError: when a setting is missing or malformed (for
        example production without ``SECRET_KEY``), or the assets a page
        server needs are not built.  Under the ``flask`` command the same
        refusal is one line on stderr and exit code 3 instead.
    """
    try:
        return _create_app(config)
    except ConfigError as error:
        if click.get_current_context(silent=True) is None:
            raise
        click.echo(f"Bastion refused to start: {error}", err=True)
        raise SystemExit(3) from None


def serving_pages() -> bool:
    """False while a ``flask`` command other than ``flask run`` loads the app.

    Such commands (``assets build``, ``db upgrade``, ``users create``,
    ``check``) serve no pages, so they don't need the built assets.
    """
    context = click.get_current_context(silent=True)
    return context is None or context.command.name == "run"


def exposed_debugger_host() -> str | None:
    """Under ``flask run`` with the Werkzeug debugger on, the host it would listen on
    if that is not a loopback address; else ``None``.

    The debugger runs any Python code typed into a traceback page (its PIN is
    the only guard), so Werkzeug's docs say never to use it where others can
    reach it.  The debugger is on with ``--debug`` (``FLASK_DEBUG``) unless
    ``--no-debugger`` is given, or with ``--debugger``, as ``flask run``
    decides.  Loopback: ``localhost`` and the 127.0.0.0/8 and ``::1``
    addresses; any other name or address (``0.0.0.0``, a LAN address) counts
    as exposed.
    """
    context = click.get_current_context(silent=True)
    if context is None or context.command.name != "run":
        return None
    debugger = context.params.get("debugger")
    if debugger is None:
        debugger = get_debug_flag()
    host = str(context.params.get("host") or "127.0.0.1")
    if not debugger or is_loopback(host):
        return None
    return host


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses (``127.0.0.1``, ``[::1]``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def refuse_exposed_debugger() -> None:
    """Refuse to start ``flask run`` with the debugger on a non-loopback host (issue 9).

    :raises ConfigError: naming the host and the way out; under ``flask run``
        that is one line on stderr and exit code 3 (:func:`create_app`).
    """
    host = exposed_debugger_host()
    if host is not None:
        raise ConfigError(
            f"the Werkzeug debugger runs any code sent to it, so it serves on loopback "
            f"only, not on {host}: use --host 127.0.0.1, or --no-debugger"
        )


def _create_app(config: str | Mapping[str, Any] | None) -> Flask:
    refuse_exposed_debugger()
    app = Flask(__name__, instance_path=str(INSTANCE_PATH))
    register_config(app, config)
    register_logging(app)
    register_extensions(app)
    register_url_converters(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_template_helpers(app)
    register_commands(app)
    return app


def register_config(app: Flask, config: str | Mapping[str, Any] | None) -> type[Config]:
    """Load the config class, then the environment (and ``.env``), then ``config`` overrides.

    The testing config ignores the environment and ``.env`` so that the
    suite is hermetic: a developer's ``DATABASE_URL`` never reaches a test.
    """
    overrides: Mapping[str, Any] = {}
    name: str | None = None
    if isinstance(config, str):
        name = config
    elif config is not None:
        overrides = config
        name = overrides.get("BASTION_CONFIG")
    if (name or os.environ.get("BASTION_CONFIG", "")).strip().lower() != "testing":
        load_dotenv(PROJECT_ROOT / ".env", override=False)
    config_class = select_config(name)
    app.config.from_object(config_class)
    if config_class.ENV_NAME != "testing":
        apply_environment(app.config, os.environ, settable_keys(config_class))
    app.config.update(overrides)
    load_dev_secret_key(app.config)
    config_class.validate(app.config)
    if isinstance(app.config.get("PERMANENT_SESSION_LIFETIME"), int):
        from datetime import timedelta

        app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(
            seconds=app.config["PERMANENT_SESSION_LIFETIME"]
        )
    return config_class


def register_logging(app: Flask) -> None:
    """Send ``bastion.*`` logs to stderr, one line each."""
    level = getattr(logging, str(app.config["LOG_LEVEL"]).upper(), logging.INFO)
    logger = logging.getLogger("bastion")
    logger.setLevel(level)
    if not any(getattr(h, "_bastion", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        handler._bastion = True  # type: ignore[attr-defined]
        logger.addHandler(handler)


def register_extensions(app: Flask) -> None:
    """Bind the extensions, the security layer and the asset pipeline."""
    from flask_sqlalchemy.session import Session

    from app.assets import init_assets
    from app.auth.login import init_login
    from app.extensions import bastion, bootstrap, db, migrate
    from app.models import load_models
    from app.models.soft_delete import install_soft_delete
    from flask_bastion.passwords import init_passwords

    load_models()
    db.init_app(app)
    install_soft_delete(Session)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    bootstrap.init_app(app)
    try:
        bastion.init_app(app)
    except ValueError as error:  # a malformed security setting, named in the message
        raise ConfigError(str(error)) from None
    init_login(app)
    init_passwords(app)
    init_assets(app, require_built=serving_pages())


def register_url_converters(app: Flask) -> None:
    """Add ``<id:...>`` for row ids in URLs (1..2**31-1, else 404): :mod:`app.urls`."""
    from app.urls import init_url_converters

    init_url_converters(app)


def register_blueprints(app: Flask) -> None:
    """Register the blueprints (each one's routes live in its own package)."""
    from app.admin import bp as admin_bp
    from app.api import init_api
    from app.auth import bp as auth_bp
    from app.main import bp as main_bp
    from app.main.health import bp as health_bp
    from app.stories import bp as stories_bp
    from app.users import bp as users_bp

    for blueprint in (health_bp, main_bp, auth_bp, stories_bp, users_bp, admin_bp):
        app.register_blueprint(blueprint)
    init_api(app)


def register_error_handlers(app: Flask) -> None:
    """App-level error handlers on top of the security layer's (database outages: 503)."""
    from app.outages import init_outages

    init_outages(app)


def register_template_helpers(app: Flask) -> None:
    """Globals and filters every template may use, the memoising ``url_for`` and
    ``story_card`` (story cards rendered once: :mod:`app.stories.cards`)."""
    from app.stories.cards import init_story_cards
    from app.stories.markdown import excerpt, render_markdown
    from app.urls import init_url_cache
    from app.views.page_cache import init_page_cache

    app.jinja_env.globals["site_name"] = app.config["SITE_NAME"]
    app.jinja_env.filters["markdown"] = render_markdown
    app.jinja_env.filters["excerpt"] = excerpt
    init_url_cache(app)
    init_story_cards(app)
    init_page_cache(app)


def register_commands(app: Flask) -> None:
    """Add the ``flask`` command groups of :mod:`app.cli`."""
    from app.cli import init_cli

    init_cli(app)
