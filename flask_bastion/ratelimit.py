"""Rate limiting with Flask-Limiter: per client address, Redis or in-memory.

Defaults (``RATELIMIT_DEFAULT``): ``2 per second; 60 per minute`` for every
route except static files and views marked with :func:`exempt`.  Storage is
``RATELIMIT_STORAGE_URI`` (``redis://127.0.0.1:6379/0`` or ``memory://``).
A ``redis://`` storage is wrapped in :class:`~flask_bastion.storage.FallbackStorage`:
when Redis fails mid-flight the counters move to memory (one warning on the
``bastion.security`` logger) and return to Redis within about a second of it
answering again.  A 429 carries ``Retry-After`` (RFC 9110 section 10.2.3) in
seconds; other responses don't (Flask-Limiter would add it to every one).
"""

from __future__ import annotations

import copy
import logging
import time
from typing import Any

import flask_limiter
from flask import Flask, Response, current_app, g, request

from .storage import FALLBACK_PREFIX, FallbackStorage

logger = logging.getLogger("bastion.security")


def client_address() -> str:
    """The client's IP address, as a rate-limit key.

    Uses ``request.remote_addr``, which ``ProxyFix`` rewrites only when
    ``PROXY_FIX_X_FOR`` trusts that many proxies; a client-sent
    ``X-Forwarded-For`` is never read here.
    """
    return request.remote_addr or "unknown"


def client_key() -> str:
    """The default rate-limit key: ``user:<id>`` when signed in, else the address.

    Signed-in users get their own budget (people behind one office NAT don't
    share it); anonymous clients are counted per address.  Works with any
    Flask-Login user object that has an ``id``.
    """
    cached = g.get("_rate_limit_key")
    if cached is not None:  # each limit asks again; the answer can't change
        return str(cached)
    key = client_address()
    if getattr(current_app, "login_manager", None) is not None:
        from flask_login import current_user

        try:
            if current_user.is_authenticated:
                key = f"user:{getattr(current_user, 'id', None) or current_user.get_id()}"
        except Exception:
            # Loading the user failed (its database is down, say).  Flask-Limiter
            # would take the error for a storage failure; count by address.
            logger.warning("rate-limit key: could not load the user; using the address")
    g._rate_limit_key = key
    return key


#: Limiter attributes that ``init_app`` fills from the app's config and
#: then never re-reads (Flask-Limiter 4.x).
_CONFIG_STATE = (
    "enabled",
    "_default_limits_per_method",
    "_default_limits_exempt_when",
    "_default_limits_deduct_when",
    "_default_limits_cost",
    "_application_limits_per_method",
    "_application_limits_exempt_when",
    "_application_limits_deduct_when",
    "_application_limits_cost",
    "_headers_enabled",
    "_header_mapping",
    "_retry_after",
    "_strategy",
    "_storage_uri",
    "_storage_options",
    "_swallow_errors",
    "_fail_on_first_breach",
    "_key_prefix",
    "_request_identifier",
    "_on_breach",
    "_on_meta_breach",
    "_meta_limits",
    "_in_memory_fallback",
    "_in_memory_fallback_enabled",
    "_storage_dead",
)


class Limiter(flask_limiter.Limiter):
    """Flask-Limiter's ``Limiter`` that an application factory can bind again.

    Flask-Limiter reads its settings from the first app's config and keeps
    them; with an app factory (and in the test suite) each ``create_app``
    must start from its own ``RATELIMIT_*`` settings.  This subclass
    remembers the constructor's state and restores it before each
    :meth:`init_app`; limits declared with ``@limiter.limit`` and
    ``limiter.exempt`` are kept.  One process serves one app at a time: the
    last app bound decides the storage.
    """

    def __init__(self, key_func: Any, **kwargs: Any) -> None:
        super().__init__(key_func, **kwargs)
        self._initial_state = {name: copy.copy(getattr(self, name)) for name in _CONFIG_STATE}
        self._initial_defaults = list(self.limit_manager._default_limits)
        self._initial_application = list(self.limit_manager._application_limits)

    def init_app(self, app: Flask) -> None:
        """Bind to ``app`` from a clean state, then let Flask-Limiter read its config."""
        for name, value in self._initial_state.items():
            setattr(self, name, copy.copy(value))
        self.limit_manager.set_default_limits(list(self._initial_defaults))
        self.limit_manager.set_application_limits(list(self._initial_application))
        super().init_app(app)


#: Schemes of a plain Redis storage URI (TLS or not).
REDIS_SCHEMES = ("redis://", "rediss://")


def redis_url(storage_uri: str) -> str:
    """The plain ``redis://`` URL of a (possibly ``fallback+``) storage URI."""
    return str(storage_uri).removeprefix(FALLBACK_PREFIX)


def uses_redis(storage_uri: str) -> bool:
    """True when ``storage_uri`` (``RATELIMIT_STORAGE_URI``) names a Redis server."""
    return redis_url(storage_uri).startswith(REDIS_SCHEMES)


#: Statuses that may carry ``Retry-After`` here: "too many requests" and
#: "unavailable" (RFC 9110 section 10.2.3; on a 3xx it would delay the redirect).
RETRY_AFTER_STATUSES = frozenset({429, 503})


def drop_stray_retry_after(response: Response) -> Response:
    """Remove the ``Retry-After`` Flask-Limiter adds to every response but a 429 or 503."""
    if response.status_code not in RETRY_AFTER_STATUSES:
        response.headers.pop("Retry-After", None)
    return response


def begin_request(limiter: Limiter) -> None:
    """Tell a :class:`FallbackStorage` that a new request starts (see its docs)."""
    if limiter.initialized and limiter.enabled:
        storage = limiter.storage
        if isinstance(storage, FallbackStorage):
            storage.begin_request()


def init_ratelimit(app: Flask, limiter: Limiter) -> None:
    """Bind ``limiter`` to ``app``; its settings come from ``RATELIMIT_*`` config keys.

    A ``redis://`` ``RATELIMIT_STORAGE_URI`` becomes ``fallback+redis://``
    (see :mod:`flask_bastion.storage`) while
    ``RATELIMIT_IN_MEMORY_FALLBACK_ENABLED`` is on.

    :raises ValueError: (from the ``limits`` library) for a malformed
        ``RATELIMIT_DEFAULT`` string.
    """
    storage = str(app.config["RATELIMIT_STORAGE_URI"])
    if app.config.get("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED") and storage.startswith(REDIS_SCHEMES):
        storage = app.config["RATELIMIT_STORAGE_URI"] = FALLBACK_PREFIX + storage
    # Registered before Flask-Limiter's own after_request, so it runs after it
    # (Flask calls after_request functions in reverse order of registration).
    app.after_request(drop_stray_retry_after)

    # And this before_request before Flask-Limiter's, so it runs first.
    @app.before_request
    def _begin_request() -> None:
        begin_request(limiter)

    limiter.init_app(app)
    app.extensions["bastion.limiter"] = limiter
    if uses_redis(storage):
        logger.info("rate limits stored in Redis, in-memory fallback on")
    elif storage.startswith("memory://") and not (app.debug or app.testing):
        logger.warning(
            "rate limits are kept in memory: each gunicorn worker counts on its own; "
            "set RATELIMIT_STORAGE_URI=redis://... in production"
        )


def retry_after_seconds(limiter: Limiter | None) -> int | None:
    """Seconds until the breached limit of this request resets, or ``None``."""
    if limiter is None:
        return None
    current: Any = limiter.current_limit
    if current is None:
        return None
    try:
        return max(1, int(current.reset_at - time.time()))
    except Exception:  # storage gone: the header code will log it
        return None
