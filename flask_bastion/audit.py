"""A deployment checklist for the security settings, like Django's ``check --deploy``.

:class:`SecurityAudit` looks at a finished Flask config and names every
setting that is unsafe for a public deployment, with the fix.  It reads the
config only (no database, no network), so any Flask app that adopts the
security layer can run it.  Each ``check_*`` method is one rule and returns
the findings it makes; a subclass adds rules by adding methods (Bastion's
own, in :mod:`app.checks`, adds the database, migrations and assets).

The rules come from the Flask docs ("Security Considerations", "Deploying to
Production"), OWASP's cheat sheets (HTTP headers, session management,
password storage) and RFC 6797 (HSTS).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

#: Words that mark a placeholder secret rather than a random one.
PLACEHOLDER_WORDS = (
    "change",
    "secret",
    "example",
    "insecure",
    "password",
    "default",
    "dummy",
    "please",
)
#: OWASP Password Storage Cheat Sheet: argon2id with at least 19 MiB, 2 passes.
ARGON2_MIN_MEMORY_KIB = 19456
ARGON2_MIN_TIME_COST = 2
#: RFC 6797 allows any max-age; a year is what browsers' preload lists require.
HSTS_MIN_AGE = 31536000


@dataclass(frozen=True)
class Finding:
    """One unsafe or missing setting.

    :param setting: the config key (or area) at fault, e.g. ``SECRET_KEY``.
    :param problem: what is wrong, in a sentence.
    :param fix: what to set or run instead.
    :param warning: ``True`` for a gap that does not make the deployment
        unsafe (printed as WARN; ``flask check --deploy`` still exits 0).
    """

    setting: str
    problem: str
    fix: str
    warning: bool = False

    def __str__(self) -> str:
        return f"{self.setting}: {self.problem}\n    fix: {self.fix}"


class SecurityAudit:
    """Run every ``check_*`` method on ``config`` and collect the findings.

    :param config: the app's finished config (``app.config``).
    :param proxies: how many reverse proxies stand in front of the app
        (1 for the documented nginx deployment, 0 when clients connect
        directly).
    :param processes: how many processes serve the app in all (gunicorn
        workers times instances); ``None`` reads ``WEB_CONCURRENCY`` or
        gunicorn's default of 2 x cores + 1, as ``deploy/gunicorn.conf.py`` does.
    """

    def __init__(
        self, config: Mapping[str, Any], proxies: int = 1, processes: int | None = None
    ) -> None:
        self.config = config
        self.proxies = proxies
        self.processes = processes if processes is not None else default_processes()

    def rule_names(self) -> list[str]:
        """The ``check_*`` methods, base class first, each in the order it is defined."""
        names: list[str] = []
        for cls in reversed(type(self).__mro__):
            names += [name for name in vars(cls) if name.startswith("check_") and name not in names]
        return names

    def run(self) -> list[Finding]:
        """Every finding of every ``check_*`` method, in :meth:`rule_names` order."""
        findings: list[Finding] = []
        for name in self.rule_names():
            findings.extend(getattr(self, name)())
        return findings

    # --- secrets and debugging --------------------------------------------

    def check_secret_key(self) -> Iterator[Finding]:
        """``SECRET_KEY`` is set, long, varied and not a placeholder."""
        key = str(self.config.get("SECRET_KEY") or "")
        fix = 'set SECRET_KEY to  python -c "import secrets; print(secrets.token_hex(32))"'
        if not key:
            yield Finding("SECRET_KEY", "is not set: sessions and CSRF tokens can't be signed", fix)
        elif len(key) < 32:
            yield Finding("SECRET_KEY", f"is only {len(key)} characters long (32 or more)", fix)
        elif len(set(key)) < 10 or any(word in key.lower() for word in PLACEHOLDER_WORDS):
            yield Finding("SECRET_KEY", "looks like a placeholder, not a random value", fix)

    def check_debug(self) -> Iterator[Finding]:
        """Neither debug (Werkzeug's debugger runs code) nor testing mode is on."""
        if self.config.get("DEBUG"):
            yield Finding(
                "DEBUG",
                "is on: the debugger lets anyone who sees an error page run code",
                "use BASTION_CONFIG=production",
            )
        if self.config.get("TESTING"):
            yield Finding(
                "TESTING", "is on: errors propagate and checks are relaxed", "use production"
            )

    # --- hosts, proxies, HTTPS ---------------------------------------------

    def check_trusted_hosts(self) -> Iterator[Finding]:
        """``TRUSTED_HOSTS`` names the site's hosts (not ``*`` or nothing)."""
        hosts = self.config.get("TRUSTED_HOSTS")
        if not hosts or "*" in hosts:
            yield Finding(
                "TRUSTED_HOSTS",
                "accepts any Host header: password-reset links and redirects can be poisoned",
                "set TRUSTED_HOSTS=example.com,www.example.com",
            )

    def check_proxy_hops(self) -> Iterator[Finding]:
        """The ``PROXY_FIX_X_*`` hop counts match the proxies really in front."""
        for header in ("FOR", "PROTO", "HOST", "PORT", "PREFIX"):
            key = f"PROXY_FIX_X_{header}"
            hops = int(self.config.get(key) or 0)
            if hops > self.proxies:
                yield Finding(
                    key,
                    f"trusts {hops} proxies but {self.proxies} stand in front: "
                    f"clients can forge X-Forwarded-{header.title()}",
                    f"set {key}={self.proxies}",
                )
        if self.proxies >= 1 and not self.config.get("PROXY_FIX_X_FOR"):
            yield Finding(
                "PROXY_FIX_X_FOR",
                "is 0 behind a proxy: every client has the proxy's address, "
                "so all share one rate limit and the logs can't tell them apart",
                f"set PROXY_FIX_X_FOR={self.proxies} (or --proxies 0 if none)",
            )
        if (
            self.proxies >= 1
            and self.config.get("FORCE_HTTPS")
            and not self.config.get("PROXY_FIX_X_PROTO")
        ):
            yield Finding(
                "PROXY_FIX_X_PROTO",
                "is 0 behind a TLS proxy: every request looks like http, "
                "so the HTTPS redirect loops",
                f"set PROXY_FIX_X_PROTO={self.proxies}",
            )
        if self.config.get("PATH_PREFIX") and self.config.get("PROXY_FIX_X_PREFIX"):
            yield Finding(
                "PATH_PREFIX",
                "and PROXY_FIX_X_PREFIX are both set: the prefix would be applied twice",
                "keep one of them",
            )

    def check_https(self) -> Iterator[Finding]:
        """HTTPS is forced, HSTS lasts a year, external URLs use https."""
        if not self.config.get("FORCE_HTTPS"):
            yield Finding(
                "FORCE_HTTPS",
                "is off: pages and cookies can travel over plain http",
                "set FORCE_HTTPS=true",
            )
        if int(self.config.get("HSTS_MAX_AGE") or 0) < HSTS_MIN_AGE:
            yield Finding(
                "HSTS_MAX_AGE",
                "is under a year: browsers forget to insist on HTTPS too soon",
                f"set HSTS_MAX_AGE={HSTS_MIN_AGE}",
            )
        if self.config.get("PREFERRED_URL_SCHEME") != "https":
            yield Finding(
                "PREFERRED_URL_SCHEME",
                "is not https: links built outside a request (emails) use http",
                "set PREFERRED_URL_SCHEME=https",
            )

    # --- cookies, CSRF, request limits ---------------------------------------

    def check_cookies(self) -> Iterator[Finding]:
        """Session and remember-me cookies are Secure, HttpOnly and SameSite."""
        for prefix in ("SESSION", "REMEMBER"):
            if not self.config.get(f"{prefix}_COOKIE_SECURE", True):
                yield Finding(
                    f"{prefix}_COOKIE_SECURE",
                    "is off: the cookie is also sent over plain http",
                    f"set {prefix}_COOKIE_SECURE=true",
                )
            if not self.config.get(f"{prefix}_COOKIE_HTTPONLY", True):
                yield Finding(
                    f"{prefix}_COOKIE_HTTPONLY",
                    "is off: scripts can read the cookie",
                    f"set {prefix}_COOKIE_HTTPONLY=true",
                )
        if self.config.get("SESSION_COOKIE_SAMESITE") not in ("Lax", "Strict"):
            yield Finding(
                "SESSION_COOKIE_SAMESITE",
                "is neither Lax nor Strict: other sites' requests carry the session",
                "set SESSION_COOKIE_SAMESITE=Lax",
            )

    def check_csrf_and_limits(self) -> Iterator[Finding]:
        """CSRF protection and request-size limits are on."""
        if not self.config.get("WTF_CSRF_ENABLED", True):
            yield Finding("WTF_CSRF_ENABLED", "is off: forms can be forged", "remove the setting")
        if not self.config.get("MAX_CONTENT_LENGTH"):
            yield Finding(
                "MAX_CONTENT_LENGTH",
                "is unlimited: one request can fill the memory",
                "set MAX_CONTENT_LENGTH=1048576",
            )

    def check_rate_limits(self) -> Iterator[Finding]:
        """Rate limits are on and shared by every process."""
        if not self.config.get("RATELIMIT_ENABLED", True):
            yield Finding(
                "RATELIMIT_ENABLED",
                "is off: sign-in can be brute-forced",
                "set RATELIMIT_ENABLED=true",
            )
        elif (
            str(self.config.get("RATELIMIT_STORAGE_URI", "")).startswith("memory://")
            and self.processes > 1
        ):
            yield Finding(
                "RATELIMIT_STORAGE_URI",
                f"keeps counts in memory with {self.processes} processes: each counts "
                f"on its own, so clients get {self.processes} times every limit",
                "set RATELIMIT_STORAGE_URI=redis://host:6379/0",
            )

    def check_passwords(self) -> Iterator[Finding]:
        """Password hashing and length meet OWASP's and NIST's minimums."""
        memory = int(self.config.get("ARGON2_MEMORY_COST") or 0)
        time_cost = int(self.config.get("ARGON2_TIME_COST") or 0)
        if "ARGON2_MEMORY_COST" in self.config and (
            memory < ARGON2_MIN_MEMORY_KIB or time_cost < ARGON2_MIN_TIME_COST
        ):
            yield Finding(
                "ARGON2_MEMORY_COST",
                f"argon2id with {memory} KiB and {time_cost} passes is below OWASP's "
                f"minimum ({ARGON2_MIN_MEMORY_KIB} KiB, {ARGON2_MIN_TIME_COST} passes)",
                "remove ARGON2_* settings to use the defaults (65536 KiB, 3 passes)",
            )
        if "PASSWORD_MIN_LENGTH" in self.config and int(self.config["PASSWORD_MIN_LENGTH"]) < 8:
            yield Finding(
                "PASSWORD_MIN_LENGTH",
                "is under 8, NIST SP 800-63B's minimum",
                "set PASSWORD_MIN_LENGTH=12",
            )

    # --- vulnerability reports (RFC 9116) --------------------------------------

    def check_security_contact(self) -> Iterator[Finding]:
        """``SECURITY_CONTACT`` is set to a URI RFC 9116 allows; ``Expires`` is in the future.

        An unset contact is a warning (``/.well-known/security.txt`` answers
        404, so a finder has nowhere to report); an ``http://`` contact or a
        malformed or past ``SECURITY_TXT_EXPIRES`` is a failure.
        """
        import datetime as dt

        from .security_txt import invalid_contacts, parse_expires

        contact = self.config.get("SECURITY_CONTACT")
        if not contact:
            yield Finding(
                "SECURITY_CONTACT",
                "is not set: /.well-known/security.txt answers 404, so whoever finds "
                "a vulnerability has no address to report it to (RFC 9116)",
                "set SECURITY_CONTACT=mailto:security@example.com (or an https:// form)",
                warning=True,
            )
        for uri in invalid_contacts(contact):
            yield Finding(
                "SECURITY_CONTACT",
                f"{uri!r} is not a mailto:, https:// or tel: URI (RFC 9116 section 2.5.3)",
                "set SECURITY_CONTACT=mailto:security@example.com",
            )
        expires = self.config.get("SECURITY_TXT_EXPIRES")
        if expires:
            try:
                when = parse_expires(str(expires))
            except ValueError:
                yield Finding(
                    "SECURITY_TXT_EXPIRES",
                    f"{expires!r} is not an RFC 3339 date-time with a zone",
                    "set SECURITY_TXT_EXPIRES=2027-06-30T00:00:00Z, or remove it",
                )
                return
            if when <= dt.datetime.now(dt.UTC):
                yield Finding(
                    "SECURITY_TXT_EXPIRES",
                    "is in the past: readers must ignore an expired security.txt",
                    "set a date less than a year ahead, or remove it (today + 180 days)",
                )


def default_processes() -> int:
    """Worker processes of one gunicorn instance: ``WEB_CONCURRENCY`` or 2 x cores + 1."""
    raw = os.environ.get("WEB_CONCURRENCY", "").strip()
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    return multiprocessing.cpu_count() * 2 + 1
