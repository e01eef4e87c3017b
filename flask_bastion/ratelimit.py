"""Rate limiting per client: fixed windows, one Redis round trip per request.

Every route but static files and views marked with :func:`exempt` is
limited by ``RATELIMIT_DEFAULT`` (``2 per second; 60 per minute``), counted
per client (see :meth:`RateLimiter.default_key`) and per route; a view adds
limits of its own with :func:`limit`.  The limit strings are the ``limits``
library's notation (``"5 per minute; 20 per hour"``), parsed by it.

Counters live in ``RATELIMIT_STORAGE_URI``: ``memory://`` (each process
counts on its own) or ``redis://`` / ``rediss://`` (shared by every process
and host).  With Redis, one Lua script (``EVALSHA``) adds the request to
every counter that applies and returns each count with its time to live, so
a request costs one round trip, rate-limit headers included, however many
limits apply.  A view's ``deduct_when`` limit (counted only when the
response says so, such as failed sign-ins) is read in that same round trip
and incremented in a second one only when the response asks for it.

When Redis fails (connection refused, timeout, any Redis error), the
counting moves to memory at once, one warning is logged on the
``bastion.security`` logger, and Redis is tried again at most every
:attr:`flask_bastion.counters.FallbackCounters.retry_interval` seconds (1 s), so limits return to
Redis within about a second of it answering.  While it is down each process
counts on its own: the effective limit is (processes x limit), the price of
staying up; ``/readyz`` reports the outage.

``OPTIONS`` requests that Flask answers itself (``provide_automatic_options``:
an empty 200 with an ``Allow`` header; no view, database or session work)
are not counted, like a 404 or 405 that matched no route.  A browser sends
such a CORS preflight before a cross-origin request, and scanners send one
per page: counting them would let the preflight eat the budget of the
request it announces, for no protection (the answer costs less than the
Redis round trip that would count it).  A view that handles ``OPTIONS``
itself is counted like any other method.

Answers: a refused request raises :class:`~werkzeug.exceptions.TooManyRequests`
(429) with ``Retry-After`` in seconds (RFC 9110 section 10.2.3; RFC 6585
section 4); every limited response carries ``X-RateLimit-Limit``,
``-Remaining`` and ``-Reset`` (a Unix time) of its tightest limit, and the
same as the IETF's ``RateLimit-Policy: "limit";q=<amount>;w=<window s>``
and ``RateLimit: "limit";r=<remaining>;t=<seconds to reset>``
(draft-ietf-httpapi-ratelimit-headers-09, structured fields of RFC 9651).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, g, request
from limits import RateLimitItem
from werkzeug.exceptions import ServiceUnavailable, TooManyRequests

from .counters import Counters, Hit, counters_from_config, uses_redis
from .limit_rules import (
    Limit,
    client_address,
    client_key,
    configured,
    exempt,
    limit,
    limits_setting,
    parse_limits,
)

__all__ = [
    "Counted",
    "Limit",
    "RateLimiter",
    "client_address",
    "client_key",
    "configured",
    "exempt",
    "init_ratelimit",
    "limit",
    "limits_setting",
    "parse_limits",
    "retry_after",
    "retry_after_seconds",
]

logger = logging.getLogger("bastion.security")


# --- the limiter --------------------------------------------------------------


@dataclass
class Counted:
    """A limit as counted for this request."""

    item: RateLimitItem
    count: int
    reset_at: float  # Unix seconds
    deduct_when: Callable[[Response], bool] | None = None
    key: str = ""

    @property
    def exceeded(self) -> bool:
        """True when this request is over the limit."""
        if self.deduct_when is not None:  # read, not counted: the next one would pass it
            return self.count >= self.item.amount
        return self.count > self.item.amount

    @property
    def remaining(self) -> int:
        """Requests left in the window (never negative)."""
        return max(self.item.amount - self.count, 0)


class RateLimiter:
    """The rate limiter of one application (built by :class:`flask_bastion.Bastion`).

    Reads ``RATELIMIT_ENABLED``, ``RATELIMIT_DEFAULT``, ``RATELIMIT_STORAGE_URI``,
    ``RATELIMIT_STORAGE_OPTIONS``, ``RATELIMIT_IN_MEMORY_FALLBACK_ENABLED``,
    ``RATELIMIT_HEADERS_ENABLED`` and ``RATELIMIT_KEY_PREFIX`` once.  Subclass
    it (and set :attr:`flask_bastion.Bastion.rate_limiter_class`) to change
    the key, the exemptions or the limits of a request.

    :raises ValueError: for a malformed ``RATELIMIT_DEFAULT`` or storage URI.
    """

    def __init__(self, app: Flask) -> None:
        config = app.config
        self.app = app
        self.enabled = bool(config["RATELIMIT_ENABLED"])
        self.default_limits = limits_setting("RATELIMIT_DEFAULT", config["RATELIMIT_DEFAULT"])
        self.headers_enabled = bool(config["RATELIMIT_HEADERS_ENABLED"])
        self.prefix = str(config["RATELIMIT_KEY_PREFIX"])
        self.counters: Counters = counters_from_config(config)
        self._routes: dict[str, tuple[bool, tuple[Limit, ...]]] = {}
        self._frames: dict[str, list[tuple[RateLimitItem, str, str, int]]] = {}
        if self.enabled:
            app.before_request(self.check_request)
            app.after_request(self.after_request)

    # -- overridable policy --------------------------------------------------

    def default_key(self) -> str:
        """The key of the default limits and of limits without a ``key_func``."""
        return client_key()

    def route_limits(self, endpoint: str) -> tuple[bool, tuple[Limit, ...]]:
        """``(exempt, limits)`` declared for ``endpoint`` (its view, class or blueprint)."""
        if endpoint == "static" or endpoint.endswith(".static"):
            return True, ()
        view = self.app.view_functions.get(endpoint)
        view_class = getattr(view, "view_class", None)
        owners: list[Any] = [view, view_class]
        parts = endpoint.split(".")[:-1]  # the blueprint, and its parents when nested
        owners += [self.app.blueprints.get(".".join(parts[:n])) for n in range(1, len(parts) + 1)]
        if any(getattr(owner, "rate_limit_exempt", False) for owner in owners if owner is not None):
            return True, ()
        declared: tuple[Limit, ...] = ()
        for owner in (view, view_class):
            declared += tuple(getattr(owner, "rate_limits", ()))
        return False, declared

    # -- per request ---------------------------------------------------------

    def _route(self, endpoint: str) -> tuple[bool, tuple[Limit, ...]]:
        route = self._routes.get(endpoint)
        if route is None:
            route = self._routes[endpoint] = self.route_limits(endpoint)
        return route

    def check_request(self) -> None:
        """``before_request``: count this request; 429 when a limit is exceeded.

        :raises werkzeug.exceptions.TooManyRequests: with ``Retry-After``.
        """
        endpoint = request.endpoint
        if endpoint is None:  # 404 or 405: nothing to count per route
            return
        if request.method == "OPTIONS" and getattr(
            request.url_rule, "provide_automatic_options", False
        ):  # Flask answers it (Allow header); no view runs
            return
        exempt_route, declared = self._route(endpoint)
        if exempt_route:
            return
        default_key = self.default_key()
        hits: list[Hit] = []
        meta: list[tuple[RateLimitItem, Callable[[Response], bool] | None]] = []
        for item, head, tail, expiry in self._default_frames(endpoint):
            hits.append(Hit(head + default_key + tail, expiry, 1))
            meta.append((item, None))
        for index, declared_limit in enumerate(declared):
            if declared_limit.methods is not None and request.method not in declared_limit.methods:
                continue
            key = declared_limit.key_func() if declared_limit.key_func else default_key
            for item in declared_limit.items():
                amount = 0 if declared_limit.deduct_when else 1
                hits.append(
                    Hit(self._key(item, f"r{index}", endpoint, key), item.get_expiry(), amount)
                )
                meta.append((item, declared_limit.deduct_when))
        if not hits:
            return
        counts = self.count(hits)
        counted = [
            Counted(item, count, reset_at, deduct_when, hit.key)
            for (item, deduct_when), (count, reset_at), hit in zip(meta, counts, hits, strict=True)
        ]
        g.rate_limits = counted
        exceeded = [c for c in counted if c.exceeded]
        if exceeded:
            worst = max(exceeded, key=lambda c: c.reset_at)
            g.rate_limit = worst
            g.rate_limit_refused = True
            logger.info("rate limit %s exceeded on %s", worst.item, endpoint)
            raise TooManyRequests(
                description=str(worst.item),
                retry_after=retry_after(worst.reset_at),  # type: ignore[call-arg]
            )
        g.rate_limit = min(counted, key=lambda c: (c.remaining, -c.reset_at))

    def count(self, hits: Sequence[Hit]) -> list[tuple[int, float]]:
        """Add ``hits`` to their counters; ``(count, reset_at)`` for each.

        :raises werkzeug.exceptions.ServiceUnavailable: when the storage fails
            and there is no in-memory fallback
            (``RATELIMIT_IN_MEMORY_FALLBACK_ENABLED`` off): a 503 with
            ``Retry-After``, never a 500; the error is logged.
        """
        try:
            return self.counters.hit(hits)
        except getattr(self.counters, "errors", ()) as error:
            logger.error("rate-limit storage failed (%s); answering 503", type(error).__name__)
            raise ServiceUnavailable(retry_after=1) from None  # type: ignore[call-arg]

    def _key(self, item: RateLimitItem, scope: str, endpoint: str, key: str) -> str:
        return item.key_for(self.prefix, scope, endpoint, key)

    def _default_frames(self, endpoint: str) -> list[tuple[RateLimitItem, str, str, int]]:
        """``(item, head, tail, expiry)`` of each default limit on ``endpoint``: its
        counter's key is ``head + key + tail``, as :meth:`_key` writes it (built once
        per endpoint, not per request)."""
        frames = self._frames.get(endpoint)
        if frames is None:
            frames = []
            for item in self.default_limits:
                head, tail = self._key(item, "d", endpoint, "\0").split("\0")
                frames.append((item, head, tail, item.get_expiry()))
            self._frames[endpoint] = frames
        return frames

    def after_request(self, response: Response) -> Response:
        """Deduct ``deduct_when`` limits, then add the ``X-RateLimit-*`` headers."""
        counted: list[Counted] | None = g.get("rate_limits")
        if not counted:
            return response
        refused = g.get("rate_limit_refused", False)  # the view never ran: nothing to deduct
        deduct = (
            []
            if refused
            else [
                Hit(c.key, c.item.get_expiry(), 1)
                for c in counted
                if c.deduct_when is not None and c.deduct_when(response)
            ]
        )
        if deduct:
            try:
                self.counters.hit(deduct)
            except getattr(self.counters, "errors", ()) as error:  # the answer is ready: keep it
                logger.error("rate-limit storage failed (%s); not counted", type(error).__name__)
        current: Counted | None = g.get("rate_limit")
        if self.headers_enabled and current is not None:
            headers = response.headers
            amount, window = current.item.amount, current.item.get_expiry()
            headers["X-RateLimit-Limit"] = str(amount)
            headers["X-RateLimit-Remaining"] = str(current.remaining)
            headers["X-RateLimit-Reset"] = str(math.ceil(current.reset_at))
            headers["RateLimit-Policy"] = f'"limit";q={amount};w={window}'
            headers["RateLimit"] = (
                f'"limit";r={current.remaining};t={retry_after(current.reset_at)}'
            )
        return response

    def check(self) -> bool:
        """True when the storage answers (``/readyz``)."""
        return self.counters.check()


def retry_after(reset_at: float) -> int:
    """Whole seconds until ``reset_at`` (Unix seconds), at least 1."""
    return max(1, math.ceil(reset_at - time.time()))


def retry_after_seconds() -> int | None:
    """Seconds until the limit this request exceeded resets, or ``None``."""
    current: Counted | None = g.get("rate_limit")
    if current is None or not current.exceeded:
        return None
    return retry_after(current.reset_at)


def init_ratelimit(app: Flask, limiter_class: type[RateLimiter] = RateLimiter) -> RateLimiter:
    """Build the app's :class:`RateLimiter`, as ``app.extensions["bastion.limiter"]``.

    :raises ValueError: for a malformed ``RATELIMIT_DEFAULT`` or storage URI.
    """
    limiter = limiter_class(app)
    app.extensions["bastion.limiter"] = limiter
    storage = str(app.config["RATELIMIT_STORAGE_URI"])
    if not limiter.enabled:
        return limiter
    if uses_redis(storage):
        logger.info("rate limits stored in Redis, in-memory fallback on")
    elif not (app.debug or app.testing):
        logger.warning(
            "rate limits are kept in memory: each gunicorn worker counts on its own; "
            "set RATELIMIT_STORAGE_URI=redis://... in production"
        )
    return limiter
