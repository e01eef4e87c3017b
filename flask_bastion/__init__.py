"""Flask-Bastion: the security layer of Bastion as a Flask extension.

Any Flask app with a ``SECRET_KEY`` adopts it like any other extension::

    from flask_bastion import Bastion

    Bastion(app)            # or: bastion = Bastion(); bastion.init_app(app)

and gets, from config keys that all have safe defaults
(:mod:`flask_bastion.defaults`, applied with ``config.setdefault``): the
HTTPS redirect, HSTS, a strict nonce-based CSP and the OWASP headers
(:mod:`flask_bastion.headers`), CSRF on
every unsafe request (Flask-WTF), compression (Flask-Compress), rate limits
per client counted in Redis or memory (:mod:`flask_bastion.ratelimit`),
strict proxy handling and a path prefix (:mod:`flask_bastion.proxy`),
blocked scanner user agents, one JSON log line per request with a request
id, error pages as HTML or ``application/problem+json``, and
``/.well-known/security.txt`` (RFC 9116) once ``SECURITY_CONTACT`` is set.

This package imports Flask and libraries only, never the adopting app.
Its error page is ``bastion/error.html`` (``BASTION_ERROR_TEMPLATE``); an app
overrides it by shipping a template of that name in its own ``templates/``.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Flask
from flask_wtf.csrf import CSRFProtect

from .compression import init_compression
from .defaults import apply_defaults
from .errors import (
    CSRFRerenderForm,
    before_error_response,
    csrf_exempt_when,
    csrf_refusal,
    csrf_rerender,
    error_response,
    init_errors,
    protect_csrf,
    wants_json,
)
from .headers import init_headers, no_https_redirect
from .proxy import PathPrefixMiddleware, StrictProxyFix, normalize_prefix
from .ratelimit import (
    RateLimiter,
    client_address,
    configured,
    exempt,
    init_ratelimit,
    limit,
)
from .request_log import RequestLogMiddleware
from .security_txt import init_security_txt
from .sessions import CachedSerializerSessionInterface
from .user_agents import init_user_agents

__all__ = [
    "Bastion",
    "CSRFRerenderForm",
    "RateLimiter",
    "before_error_response",
    "client_address",
    "configured",
    "csrf_exempt_when",
    "csrf_rerender",
    "error_response",
    "exempt",
    "limit",
    "no_https_redirect",
    "wants_json",
]

logger = logging.getLogger("bastion.security")


class Bastion:
    """The security layer for one or more Flask applications.

    :param app: an application to set up now, or ``None`` to call
        :meth:`init_app` later (application factories).

    Every method below is a step of :meth:`init_app`; a subclass overrides
    one to change that step (for example :attr:`rate_limiter_class` for
    another rate-limit key).
    """

    #: The rate limiter built for each app (subclass it to change the key).
    rate_limiter_class: type[RateLimiter] = RateLimiter

    def __init__(self, app: Flask | None = None) -> None:
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Switch the whole layer on for ``app``, from its config.

        Order of the ``before_request`` hooks: blocked user agents, the HTTPS
        redirect and CSP nonce, the rate limit, then CSRF (so a refused
        CSRF post still counts against the limit).

        :raises ValueError: for a malformed ``RATELIMIT_DEFAULT``,
            ``RATELIMIT_STORAGE_URI``, ``BLOCKED_USER_AGENTS`` pattern,
            ``CROSS_ORIGIN_RESOURCE_POLICY`` or ``SECURITY_TXT_EXPIRES``.
        """
        apply_defaults(app.config)
        if app.config.get("TRUSTED_HOSTS") == ["*"]:
            app.config["TRUSTED_HOSTS"] = None
        app.extensions["bastion"] = self
        app.session_interface = CachedSerializerSessionInterface()
        self.init_templates(app)
        init_user_agents(app)
        init_headers(app)
        init_ratelimit(app, self.rate_limiter_class)
        self.init_csrf(app)
        init_compression(app)
        init_errors(app)
        init_security_txt(app)
        self.init_cookie_paths(app)
        self.init_wsgi_middleware(app)
        logger.debug("security layer ready")

    def init_templates(self, app: Flask) -> None:
        """Make ``bastion/*.html`` templates findable (the app's own win) and add helpers.

        Adds the template global ``csrf_refusal()``: the reason a CSRF check
        refused this request, for a form view that shows its form again.
        """
        app.register_blueprint(Blueprint("bastion", __name__, template_folder="templates"))
        app.add_template_global(csrf_refusal)

    def init_csrf(self, app: Flask) -> CSRFProtect:
        """Bind Flask-WTF's ``CSRFProtect``, checked by :func:`~flask_bastion.errors.protect_csrf`.

        ``WTF_CSRF_CHECK_DEFAULT`` is switched off so that Flask-WTF's own
        ``before_request`` stands aside for ours, as Flask-WTF documents for
        a custom check.
        """
        app.config["WTF_CSRF_CHECK_DEFAULT"] = False
        csrf = CSRFProtect(app)
        app.before_request(protect_csrf)
        return csrf

    def init_cookie_paths(self, app: Flask) -> None:
        """Scope the session and remember cookies to ``PATH_PREFIX``.

        Two apps under different prefixes on one host keep their own sessions
        (Flask's default cookie path is ``APPLICATION_ROOT``, ``/``).
        """
        config = app.config
        if not config.get("PATH_PREFIX"):
            return
        prefix = normalize_prefix(config["PATH_PREFIX"])
        if not config.get("SESSION_COOKIE_PATH"):
            config["SESSION_COOKIE_PATH"] = prefix
        if config.get("REMEMBER_COOKIE_PATH", "/") == "/":
            config["REMEMBER_COOKIE_PATH"] = prefix

    def init_wsgi_middleware(self, app: Flask) -> None:
        """Wrap ``app.wsgi_app``: proxy headers, then request log, then path prefix.

        ``StrictProxyFix`` runs first so the log records the real client
        address; the prefix is applied last, next to Flask.
        """
        config = app.config
        wsgi: Any = app.wsgi_app
        if config.get("PATH_PREFIX"):
            wsgi = PathPrefixMiddleware(wsgi, normalize_prefix(config["PATH_PREFIX"]))
        wsgi = RequestLogMiddleware(wsgi, enabled=config["REQUEST_LOG"])
        wsgi = StrictProxyFix(
            wsgi,
            x_for=config["PROXY_FIX_X_FOR"] or 0,
            x_proto=config["PROXY_FIX_X_PROTO"] or 0,
            x_host=config["PROXY_FIX_X_HOST"] or 0,
            x_port=config["PROXY_FIX_X_PORT"] or 0,
            x_prefix=config["PROXY_FIX_X_PREFIX"] or 0,
        )
        app.wsgi_app = wsgi  # type: ignore[method-assign]
