"""Reverse-proxy support: trusted ``X-Forwarded-*`` headers and a path prefix.

Two WSGI middlewares, applied by :func:`init_proxy`:

* :class:`StrictProxyFix` is Werkzeug's :class:`~werkzeug.middleware.proxy_fix.ProxyFix`
  that also *removes* every ``X-Forwarded-*`` header it was not told to
  trust, so that no later code (a library that reads ``X-Forwarded-Proto``
  or ``X-Forwarded-For`` directly) can be fooled by a header the client made up.  All hop counts
  default to 0: trust nothing (Werkzeug docs, "Tell Flask it is Behind a Proxy").
* :class:`PathPrefixMiddleware` mounts the application under a fixed prefix
  for a proxy that maps ``example.com/some-service/v1/foo`` to ``/foo``
  without sending ``X-Forwarded-Prefix``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from werkzeug.middleware.proxy_fix import ProxyFix

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

#: ProxyFix argument -> the environ key of the header it trusts.
FORWARDED_HEADERS = {
    "x_for": "HTTP_X_FORWARDED_FOR",
    "x_proto": "HTTP_X_FORWARDED_PROTO",
    "x_host": "HTTP_X_FORWARDED_HOST",
    "x_port": "HTTP_X_FORWARDED_PORT",
    "x_prefix": "HTTP_X_FORWARDED_PREFIX",
}


class StrictProxyFix(ProxyFix):
    """:class:`ProxyFix` that drops the forwarded headers it does not trust.

    :param app: the WSGI application to wrap.
    :param x_for, x_proto, x_host, x_port, x_prefix: how many proxies set
        each header (0 = never trust it, and remove it from the request).
    """

    def __init__(self, app: WSGIApplication, **hops: int) -> None:
        super().__init__(self._normalized(app, hops), **hops)
        self.untrusted = tuple(
            environ_key for arg, environ_key in FORWARDED_HEADERS.items() if not hops.get(arg)
        )
        self.trusts_any = any(hops.values())
        self.inner = app

    @staticmethod
    def _normalized(app: WSGIApplication, hops: dict[str, int]) -> WSGIApplication:
        """Wrap ``app`` so trusted headers hold only the value ProxyFix chose.

        Libraries that read ``X-Forwarded-For`` themselves (Flask-Login's
        session identifier takes its first, client-written, entry) then see
        the address ProxyFix trusted, not what the client prepended.
        """

        def normalized(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
            if hops.get("x_for"):
                environ["HTTP_X_FORWARDED_FOR"] = environ.get("REMOTE_ADDR", "")
            if hops.get("x_proto"):
                environ["HTTP_X_FORWARDED_PROTO"] = environ.get("wsgi.url_scheme", "http")
            return app(environ, start_response)

        return normalized

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        for key in self.untrusted:
            environ.pop(key, None)
        if self.trusts_any:
            return super().__call__(environ, start_response)
        return self.inner(environ, start_response)


def normalize_prefix(prefix: str) -> str:
    """Return ``prefix`` as ``/a/b`` (leading slash, no trailing slash), or ``""``.

    :raises ValueError: if the prefix contains a query, a fragment or ``..``.
    """
    prefix = (prefix or "").strip()
    if not prefix or prefix == "/":
        return ""
    if any(char in prefix for char in "?#%\\") or ".." in prefix.split("/"):
        raise ValueError(f"PATH_PREFIX must be a plain path such as /app, got {prefix!r}")
    return "/" + prefix.strip("/")


class PathPrefixMiddleware:
    """Serve the application under a fixed URL prefix.

    A request whose path starts with the prefix *at a segment boundary*
    (``/svc/v1`` or ``/svc/v1/...``) has the prefix moved from ``PATH_INFO``
    to ``SCRIPT_NAME``; any other path is taken as already stripped by the
    proxy and gets ``SCRIPT_NAME = prefix``.  Either way ``url_for`` builds
    prefixed URLs, relative and ``_external``, and ``/svc/v1foo`` is never
    routed as ``/foo``: it stays ``/svc/v1foo`` and finds no route (404).

    :param app: the WSGI application to wrap.
    :param prefix: the mount point, for example ``/some-service/v1``.
    """

    def __init__(self, app: WSGIApplication, prefix: str) -> None:
        self.app = app
        self.prefix = normalize_prefix(prefix)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or ""
        script_name = environ.get("SCRIPT_NAME", "") or ""
        prefix = self.prefix
        if path == prefix or path.startswith(prefix + "/"):
            environ["PATH_INFO"] = path[len(prefix) :] or "/"
        environ["SCRIPT_NAME"] = script_name.rstrip("/") + prefix
        return self.app(environ, start_response)
