"""Rate limiting with Flask-Limiter: per client address, Redis or in-memory.

Defaults (``RATELIMIT_DEFAULT``): ``2 per second; 60 per minute`` for every
route except static files and views marked with :func:`exempt`.  Storage is
``RATELIMIT_STORAGE_URI`` (``redis://127.0.0.1:6379/0`` or ``memory://``).
When Redis fails mid-flight Flask-Limiter switches to in-memory counters,
logs ``Rate limit storage unreachable`` once on the ``flask-limiter``
logger, and returns to Redis when it answers again.  A 429 carries
``Retry-After`` (RFC 9110 section 10.2.3) in seconds.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Flask, request
from flask_limiter import Limiter

logger = logging.getLogger("bastion.security")


def client_address() -> str:
    """The rate-limit key: the client's IP address.

    Uses ``request.remote_addr``, which ``ProxyFix`` rewrites only when
    ``PROXY_FIX_X_FOR`` trusts that many proxies; a client-sent
    ``X-Forwarded-For`` is never read here.
    """
    return request.remote_addr or "unknown"


def init_ratelimit(app: Flask, limiter: Limiter) -> None:
    """Bind ``limiter`` to ``app``; its settings come from ``RATELIMIT_*`` config keys.

    :raises ValueError: (from the ``limits`` library) for a malformed
        ``RATELIMIT_DEFAULT`` string.
    """
    limiter.init_app(app)
    app.extensions["bastion.limiter"] = limiter
    if app.config["RATELIMIT_STORAGE_URI"].startswith(("redis://", "rediss://")):
        logger.info("rate limits stored in Redis, in-memory fallback on")


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
