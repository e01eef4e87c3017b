"""Who may be signed in: a request without a sign-in cookie is anonymous.

Bastion signs people in only through Flask-Login's session (the
``SESSION_COOKIE_NAME`` cookie) or its remember-me cookie
(``REMEMBER_COOKIE_NAME``): there is no ``request_loader``, and API keys
authenticate the API's own views (:mod:`app.auth.api_keys`), not
``current_user``.  So a request that carries neither cookie (a first visit,
a crawler, a health check, a link followed from elsewhere) is anonymous
without loading anything, and the busiest anonymous paths skip Flask-Login's
user loading (its session-protection hash, the user lookup):

* the rate-limit key (:class:`AppRateLimiter`);
* the list pages' cache (:meth:`app.views.lists.ListView.page_cache`);
* ``REQUIRE_2FA_FOR_ADMINS`` (:mod:`app.auth.two_factor_sign_in`).

An app that adds a ``request_loader`` (a header or query token that signs
people in) must widen :func:`has_sign_in_cookie` to that token too.
"""

from __future__ import annotations

from flask import current_app, request

from flask_bastion import Bastion, RateLimiter, client_address


def has_sign_in_cookie() -> bool:
    """True when the request carries the session or the remember-me cookie.

    :returns: ``False`` only for a request that nobody can be signed in on.
    """
    config = current_app.config
    cookies = request.cookies
    return config["SESSION_COOKIE_NAME"] in cookies or (
        config.get("REMEMBER_COOKIE_NAME", "remember_token") in cookies
    )


class AppRateLimiter(RateLimiter):
    """The security layer's rate limiter, which loads no user for a request without cookies."""

    def default_key(self) -> str:
        """The client's address for a request without a sign-in cookie; else
        ``user:<id>`` when signed in (:func:`flask_bastion.ratelimit.client_key`)."""
        if not has_sign_in_cookie():
            return client_address()
        return super().default_key()


class AppBastion(Bastion):
    """The security layer as Bastion's app uses it: with :class:`AppRateLimiter`."""

    rate_limiter_class = AppRateLimiter
