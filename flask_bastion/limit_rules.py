"""Whom a rate limit counts, and the limits views declare (enforced by :mod:`.ratelimit`).

* :func:`client_address` and :func:`client_key`: the default key of a
  request (the address, or the signed-in account);
* :func:`limit` (with :func:`configured` for a limit from a setting) and
  :func:`exempt`: marks on views, classes and blueprints,
  read by :meth:`flask_bastion.ratelimit.RateLimiter.route_limits`; they
  work before any app exists;
* :func:`parse_limits` and :func:`limits_setting`: the ``limits`` library's
  notation (``"5 per minute; 20 per hour"``), parsed once per string.

Everything here is also importable from :mod:`flask_bastion.ratelimit`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Response, current_app, request
from limits import RateLimitItem, parse_many

logger = logging.getLogger("bastion.security")
F = TypeVar("F", bound=Callable[..., Any])


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
    Flask-Login user object that has an ``id``; without Flask-Login, the
    address.  When loading the user fails (its database is down, say), the
    address is used and a warning logged.
    """
    if getattr(current_app, "login_manager", None) is None:
        return client_address()
    from flask_login import current_user

    try:
        if current_user.is_authenticated:
            return f"user:{getattr(current_user, 'id', None) or current_user.get_id()}"
    except Exception:
        logger.warning("rate-limit key: could not load the user; using the address")
    return client_address()


# --- declaring limits on views ---------------------------------------------


@dataclass(frozen=True)
class Limit:
    """One limit a view declares with :func:`limit`.

    :param value: a ``limits`` string such as ``"5 per minute; 20 per hour"``,
        or a function returning one (read on each request, e.g. from config).
    :param key_func: the counter's key (default: :meth:`RateLimiter.default_key`).
    :param methods: the HTTP methods it applies to (default: all).
    :param deduct_when: count a request only when this returns ``True`` for
        its response (the limit is still checked before the view runs).
    """

    value: str | Callable[[], str]
    key_func: Callable[[], str] | None = None
    methods: frozenset[str] | None = None
    deduct_when: Callable[[Response], bool] | None = None

    def items(self) -> list[RateLimitItem]:
        """The parsed limits (cached per string).

        :raises ValueError: for a string the ``limits`` library can't parse.
        """
        value = self.value() if callable(self.value) else self.value
        return list(parse_limits(value))


@functools.lru_cache(maxsize=256)
def parse_limits(value: str) -> tuple[RateLimitItem, ...]:
    """Parse ``"2 per second; 60 per minute"`` (``limits`` notation), cached.

    :raises ValueError: for a malformed string.
    """
    return tuple(parse_many(value))


def limits_setting(name: str, value: Any) -> tuple[RateLimitItem, ...]:
    """The limits of the setting ``name`` (``()`` when empty), for start-up checks.

    :raises ValueError: naming the setting and the expected notation, for a
        string the ``limits`` library can't parse.
    """
    text = str(value or "").strip()
    if not text:
        return ()
    try:
        return parse_limits(text)
    except ValueError:
        raise ValueError(
            f"{name}={text!r} is not a rate limit: write it like '2 per second; 60 per minute'"
        ) from None


def limit(
    value: str | Callable[[], str],
    *,
    key_func: Callable[[], str] | None = None,
    methods: Iterable[str] | None = None,
    deduct_when: Callable[[Response], bool] | None = None,
) -> Callable[[F], F]:
    """Decorate a view (function or ``View`` class) with a rate limit of its own.

    The limit applies on top of ``RATELIMIT_DEFAULT``; stack the decorator
    for several.  It only marks the view (an attribute ``rate_limits``), so
    it works before any app exists and in every app the view is used in.
    """
    declared = Limit(
        value=value,
        key_func=key_func,
        methods=frozenset(m.upper() for m in methods) if methods else None,
        deduct_when=deduct_when,
    )

    def decorate(view: F) -> F:
        view.rate_limits = (*getattr(view, "rate_limits", ()), declared)  # type: ignore[attr-defined]
        return view

    return decorate


def configured(name: str) -> Callable[[], str]:
    """A :func:`limit` value read from ``current_app.config[name]`` on each request.

    ``@limit(configured("SIGNIN_RATE_LIMIT"))`` follows the app's setting
    (a string in ``limits`` notation), whichever app serves the view and
    whenever its config changes.

    :param name: the config key.
    :returns: a function of no arguments giving the setting as a string; a
        missing key raises :class:`KeyError` when a request is counted.
    """

    def value() -> str:
        return str(current_app.config[name])

    value.__qualname__ = value.__name__ = f"configured({name!r})"
    return value


def exempt(target: F) -> F:
    """Exempt a view function, a ``View`` class or a whole :class:`~flask.Blueprint`."""
    target.rate_limit_exempt = True  # type: ignore[attr-defined]
    return target
