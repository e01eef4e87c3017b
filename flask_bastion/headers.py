"""Security headers through Flask-Talisman, plus the few it does not set.

Talisman sets: the HTTPS redirect, HSTS (only on HTTPS responses, as RFC 6797
section 7.2 requires), the Content-Security-Policy with a per-request nonce
in ``script-src``, X-Frame-Options, X-Content-Type-Options, Referrer-Policy,
Permissions-Policy and the session cookie flags.

Added here:

* ``X-XSS-Protection: 0``: OWASP's HTTP Headers Cheat Sheet advises turning
  the legacy XSS auditor off; it is gone from modern browsers, and where it
  exists its "block" mode could be abused to leak data.  The CSP is the real
  protection.
* ``Cross-Origin-Opener-Policy: same-origin``: the page gets its own browsing
  context group, so a cross-origin window it opens (or that opens it) can't
  reach it through ``window.opener`` (protects against XS-Leaks).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response
from flask_talisman import Talisman

F = TypeVar("F", bound=Callable[..., Any])

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


def init_headers(app: Flask) -> Talisman:
    """Bind a new :class:`Talisman` to ``app`` from its config.

    Reads ``FORCE_HTTPS``, ``HSTS_*``, ``CONTENT_SECURITY_POLICY``,
    ``CSP_REPORT_URI``, ``PERMISSIONS_POLICY``, ``REFERRER_POLICY`` and
    ``SESSION_COOKIE_SECURE``.  The redirect is off in debug and testing.

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
        content_security_policy=dict(config["CONTENT_SECURITY_POLICY"]),
        content_security_policy_nonce_in=["script-src"],
        content_security_policy_report_uri=config["CSP_REPORT_URI"],
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

    @app.after_request
    def _extra_headers(response: Response) -> Response:
        headers = response.headers
        for name, value in EXTRA_HEADERS.items():
            # Plain assignment: Headers.setdefault looks the name up through a
            # raised and caught KeyError, twice per request.
            headers[name] = value
        return response

    return talisman
