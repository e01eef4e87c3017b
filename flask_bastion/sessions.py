"""Flask's signed-cookie sessions, with the signing serializer built once.

Flask builds a new ``URLSafeTimedSerializer`` on every request, even when
the request has no session cookie.  :class:`CachedSerializerSessionInterface`
keeps one per ``(SECRET_KEY, SECRET_KEY_FALLBACKS)`` pair, so key rotation
still takes effect at once.  A request without a session cookie (every
first visit, every health probe) gets a new empty session without Flask's
lookup, which raises and catches a ``KeyError`` for a missing cookie, and
answers with no cookie work at all when the session stayed empty.
Everything else (signing, cookie flags, expiry) is Flask's own
``SecureCookieSessionInterface``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Request, Response
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from itsdangerous import URLSafeTimedSerializer

from .headers import add_vary


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

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """Flask's session for ``request``; an empty one at once when it has no cookie.

        :returns: ``None`` without a ``SECRET_KEY`` (Flask then refuses to
            write to the session, as it always does).
        """
        if self.get_cookie_name(app) not in request.cookies:
            if self.get_signing_serializer(app) is None:
                return None
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        """Flask's ``save_session``, without reading seven cookie settings for an empty
        session that nothing changed (no cookie came, none goes): then only
        ``Vary: Cookie`` is added, when the session was read, as Flask does
        (Flask-Login reads it on every response)."""
        if not session and not session.modified:
            if session.accessed:
                add_vary(response.headers, "Cookie")
            return
        super().save_session(app, session, response)
