"""Security headers through Flask-Talisman, plus the CSP and the few it does not set.

Talisman sets: the HTTPS redirect, HSTS (only on HTTPS responses, as RFC 6797
section 7.2 requires), X-Frame-Options, X-Content-Type-Options,
Referrer-Policy, Permissions-Policy and the session cookie flags.

Added here:

* ``Content-Security-Policy`` (:class:`ContentSecurityPolicy`): the policy
  string is built once per app, not on every response as Talisman does (a
  tenth of a health check's time); the nonce (192 random bits, base64url) is
  made when a template first calls ``csp_nonce()`` and put in ``script-src``
  (CSP Level 3, "nonce-source").  A response that rendered no template with
  a script (JSON, a redirect) gets the same policy without a nonce: only our
  own files run there too.

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
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from flask import Flask, Response, g
from flask_talisman import Talisman

F = TypeVar("F", bound=Callable[..., Any])

#: The values ``Cross-Origin-Resource-Policy`` may take (Fetch standard).
CORP_VALUES = frozenset({"same-origin", "same-site", "cross-origin"})

EXTRA_HEADERS = {
    "X-XSS-Protection": "0",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def no_https_redirect(view: F) -> F:
    """Mark ``view`` as exempt from the HTTPS redirect (health checks over plain http).

    Headers (CSP, HSTS on HTTPS, ...) still apply.
    """
    options = dict(getattr(view, "talisman_view_options", {}))
    options["force_https"] = False
    view.talisman_view_options = options  # type: ignore[attr-defined]
    return view


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


def init_headers(app: Flask) -> Talisman:
    """Bind a new :class:`Talisman` to ``app`` from its config.

    Reads ``FORCE_HTTPS``, ``HSTS_*``, ``CONTENT_SECURITY_POLICY``,
    ``CSP_REPORT_URI``, ``PERMISSIONS_POLICY``, ``REFERRER_POLICY``,
    ``CROSS_ORIGIN_RESOURCE_POLICY`` and ``SESSION_COOKIE_SECURE``.  The
    redirect is off in debug and testing.
    The CSP is ours (:class:`ContentSecurityPolicy`), so Talisman gets none.

    :raises ValueError: when ``CROSS_ORIGIN_RESOURCE_POLICY`` is not one of
        :data:`CORP_VALUES`, ``None`` or ``"none"``.
    :returns: the Talisman instance, also stored as ``app.extensions["talisman"]``.
    """
    config = app.config
    talisman = Talisman()
    talisman.init_app(
        app,
        force_https=bool(config["FORCE_HTTPS"]) and not app.debug and not app.testing,
        force_https_permanent=True,
        strict_transport_security=True,
        strict_transport_security_max_age=config["HSTS_MAX_AGE"],
        strict_transport_security_include_subdomains=config["HSTS_INCLUDE_SUBDOMAINS"],
        strict_transport_security_preload=config["HSTS_PRELOAD"],
        content_security_policy=None,
        permissions_policy=config["PERMISSIONS_POLICY"],
        referrer_policy=config["REFERRER_POLICY"],
        frame_options="SAMEORIGIN",
        session_cookie_secure=config["SESSION_COOKIE_SECURE"],
        session_cookie_http_only=True,
        session_cookie_samesite=config["SESSION_COOKIE_SAMESITE"],
        x_content_type_options=True,
        x_xss_protection=False,
    )
    # Talisman forces SESSION_COOKIE_SECURE on outside debug; keep our setting.
    app.config["SESSION_COOKIE_SECURE"] = config["SESSION_COOKIE_SECURE"]
    app.extensions["talisman"] = talisman
    policy = ContentSecurityPolicy(
        config["CONTENT_SECURITY_POLICY"] or {}, report_uri=config["CSP_REPORT_URI"]
    )
    app.jinja_env.globals["csp_nonce"] = csp_nonce  # in place of Talisman's
    extra_headers = dict(EXTRA_HEADERS)
    corp = config["CROSS_ORIGIN_RESOURCE_POLICY"]
    if isinstance(corp, str) and corp.strip().lower() in ("", "none"):
        corp = None  # as an environment variable: CROSS_ORIGIN_RESOURCE_POLICY=none
    if corp:
        if corp not in CORP_VALUES:
            raise ValueError(
                f"CROSS_ORIGIN_RESOURCE_POLICY must be one of {sorted(CORP_VALUES)} "
                f"or None, got {corp!r}"
            )
        extra_headers["Cross-Origin-Resource-Policy"] = corp

    @app.after_request
    def _extra_headers(response: Response) -> Response:
        headers = response.headers
        if policy.plain:
            headers["Content-Security-Policy"] = policy.header(g.get("csp_nonce"))
        for name, value in extra_headers.items():
            # Plain assignment: Headers.setdefault looks the name up through a
            # raised and caught KeyError, twice per request.
            headers[name] = value
        return response

    return talisman
