"""Flask's signed-cookie sessions, with the signing serializer built once.

Flask builds a new ``URLSafeTimedSerializer`` on every request, even when
the request has no session cookie.  :class:`CachedSerializerSessionInterface`
keeps one per ``(SECRET_KEY, SECRET_KEY_FALLBACKS)`` pair, so key rotation
still takes effect at once.  Everything else (signing, cookie flags, expiry)
is Flask's own ``SecureCookieSessionInterface``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer


class CachedSerializerSessionInterface(SecureCookieSessionInterface):
    """``SecureCookieSessionInterface`` that reuses its serializer between requests."""

    def __init__(self) -> None:
        self._cache_key: tuple[Any, ...] | None = None
        self._serializer: URLSafeTimedSerializer | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        """Return the serializer for the app's current keys (``None`` without a key)."""
        key = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        if key != self._cache_key:
            self._serializer = super().get_signing_serializer(app)
            self._cache_key = key
        return self._serializer
