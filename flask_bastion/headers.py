"""Security headers and the HTTPS redirect, computed once per app and added per response.

Every header value is a fixed string, built from the config when the app is
set up; a response only gets them added (the Content-Security-Policy with
this request's nonce when a template asked for one).  Flask-Talisman did the
same job until issue 8: it is unmaintained since 2023, merged its per-view
options on every request (three times), wrote ``SESSION_COOKIE_SECURE`` into
the config on every request, and trusted a client's ``X-Forwarded-Proto``
on its own; these headers were 16% of a health check's instructions.

Sent on every response (a header the view set itself is left as it is):

* ``Strict-Transport-Security`` on HTTPS responses only (RFC 6797 section
  7.2: a UA ignores it over plain HTTP): ``HSTS_MAX_AGE`` seconds,
  ``includeSubDomains`` (``HSTS_INCLUDE_SUBDOMAINS``), ``preload``
  (``HSTS_PRELOAD``).
* ``Content-Security-Policy`` (:class:`ContentSecurityPolicy`): the policy
  string is built once per app; the nonce (192 random bits, base64url) is
  made when a template first calls ``csp_nonce()`` and put in ``script-src``
  (CSP Level 3, "nonce-source").  A response that rendered no template with
  a script (JSON, a redirect) gets the same policy without a nonce: only our
  own files run there too.
* ``X-Frame-Options: SAMEORIGIN`` (for browsers without CSP
  ``frame-ancestors``), ``X-Content-Type-Options: nosniff``,
  ``Referrer-Policy`` (``REFERRER_POLICY``), ``Permissions-Policy``
  (``PERMISSIONS_POLICY``).
* ``X-XSS-Protection: 0``: OWASP's HTTP Headers Cheat Sheet advises turning
  the legacy XSS auditor off; it is gone from modern browsers, and where it
  exists its "block" mode could be abused to leak data.  The CSP is the real
  protection.
* ``Cross-Origin-Opener-Policy: same-origin``: the page gets its own browsing
  context group, so a cross-origin window it opens (or that opens it) can't
  reach it through ``window.opener`` (protects against XS-Leaks).
* ``Cross-Origin-Resource-Policy`` (``CROSS_ORIGIN_RESOURCE_POLICY``,
  default ``same-origin``; Fetch standard, "Cross-Origin-Resource-Policy
  header"): a page of another site can't embed our responses (an image, a
  script, a JSON answer) and so can't pull them into its own process to read
  them through a side channel such as Spectre.  ``None`` sends no header.

The HTTPS redirect (``FORCE_HTTPS``, never in debug or testing): a plain
HTTP request is answered ``301`` (``GET``/``HEAD``) or ``308`` (other
methods, which must not turn into a ``GET``; RFC 9110 section 15.4) to the
same URL over HTTPS, except for views marked :func:`no_https_redirect`.
Whether a request is HTTPS is ``request.is_secure``: the server's own TLS,
or ``X-Forwarded-Proto`` only where ``PROXY_FIX_X_PROTO`` trusts a proxy
(:mod:`flask_bastion.proxy` removes the header otherwise).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, redirect, request
from werkzeug.datastructures import Headers

F = TypeVar("F", bound=Callable[..., Any])

#: The values ``Cross-Origin-Resource-Policy`` may take (Fetch standard).
CORP_VALUES = frozenset({"same-origin", "same-site", "cross-origin"})

#: The attribute :func:`no_https_redirect` sets on a view function.
NO_HTTPS_REDIRECT = "bastion_no_https_redirect"


def no_https_redirect(view: F) -> F:
    """Mark ``view`` as exempt from the HTTPS redirect (health checks over plain http).

    Headers (CSP, HSTS on HTTPS, ...) still apply.
    """
    setattr(view, NO_HTTPS_REDIRECT, True)
    return view


def add_vary(headers: Headers, name: str) -> None:
    """Add the request header ``name`` to the response's ``Vary`` unless it is listed.

    The result of Werkzeug's ``response.vary.add(name)`` (RFC 9110, section
    12.5.5: a comma-separated list of request header names, compared without
    regard to case; ``*`` already covers every name), reached without parsing
    ``Vary`` into a ``HeaderSet`` and writing it back, and without the
    ``KeyError`` that Werkzeug raises and catches when the header is missing.
    Every response passes here once or twice (Flask-Compress, the session).

    :param headers: the response's headers, changed in place.
    :param name: a request header name, such as ``"Cookie"``.
    """
    values = headers.getlist("Vary")
    if not values:
        headers.add("Vary", name)
        return
    wanted = name.lower()
    for value in values:
        for item in value.split(","):
            if item.strip().lower() in (wanted, "*"):
                return
    headers.set("Vary", ", ".join([*values, name]))


class ContentSecurityPolicy:
    """A Content-Security-Policy header value, built once, with an optional nonce.

    :param policy: directive name to sources, e.g. ``{"script-src": "'self'"}``.
    :param nonce_in: the directives that get ``'nonce-…'`` when there is one.
    :param report_uri: appended as ``report-uri`` unless the policy has one.
    """

    def __init__(
        self,
        policy: Mapping[str, str | Iterable[str]],
        nonce_in: Iterable[str] = ("script-src",),
        report_uri: str | None = None,
    ) -> None:
        directives = {
            name: value if isinstance(value, str) else " ".join(value)
            for name, value in policy.items()
        }
        if report_uri and "report-uri" not in directives:
            directives["report-uri"] = report_uri
        nonce_in = set(nonce_in)
        #: The header without a nonce.
        self.plain = "; ".join(f"{name} {value}" for name, value in directives.items())
        # The header with a nonce is these pieces joined by the nonce.
        pieces: list[str] = []
        current = ""
        for index, (name, value) in enumerate(directives.items()):
            current += ("; " if index else "") + f"{name} {value}"
            if name in nonce_in:
                pieces.append(current + " 'nonce-")
                current = "'"
        pieces.append(current)
        self.pieces = pieces

    def header(self, nonce: str | None) -> str:
        """The header value, with ``nonce`` in the chosen directives when given."""
        if nonce is None or len(self.pieces) == 1:
            return self.plain
        return nonce.join(self.pieces)


def csp_nonce() -> str:
    """This request's CSP nonce (template global ``csp_nonce()``), made on first use."""
    nonce: str | None = g.get("csp_nonce")
    if nonce is None:
        nonce = g.csp_nonce = secrets.token_urlsafe(24)
    return nonce


def cross_origin_resource_policy(value: str | None) -> str | None:
    """The ``Cross-Origin-Resource-Policy`` value of the setting, or ``None`` for none.

    :raises ValueError: when ``value`` is not one of :data:`CORP_VALUES`,
        ``None``, ``""`` or ``"none"`` (as an environment variable).
    """
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
        return None
    if value not in CORP_VALUES:
        raise ValueError(
            f"CROSS_ORIGIN_RESOURCE_POLICY must be one of {sorted(CORP_VALUES)} "
            f"or None, got {value!r}"
        )
    return value


def hsts_value(config: Mapping[str, Any]) -> str:
    """The ``Strict-Transport-Security`` value of ``HSTS_*`` (RFC 6797 section 6.1)."""
    value = f"max-age={int(config['HSTS_MAX_AGE'])}"
    if config["HSTS_INCLUDE_SUBDOMAINS"]:
        value += "; includeSubDomains"
    if config["HSTS_PRELOAD"]:
        value += "; preload"
    return value


class SecurityHeaders:
    """The HTTPS redirect and the security headers of one app (see the module docstring).

    :param app: the app whose config gives the values; hooks are added by :meth:`init_app`.
    :raises ValueError: for a malformed ``CROSS_ORIGIN_RESOURCE_POLICY``.
    """

    def __init__(self, app: Flask) -> None:
        config = app.config
        self.force_https = bool(config["FORCE_HTTPS"]) and not app.debug and not app.testing
        self.policy = ContentSecurityPolicy(
            config["CONTENT_SECURITY_POLICY"] or {}, report_uri=config["CSP_REPORT_URI"]
        )
        self.hsts = hsts_value(config)
        headers = {
            "X-Frame-Options": "SAMEORIGIN",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": config["REFERRER_POLICY"],
            "Permissions-Policy": config["PERMISSIONS_POLICY"],
            "X-XSS-Protection": "0",
            "Cross-Origin-Opener-Policy": "same-origin",
            "Cross-Origin-Resource-Policy": cross_origin_resource_policy(
                config["CROSS_ORIGIN_RESOURCE_POLICY"]
            ),
        }
        #: (name, lower-case name, value) of every fixed header that has a value.
        self.fixed = [(name, name.lower(), value) for name, value in headers.items() if value]

    def init_app(self, app: Flask) -> None:
        """Add the redirect (``before_request``) and the headers (``after_request``) to ``app``.

        The session cookie is always ``HttpOnly`` (no script reads it).
        """
        app.config["SESSION_COOKIE_HTTPONLY"] = True
        app.jinja_env.globals["csp_nonce"] = csp_nonce
        if self.force_https:
            app.before_request(self.redirect_to_https)
        app.after_request(self.add_headers)

    def redirect_to_https(self) -> Response | None:
        """``before_request``: the same URL over HTTPS for a plain HTTP request, else ``None``."""
        if request.is_secure:
            return None
        view = current_app.view_functions.get(request.endpoint or "")
        if view is not None and getattr(view, NO_HTTPS_REDIRECT, False):
            return None
        code = 301 if request.method in ("GET", "HEAD") else 308
        # The same host (checked against TRUSTED_HOSTS) and path, only the scheme
        # changes: this redirect can't leave the site.
        secure_url = "https://" + request.url.split("://", 1)[1]
        return redirect(secure_url, code=code)  # nosemgrep: open-redirect

    def add_headers(self, response: Response) -> Response:
        """``after_request``: add every security header ``response`` does not have yet."""
        headers = response.headers
        present = {name.lower() for name, _ in headers}
        for name, lower, value in self.fixed:
            if lower not in present:
                headers.add(name, value)
        if self.policy.plain and "content-security-policy" not in present:
            headers.add("Content-Security-Policy", self.policy.header(g.get("csp_nonce")))
        if request.is_secure and "strict-transport-security" not in present:
            headers.add("Strict-Transport-Security", self.hsts)
        return response


def init_headers(app: Flask) -> SecurityHeaders:
    """Build the :class:`SecurityHeaders` of ``app`` from its config and add its hooks.

    Reads ``FORCE_HTTPS``, ``HSTS_*``, ``CONTENT_SECURITY_POLICY``,
    ``CSP_REPORT_URI``, ``PERMISSIONS_POLICY``, ``REFERRER_POLICY`` and
    ``CROSS_ORIGIN_RESOURCE_POLICY``.  The redirect is off in debug and testing.

    :raises ValueError: when ``CROSS_ORIGIN_RESOURCE_POLICY`` is not one of
        :data:`CORP_VALUES`, ``None`` or ``"none"``.
    :returns: the instance, also stored as ``app.extensions["bastion.headers"]``.
    """
    headers = SecurityHeaders(app)
    headers.init_app(app)
    app.extensions["bastion.headers"] = headers
    return headers
