"""The security layer: headers, proxy, hosts, user agents, request log, errors.

This package imports Flask and libraries only, never the application's
models or views, and every setting it reads has a default
(:mod:`flask_bastion.defaults`, applied with ``config.setdefault``), so an
existing Flask app with only a ``SECRET_KEY`` adopts it in three lines
(``tests/test_adoption.py``):

    from flask_bastion import init_security
    from .ratelimit import Limiter, client_key
    init_security(app, limiter=Limiter(client_key), csrf=CSRFProtect(), compress=Compress())
"""

from __future__ import annotations

import logging

from flask import Flask
from flask_compress import Compress
from flask_limiter import Limiter
from flask_wtf.csrf import CSRFProtect

from .defaults import apply_defaults
from .errors import (
    CSRFRerenderForm,
    csrf_rerender,
    init_errors,
    protect_csrf,
    wants_json,
)
from .headers import init_headers, no_https_redirect
from .proxy import PathPrefixMiddleware, StrictProxyFix, normalize_prefix
from .ratelimit import client_address, init_ratelimit
from .request_log import RequestLogMiddleware
from .sessions import CachedSerializerSessionInterface
from .user_agents import init_user_agents

__all__ = [
    "CSRFRerenderForm",
    "client_address",
    "csrf_rerender",
    "init_security",
    "init_wsgi_middleware",
    "no_https_redirect",
    "wants_json",
]


def init_wsgi_middleware(app: Flask) -> None:
    """Wrap ``app.wsgi_app``: proxy headers, then request log, then path prefix.

    Order matters: ``StrictProxyFix`` runs first so the log records the real
    client address; the prefix is applied last, next to Flask.
    """
    config = app.config
    wsgi = app.wsgi_app
    if config.get("PATH_PREFIX"):
        prefix = normalize_prefix(config["PATH_PREFIX"])
        wsgi = PathPrefixMiddleware(wsgi, prefix)  # type: ignore[assignment]
        # The cookies' Path: two apps under different prefixes on one host
        # keep their own sessions (Flask's default is APPLICATION_ROOT, "/").
        if not config.get("SESSION_COOKIE_PATH"):
            config["SESSION_COOKIE_PATH"] = prefix
        if config.get("REMEMBER_COOKIE_PATH", "/") == "/":
            config["REMEMBER_COOKIE_PATH"] = prefix
    wsgi = RequestLogMiddleware(wsgi, enabled=config["REQUEST_LOG"])  # type: ignore[assignment]
    wsgi = StrictProxyFix(  # type: ignore[assignment]
        wsgi,
        x_for=config["PROXY_FIX_X_FOR"] or 0,
        x_proto=config["PROXY_FIX_X_PROTO"] or 0,
        x_host=config["PROXY_FIX_X_HOST"] or 0,
        x_port=config["PROXY_FIX_X_PORT"] or 0,
        x_prefix=config["PROXY_FIX_X_PREFIX"] or 0,
    )
    app.wsgi_app = wsgi  # type: ignore[method-assign]


def init_security(app: Flask, *, limiter: Limiter, csrf: CSRFProtect, compress: Compress) -> None:
    """Switch on the whole security layer for ``app``, from its config.

    :param app: the application.
    :param limiter: an unbound :class:`flask_limiter.Limiter`.
    :param csrf: an unbound :class:`flask_wtf.csrf.CSRFProtect`.
    :param compress: an unbound :class:`flask_compress.Compress`.
    """
    apply_defaults(app.config)
    if app.config.get("TRUSTED_HOSTS") == ["*"]:
        app.config["TRUSTED_HOSTS"] = None
    app.session_interface = CachedSerializerSessionInterface()
    # before_request order: user agents, HTTPS redirect + CSP nonce, rate
    # limit, then CSRF (so failing CSRF posts still count against the limit).
    init_user_agents(app)
    init_headers(app)
    init_ratelimit(app, limiter)
    # Our protect_csrf() makes Flask-WTF's check (the documented way to
    # customise it), so Flask-WTF's own before_request stands aside.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf.init_app(app)
    app.before_request(protect_csrf)
    compress.init_app(app)
    init_errors(app)
    init_wsgi_middleware(app)
    logging.getLogger("bastion.security").debug("security layer ready")
