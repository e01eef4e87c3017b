"""The security layer's settings and their defaults (safe for production).

:meth:`flask_bastion.Bastion.init_app` puts each of these into ``app.config``
with ``setdefault``, so a Flask app that adopts the layer needs none of
Bastion's config classes: what it sets wins, the rest is filled from here.
Bastion's own :class:`app.config.Config` inherits them, so each default is
written once.  Settings Flask itself defines (``SESSION_COOKIE_SECURE``,
``MAX_CONTENT_LENGTH``, ``TRUSTED_HOSTS``...) keep Flask's defaults in an
adopting app; Bastion's ``Config`` sets safer ones.
"""

from __future__ import annotations

import copy
from typing import Any


class SecurityDefaults:
    """Every setting the security layer reads that Flask does not define."""

    # --- HTTPS and headers (flask_bastion.headers) -----------------------
    FORCE_HTTPS = True
    HSTS_MAX_AGE = 31536000  # seconds: one year (RFC 6797; what preload lists ask)
    HSTS_INCLUDE_SUBDOMAINS = True
    HSTS_PRELOAD = False
    CSP_REPORT_URI: str | None = None
    # default-src 'none': anything not named below (frames, media, workers,
    # manifests, plugins) is refused; each kind the pages use is allowed
    # explicitly (MDN HTTP Observatory, "Content Security Policy").
    CONTENT_SECURITY_POLICY: dict[str, str] = {
        "default-src": "'none'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": "'self' data:",
        "font-src": "'self'",
        "connect-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'self'",
        "frame-ancestors": "'self'",
    }
    PERMISSIONS_POLICY = (
        "accelerometer=(), autoplay=(), browsing-topics=(), camera=(), "
        "display-capture=(), geolocation=(), gyroscope=(), magnetometer=(), "
        "microphone=(), midi=(), payment=(), usb=(), xr-spatial-tracking=()"
    )
    REFERRER_POLICY = "strict-origin-when-cross-origin"
    # Other sites can't load our responses as images, scripts or frames
    # (Fetch standard, CORP; Spectre-style cross-origin reads). An app that
    # serves files to other sites sets "same-site" or "cross-origin"; None
    # sends no header.
    CROSS_ORIGIN_RESOURCE_POLICY: str | None = "same-origin"

    # --- /.well-known/security.txt (RFC 9116; flask_bastion.security_txt) --
    SECURITY_CONTACT: str | None = None  # unset: 404 and a `check --deploy` warning
    SECURITY_TXT_EXPIRES: str | None = None  # RFC 3339; unset: today + SECURITY_TXT_DAYS
    SECURITY_TXT_DAYS = 180
    SECURITY_TXT_LANGUAGES = "en"
    SECURITY_POLICY_URL: str | None = None

    # --- password hashing (argon2id; OWASP Password Storage Cheat Sheet) --
    ARGON2_TIME_COST = 3
    ARGON2_MEMORY_COST = 65536  # KiB
    ARGON2_PARALLELISM = 4
    PASSWORD_MIN_LENGTH = 12  # NIST SP 800-63B asks for at least 8

    # --- request hygiene ---------------------------------------------------
    BLOCKED_USER_AGENTS: list[str] = [
        "sqlmap",
        "nikto",
        "nmap",
        "masscan",
        "zgrab",
        "acunetix",
        "netsparker",
        "wpscan",
    ]
    REQUEST_LOG = True

    # --- reverse proxy (Werkzeug ProxyFix), trust nothing by default -----
    PROXY_FIX_X_FOR = 0
    PROXY_FIX_X_PROTO = 0
    PROXY_FIX_X_HOST = 0
    PROXY_FIX_X_PORT = 0
    PROXY_FIX_X_PREFIX = 0
    PATH_PREFIX = ""

    # --- compression (Flask-Compress; flask_bastion.compression) ---------
    # Flask-Compress's own pass re-evaluates every GET; init_compression
    # re-evaluates only the responses that carry a validator (ETag or
    # Last-Modified).
    COMPRESS_EVALUATE_CONDITIONAL_REQUEST = False

    # --- error pages -------------------------------------------------------
    BASTION_ERROR_TEMPLATE = "bastion/error.html"

    # --- rate limits (flask_bastion.ratelimit) --------------------------
    RATELIMIT_ENABLED = True
    RATELIMIT_DEFAULT = "2 per second; 60 per minute"
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_STORAGE_OPTIONS: dict[str, Any] = {
        "socket_connect_timeout": 0.5,  # seconds
        "socket_timeout": 0.5,
    }
    RATELIMIT_HEADERS_ENABLED = True
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_KEY_PREFIX = "bastion"


def apply_defaults(config: dict[str, Any]) -> None:
    """``config.setdefault`` every :class:`SecurityDefaults` setting (copies, not shared)."""
    for name in dir(SecurityDefaults):
        if name.isupper():
            config.setdefault(name, copy.deepcopy(getattr(SecurityDefaults, name)))
