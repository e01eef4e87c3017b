"""Who calls the API: an API key, or the session cookie of the web pages.

A request that carries ``Authorization: Bearer ...`` or ``X-API-Key`` is
authenticated by that key *only* (never by a cookie it may also carry):

* a missing, malformed, unknown, wrong, expired or revoked key, or both
  headers at once, is a 401 with ``WWW-Authenticate: Bearer
  error="invalid_token"`` (RFC 6750 section 3.1), the same answer for each
  (:func:`app.auth.api_keys.authenticate_key` spends the same work on an
  unknown prefix as on a wrong secret);
* such a request skips Bastion's CSRF check (no browser sends these headers
  cross-site: :func:`flask_bastion.csrf_exempt_when`), cookie requests keep it;
* a write (``POST``, ``PATCH``, ``DELETE``) with a ``read`` key is a 403;
* every request is counted against ``API_RATE_LIMIT`` per key (per client
  address without a key), on top of ``RATELIMIT_DEFAULT``, with
  ``Retry-After`` on a 429 (:mod:`flask_bastion.ratelimit`).

Without those headers the principal is the signed-in user of the session
cookie, or ``None``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Flask, g, request
from flask_login import current_user
from flask_smorest import abort as api_abort

from app.auth.api_keys import authenticate_key, has_scope, key_from_request, touch
from flask_bastion import client_address, configured, csrf_exempt_when, limit

#: Methods that change something: they need a key with the ``write`` scope.
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
INVALID_KEY = 'Bearer realm="api", error="invalid_token"'


def carries_key() -> bool:
    """Whether the request offers an API key (valid or not): ``Authorization: Bearer``
    or an ``X-API-Key`` header."""
    scheme = request.headers.get("Authorization", "").strip().partition(" ")[0]
    return scheme.lower() == "bearer" or "X-API-Key" in request.headers


def key_requests_skip_csrf() -> bool:
    """CSRF exemption (:func:`flask_bastion.csrf_exempt_when`): API requests with a key."""
    return request.blueprint == "api" and carries_key()


def rate_key() -> str:
    """The rate-limit key of an API request: a hash of the key sent, else the address.

    A hash of the raw header value, not the key's public prefix: a forged key
    with somebody's prefix must not spend their budget.
    """
    raw = key_from_request(request) if carries_key() else None
    if raw is None:
        return f"api-addr:{client_address()}"
    return "api-key:" + hashlib.sha256(raw.encode("utf-8", "replace")).hexdigest()[:24]


@limit(configured("API_RATE_LIMIT"), key_func=rate_key)
class KeyAuth:
    """Mixin for API views (before the view class): API keys, else the session cookie."""

    def authenticate(self) -> Any:
        """The key's user for a request with a key (else 401), or the cookie's user, or ``None``.

        :raises HTTPException: 401 for a bad key, 403 for a write with a ``read`` key.
        """
        if not carries_key():
            return current_user if current_user.is_authenticated else None
        raw = key_from_request(request)
        key = authenticate_key(raw) if raw else None
        if key is None:
            api_abort(
                401,
                message="The API key is missing, malformed, unknown, expired or revoked.",
                headers={"WWW-Authenticate": INVALID_KEY},
            )
        if request.method in WRITE_METHODS and not has_scope(key, "write"):
            api_abort(403, message="This API key may only read: it lacks the write scope.")
        g.api_key = key
        user = key.user
        touch(key)  # commits; nothing of this request is pending yet
        return user

    def dispatch_request(self, **kwargs: Any) -> Any:
        """Authenticate first (a bad key is a 401 whatever the operation), then dispatch."""
        self.current_principal()  # type: ignore[attr-defined]
        return super().dispatch_request(**kwargs)  # type: ignore[misc]


def init_key_auth(app: Flask) -> None:
    """Let key-authenticated API requests skip the CSRF check of ``app``."""
    csrf_exempt_when(app, key_requests_skip_csrf)
