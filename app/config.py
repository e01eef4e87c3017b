"""Configuration classes, read from the environment.

Every setting is a Flask config key that can also be set by an environment
variable of the same name (a ``.env`` file in the project root is loaded
first by :func:`app.create_app`).  ``BASTION_CONFIG`` picks the class:
``development`` (``make run``), ``testing`` (the test suite) or
``production`` (the default under gunicorn).

Lists are comma-separated (``TRUSTED_HOSTS=example.com,.example.org``),
booleans are ``1/true/yes/on`` or ``0/false/no/off``, sizes are bytes and
durations are seconds.  The README lists every setting.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask_bastion.defaults import SecurityDefaults
from flask_bastion.ratelimit import limits_setting

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_PATH = PROJECT_ROOT / "instance"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}

#: Environment variables that feed a config key of another name.
ENV_ALIASES = {"DATABASE_URL": "SQLALCHEMY_DATABASE_URI"}

#: Types of settings whose default is ``None`` (so the type can't be inferred).
SETTING_TYPES: dict[str, type] = {
    "SECRET_KEY": str,
    "TRUSTED_HOSTS": list,
    "CSP_REPORT_URI": str,
    "MAX_CONTENT_LENGTH": int,
    "MAX_FORM_MEMORY_SIZE": int,
    "MAX_FORM_PARTS": int,
    "WTF_CSRF_TIME_LIMIT": int,
    "SERVER_NAME": str,
    "MAIL_URL": str,
    "JOBS_REDIS_URL": str,
    "WEBAUTHN_RP_ID": str,
    "WEBAUTHN_RP_NAME": str,
    "WEBAUTHN_ORIGIN": str,
}


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the application must not start."""


def parse_setting(name: str, raw: str, kind: type) -> Any:
    """Convert the text of environment variable ``name`` to ``kind``.

    :param name: the setting's name, used in error messages.
    :param raw: the variable's text.
    :param kind: ``bool``, ``int`` (bytes, seconds or a count; ``none`` for
        no limit), ``list`` (comma-separated) or ``str``.
    :returns: the converted value.
    :raises ConfigError: when the text does not fit the type.
    """
    text = raw.strip()
    if kind is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ConfigError(f"{name} must be true or false, got {raw!r}")
    if kind is int:
        if text.lower() in {"", "none"}:
            return None
        try:
            value = int(text.replace("_", ""))
        except ValueError:
            raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
        if value < 0:
            raise ConfigError(f"{name} must not be negative, got {value}")
        return value
    if kind is list:
        return [item.strip() for item in text.split(",") if item.strip()]
    return text or None


#: Never taken from the environment: a stray ``DEBUG=1`` in a production
#: shell must not switch on Werkzeug's debugger (remote code execution).
NOT_FROM_ENVIRONMENT = frozenset({"DEBUG", "TESTING", "ENV_NAME"})


def settable_keys(config_class: type) -> frozenset[str]:
    """The settings of ``config_class`` that environment variables may set."""
    return frozenset(
        name for name in dir(config_class) if name.isupper() and name not in NOT_FROM_ENVIRONMENT
    )


def apply_environment(
    config: dict[str, Any], environ: Mapping[str, str], allowed: frozenset[str]
) -> None:
    """Overlay environment variables on ``config`` (a Flask ``Config``).

    Every key in ``allowed`` (see :func:`settable_keys`) can be set by an
    environment variable of the same name; ``DATABASE_URL`` sets
    ``SQLALCHEMY_DATABASE_URI``.  Dict-valued settings (such as the CSP) are
    set in code, not from the environment.

    :param config: the mapping to update in place.
    :param environ: usually ``os.environ``.
    :param allowed: the keys that may be set.
    :raises ConfigError: for a value of the wrong type.
    """
    for env_name, raw in environ.items():
        key = ENV_ALIASES.get(env_name, env_name)
        if key not in allowed:
            continue
        default = config[key]
        if isinstance(default, dict):
            continue
        kind = SETTING_TYPES.get(key) or (type(default) if default is not None else str)
        if kind not in (bool, int, list):
            kind = str
        config[key] = parse_setting(env_name, raw, kind)


def _dev_secret_key() -> str:
    """A random development key kept in ``instance/secret_key`` (git-ignored).

    Generated on first use so that no key is ever committed and sessions
    survive the reloader.  Never used in production.
    """
    path = INSTANCE_PATH / "secret_key"
    if not path.exists():
        INSTANCE_PATH.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip()


class Config(SecurityDefaults):
    """Defaults shared by every environment (safe for production).

    The security layer's own settings (headers, proxy, rate limits, user
    agents, request log, password hashing) come from
    :class:`flask_bastion.defaults.SecurityDefaults`, the defaults it also
    gives any other Flask app that adopts it.
    """

    ENV_NAME = "base"
    DEBUG = False
    TESTING = False

    SECRET_KEY: str | None = None
    #: Former keys, still accepted after a rotation (Flask 3.1 sessions; two-factor secrets).
    SECRET_KEY_FALLBACKS: list[str] = []

    # --- database -------------------------------------------------------
    SQLALCHEMY_DATABASE_URI = f"sqlite:///{INSTANCE_PATH / 'bastion.db'}"
    # No pool_pre_ping (a round trip per request): app.outages checks each
    # connection's socket at checkout instead.
    SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = {}
    SQLALCHEMY_TRACK_MODIFICATIONS = False

    # --- sessions and cookies (Flask docs, "Security Considerations") ---
    SESSION_COOKIE_SECURE = True
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_NAME = "session"
    PERMANENT_SESSION_LIFETIME = 7 * 24 * 3600

    # --- accounts (Flask-Login, argon2-cffi) ----------------------------
    SESSION_PROTECTION = "strong"
    REMEMBER_COOKIE_NAME = "remember_token"
    REMEMBER_COOKIE_DURATION = 14 * 24 * 3600
    REMEMBER_COOKIE_SECURE = True
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    SIGNIN_RATE_LIMIT = "5 per minute; 20 per hour"
    REGISTER_RATE_LIMIT = "5 per hour"
    #: Administrators must turn on two-factor sign-in before reaching any other page.
    REQUIRE_2FA_FOR_ADMINS = False
    API_KEY_RATE_LIMIT = "10 per hour"
    #: Requests to /api/ per API key (per client address without a key), on top of the default.
    API_RATE_LIMIT = "1000 per hour"
    #: Days an account's security-log entries are kept (``flask purge`` removes older ones).
    SECURITY_LOG_RETENTION_DAYS = 365
    #: Passkeys (WebAuthn): the relying party id, a registrable domain such as ``example.com``;
    #: ``None``: the request's host name (after ProxyFix). Passkeys only work under it.
    WEBAUTHN_RP_ID: str | None = None
    #: The name authenticators show for the site; ``None``: ``SITE_NAME``.
    WEBAUTHN_RP_NAME: str | None = None
    #: The origin(s) browsers must report (``https://example.com``), comma-separated;
    #: ``None``: the request's scheme and host (after ProxyFix).
    WEBAUTHN_ORIGIN: str | None = None

    # --- mail and background jobs (app.mail, app.jobs) -------------------
    #: console://, file://<dir>, memory://, smtp://user:pass@host:587 (STARTTLS) or
    #: smtps://user:pass@host:465.  ``None`` (unset): console:// and a warning from
    #: ``flask check --deploy`` (production should send real mail).
    MAIL_URL: str | None = None
    MAIL_FROM = "Bastion <no-reply@localhost>"
    #: Seconds an SMTP connection may take (connect, each command).
    MAIL_TIMEOUT = 15
    #: Redis of the job queue; empty: RATELIMIT_STORAGE_URI's; memory://: no queue (in process).
    JOBS_REDIS_URL: str | None = None
    JOBS_QUEUE = "bastion"
    #: Seconds before each retry of a failed job (so 3 retries by default).
    JOBS_RETRY_INTERVALS = ["10", "60", "300"]
    #: Seconds a job that failed for good stays in the failed registry (flask jobs list).
    JOBS_FAILED_TTL = 30 * 24 * 3600
    #: Seconds a job may run before the worker kills it.
    JOBS_TIMEOUT = 60
    #: Seconds a password-reset link works (it also dies when used or the password changes).
    PASSWORD_RESET_MAX_AGE = 3600
    #: Seconds an email-confirmation link works.
    EMAIL_CONFIRM_MAX_AGE = 3 * 24 * 3600
    #: Seconds a link that moves an account to a new address works (it also dies when used).
    EMAIL_CHANGE_MAX_AGE = 24 * 3600
    #: Seconds a browser stays "known" to an account after a sign-in (app.auth.new_device):
    #: a sign-in from a browser without that mark mails the owner.
    KNOWN_DEVICE_MAX_AGE = 365 * 24 * 3600
    #: Requests for a reset or confirmation mail, per address and per client.
    MAIL_RATE_LIMIT = "3 per hour; 10 per day"

    # --- CSRF (Flask-WTF) ------------------------------------------------
    WTF_CSRF_TIME_LIMIT = 3600
    WTF_CSRF_SSL_STRICT = True

    # --- request limits (Flask docs, "Configuration Handling") -----------
    MAX_CONTENT_LENGTH = 1024 * 1024
    MAX_FORM_MEMORY_SIZE = 500 * 1024
    MAX_FORM_PARTS = 1000
    TRUSTED_HOSTS: list[str] | None = None

    # --- compression (Flask-Compress) -----------------------------------
    COMPRESS_ALGORITHM = ["zstd", "br", "gzip", "deflate"]
    # Pages are compressed per request: brotli 1 takes half the time of 3
    # (27 against 53 us for the home page's 8.7 KB) for 6% more bytes (2,474
    # against 2,343); quality 2 and up clear a 256 KB hash table per response.
    # The built bundles are compressed once, at 11 (app/assets.py).
    COMPRESS_BR_LEVEL = 1
    COMPRESS_LEVEL = 6
    COMPRESS_MIN_SIZE = 500
    COMPRESS_MIMETYPES = [
        "text/html",
        "text/css",
        "text/plain",
        "text/xml",
        "text/javascript",
        "application/javascript",
        "application/json",
        "application/problem+json",
        "application/xml",
        "image/svg+xml",
    ]

    # --- assets (Flask-Assets / webassets) --------------------------------
    ASSETS_AUTO_BUILD = False
    ASSETS_DEBUG = False
    ASSETS_URL_EXPIRE = False
    ASSETS_CACHE = False
    ASSETS_MANIFEST = "precompressed-json:dist/manifest.json"  # app.assets.PrecompressingManifest
    ASSETS_BUILD_ON_START = False
    # Keep /*! license */ comments (Bootstrap's MIT notice) when minifying.
    RCSSMIN_KEEP_BANG_COMMENTS = True
    RJSMIN_KEEP_BANG_COMMENTS = True
    STATIC_IMMUTABLE_MAX_AGE = 31536000

    # --- URLs -------------------------------------------------------------
    SERVER_NAME: str | None = None
    PREFERRED_URL_SCHEME = "https"

    # --- logging -----------------------------------------------------------
    LOG_LEVEL = "INFO"

    # --- UI -------------------------------------------------------------
    SITE_NAME = "Bastion"
    # Seconds an anonymous visitor's list page is served from a worker's memory
    # (app.views.page_cache; any commit in the process clears it); 0: never.
    LIST_CACHE_SECONDS = 1
    BOOTSTRAP_SERVE_LOCAL = True

    @classmethod
    def validate(cls, config: dict[str, Any]) -> None:
        """Check a finished config mapping; raise :class:`ConfigError` if unsafe."""
        for directive, sources in config["CONTENT_SECURITY_POLICY"].items():
            if "unsafe-inline" in sources or "unsafe-eval" in sources:
                raise ConfigError(
                    f"CONTENT_SECURITY_POLICY {directive} allows 'unsafe-*'; "
                    "Bastion's CSP is nonce-based and refuses to start with it"
                )
        # Bastion's own limits (the extension checks RATELIMIT_DEFAULT and the
        # storage URI when it starts; views read these on each request).
        for name in (
            "SIGNIN_RATE_LIMIT",
            "REGISTER_RATE_LIMIT",
            "API_KEY_RATE_LIMIT",
            "API_RATE_LIMIT",
            "MAIL_RATE_LIMIT",
        ):
            try:
                limits_setting(name, config.get(name))
            except ValueError as error:
                raise ConfigError(str(error)) from None
        from app.mail import MailError, check_mail_url

        try:
            check_mail_url(str(config.get("MAIL_URL") or "console://"))
        except MailError as error:
            raise ConfigError(str(error)) from None


class DevelopmentConfig(Config):
    """``make run`` on a laptop: plain http on 127.0.0.1, debug on."""

    ENV_NAME = "development"
    DEBUG = True
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_SECURE = False
    FORCE_HTTPS = False
    PREFERRED_URL_SCHEME = "http"
    TRUSTED_HOSTS = ["127.0.0.1", "localhost"]
    ASSETS_AUTO_BUILD = True
    MAIL_URL = "console://"


class TestingConfig(Config):
    """The pytest suite: in-memory SQLite and rate-limit storage."""

    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = secrets.token_hex(32)  # random per test run: nothing committed
    SQLALCHEMY_DATABASE_URI = "sqlite://"
    SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = {}
    FORCE_HTTPS = False
    PREFERRED_URL_SCHEME = "http"
    TRUSTED_HOSTS = ["localhost", "127.0.0.1"]
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_ENABLED = False
    # Fast hashing for tests only (argon2's minimum memory is 8 KiB per lane).
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 8
    ARGON2_PARALLELISM = 1
    ASSETS_AUTO_BUILD = False
    ASSETS_BUILD_ON_START = True
    REQUEST_LOG = True
    MAIL_URL = "memory://"
    JOBS_REDIS_URL = "memory://"


class ProductionConfig(Config):
    """gunicorn behind nginx; refuses to start without the settings it needs."""

    ENV_NAME = "production"
    REQUIRE_2FA_FOR_ADMINS = True

    @classmethod
    def validate(cls, config: dict[str, Any]) -> None:
        """Refuse to start without ``SECRET_KEY`` and ``TRUSTED_HOSTS``.

        :raises ConfigError: naming the missing setting.
        """
        super().validate(config)
        key = config.get("SECRET_KEY")
        if not key:
            raise ConfigError(
                "SECRET_KEY is not set. Production refuses to start without it: "
                'generate one with  python -c "import secrets; print(secrets.token_hex(32))"'
            )
        if len(key) < 32:
            raise ConfigError("SECRET_KEY is too short: use at least 32 random characters")
        if not config.get("TRUSTED_HOSTS"):
            raise ConfigError(
                "TRUSTED_HOSTS is not set. Production refuses to start without it: "
                "set it to the host names this site answers to, comma-separated "
                "(for example TRUSTED_HOSTS=example.com,www.example.com)"
            )


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def select_config(name: str | None = None) -> type[Config]:
    """Return the config class named by ``name`` or ``BASTION_CONFIG``.

    Defaults to ``production`` so that a forgotten variable fails closed.

    :raises ConfigError: for an unknown name.
    """
    name = (name or os.environ.get("BASTION_CONFIG") or "production").strip().lower()
    try:
        return CONFIGS[name]
    except KeyError:
        raise ConfigError(
            f"BASTION_CONFIG must be one of {', '.join(CONFIGS)}, got {name!r}"
        ) from None


def load_dev_secret_key(config: dict[str, Any]) -> None:
    """Fill ``SECRET_KEY`` for development from ``instance/secret_key``."""
    if config.get("ENV_NAME") == "development" and not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = _dev_secret_key()
