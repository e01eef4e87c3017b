"""``flask check --deploy``: every unsafe setting is named with its fix."""

from __future__ import annotations

import pytest

from flask_bastion.audit import SecurityAudit
from tests.conftest import make_app
from tests.test_commands import KEY, flask, production
from tests.test_config import clean_env

#: What the README's production section sets, as the app sees it.
SAFE = {
    "SECRET_KEY": KEY,
    "DEBUG": False,
    "TESTING": False,
    "TRUSTED_HOSTS": ["example.com"],
    "PROXY_FIX_X_FOR": 1,
    "PROXY_FIX_X_PROTO": 1,
    "PROXY_FIX_X_HOST": 0,
    "PROXY_FIX_X_PORT": 0,
    "PROXY_FIX_X_PREFIX": 0,
    "PATH_PREFIX": "",
    "FORCE_HTTPS": True,
    "HSTS_MAX_AGE": 31536000,
    "PREFERRED_URL_SCHEME": "https",
    "SESSION_COOKIE_SECURE": True,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_SECURE": True,
    "REMEMBER_COOKIE_HTTPONLY": True,
    "WTF_CSRF_ENABLED": True,
    "MAX_CONTENT_LENGTH": 1048576,
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_STORAGE_URI": "fallback+redis://127.0.0.1:6379/0",
    "ARGON2_MEMORY_COST": 65536,
    "ARGON2_TIME_COST": 3,
    "PASSWORD_MIN_LENGTH": 12,
    "SECURITY_CONTACT": "mailto:security@example.com",
}


def audit(proxies: int = 1, processes: int = 5, **overrides) -> list[str]:
    config = {**SAFE, **overrides}
    return [f.setting for f in SecurityAudit(config, proxies, processes).run()]


def test_the_documented_production_settings_pass():
    assert audit() == []


@pytest.mark.parametrize(
    ("overrides", "setting"),
    [
        ({"SECRET_KEY": None}, "SECRET_KEY"),
        ({"SECRET_KEY": "abc123"}, "SECRET_KEY"),
        ({"SECRET_KEY": "k" * 64}, "SECRET_KEY"),
        ({"SECRET_KEY": "please-change-me-0123456789abcdefghij"}, "SECRET_KEY"),
        ({"DEBUG": True}, "DEBUG"),
        ({"TESTING": True}, "TESTING"),
        ({"TRUSTED_HOSTS": None}, "TRUSTED_HOSTS"),
        ({"TRUSTED_HOSTS": ["example.com", "*"]}, "TRUSTED_HOSTS"),
        ({"PROXY_FIX_X_FOR": 2}, "PROXY_FIX_X_FOR"),
        ({"PROXY_FIX_X_HOST": 3}, "PROXY_FIX_X_HOST"),
        ({"PROXY_FIX_X_FOR": 0}, "PROXY_FIX_X_FOR"),
        ({"PROXY_FIX_X_PROTO": 0}, "PROXY_FIX_X_PROTO"),
        ({"PATH_PREFIX": "/app", "PROXY_FIX_X_PREFIX": 1}, "PATH_PREFIX"),
        ({"FORCE_HTTPS": False}, "FORCE_HTTPS"),
        ({"HSTS_MAX_AGE": 3600}, "HSTS_MAX_AGE"),
        ({"PREFERRED_URL_SCHEME": "http"}, "PREFERRED_URL_SCHEME"),
        ({"SESSION_COOKIE_SECURE": False}, "SESSION_COOKIE_SECURE"),
        ({"REMEMBER_COOKIE_HTTPONLY": False}, "REMEMBER_COOKIE_HTTPONLY"),
        ({"SESSION_COOKIE_SAMESITE": None}, "SESSION_COOKIE_SAMESITE"),
        ({"WTF_CSRF_ENABLED": False}, "WTF_CSRF_ENABLED"),
        ({"MAX_CONTENT_LENGTH": None}, "MAX_CONTENT_LENGTH"),
        ({"RATELIMIT_ENABLED": False}, "RATELIMIT_ENABLED"),
        ({"RATELIMIT_STORAGE_URI": "memory://"}, "RATELIMIT_STORAGE_URI"),
        ({"ARGON2_MEMORY_COST": 8}, "ARGON2_MEMORY_COST"),
        ({"PASSWORD_MIN_LENGTH": 6}, "PASSWORD_MIN_LENGTH"),
    ],
)
def test_each_unsafe_setting_is_named(overrides, setting):
    assert audit(**overrides) == [setting]


def test_proxies_are_counted_against_the_option():
    assert audit(proxies=0, PROXY_FIX_X_FOR=0, PROXY_FIX_X_PROTO=0) == []
    assert audit(proxies=0) == ["PROXY_FIX_X_FOR", "PROXY_FIX_X_PROTO"]
    assert audit(proxies=2, PROXY_FIX_X_FOR=2, PROXY_FIX_X_PROTO=2) == []


def test_memory_storage_is_fine_for_a_single_process():
    assert audit(processes=1, RATELIMIT_STORAGE_URI="memory://") == []


def test_processes_default_to_web_concurrency(monkeypatch):
    monkeypatch.setenv("WEB_CONCURRENCY", "1")
    assert SecurityAudit({**SAFE, "RATELIMIT_STORAGE_URI": "memory://"}).run() == []
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    [finding] = SecurityAudit({**SAFE, "RATELIMIT_STORAGE_URI": "memory://"}).run()
    assert "3 processes" in finding.problem
    assert "redis://" in finding.fix


def test_an_unreachable_database_is_named(tmp_path):
    from app.checks import DeploymentAudit

    app = make_app(SQLALCHEMY_DATABASE_URI="sqlite:////nonexistent-dir/x.db")
    findings = DeploymentAudit(app, processes=1).run()
    assert "can't be reached" in " ".join(f.problem for f in findings)


def test_the_command_prints_settings_without_secrets(runner):
    result = runner.invoke(args=["check"])
    assert result.exit_code == 0
    assert "SECRET_KEY=set" in result.output
    assert runner.app.config["SECRET_KEY"] not in result.output
    assert "TRUSTED_HOSTS=['localhost', '127.0.0.1']" in result.output


def test_a_clean_production_deployment_passes(tmp_path, postgres_url, redis_url):
    """The README's production settings on the real PostgreSQL: exit 0."""
    env = {
        **production(tmp_path),
        "DATABASE_URL": postgres_url,
        "RATELIMIT_STORAGE_URI": redis_url,
        "MAIL_URL": "smtps://bastion:secret@smtp.example.com:465",
        "PROXY_FIX_X_FOR": "1",
        "PROXY_FIX_X_PROTO": "1",
    }
    assert flask(env, "db", "upgrade").returncode == 0
    try:
        result = flask(env, "check", "--deploy")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "no problems found (1 warning(s))" in result.stdout
        assert "WARN SECURITY_CONTACT: is not set" in result.stdout
        # A contact silences the warning; trusting a proxy too many fails.
        contact = {**env, "SECURITY_CONTACT": "security@example.com", "PROXY_FIX_X_FOR": "2"}
        behind = flask(contact, "check", "--deploy")
        assert behind.returncode == 1
        assert "WARN" not in behind.stdout
        assert "PROXY_FIX_X_FOR: trusts 2 proxies but 1 stand in front" in behind.stdout
    finally:
        assert flask(env, "db", "downgrade", "base").returncode == 0


def test_a_careless_deployment_fails_with_every_problem(tmp_path):
    env = clean_env(
        BASTION_CONFIG="production",
        FLASK_APP="app",
        SECRET_KEY="change-me-change-me-change-me-change-me",
        TRUSTED_HOSTS="*",
        DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}",
        FORCE_HTTPS="false",
        WEB_CONCURRENCY="4",
        REQUIRE_2FA_FOR_ADMINS="false",
    )
    result = flask(env, "check", "--deploy")
    assert result.returncode == 1
    for setting in (
        "SECRET_KEY: looks like a placeholder",
        "TRUSTED_HOSTS: accepts any Host",
        "PROXY_FIX_X_FOR: is 0 behind a proxy",
        "FORCE_HTTPS: is off",
        "RATELIMIT_STORAGE_URI: keeps counts in memory with 4 processes",
        "DATABASE_URL: is SQLite",
        "migrations: the database is at no revision",
        "MAIL_URL: is not set",
        "JOBS_REDIS_URL: names no Redis",
    ):
        assert setting in result.stdout
    assert "Error: 9 problem(s) found" in result.stderr
    assert "WARN REQUIRE_2FA_FOR_ADMINS: is off" in result.stdout, "a warning, not a problem"


def test_the_app_checks_name_migrations_assets_and_the_development_key(app, tmp_path, monkeypatch):
    from app import checks
    from app.assets import AssetsNotBuiltError
    from app.checks import DeploymentAudit

    (tmp_path / "secret_key").write_text(app.config["SECRET_KEY"] + "\n")
    monkeypatch.setattr(checks, "INSTANCE_PATH", tmp_path)

    def not_built(name):
        raise AssetsNotBuiltError(f"asset bundle {name!r} is not built")

    monkeypatch.setattr(app.extensions["bastion.assets"], "resolve", not_built)
    findings = {f.setting: f for f in DeploymentAudit(app, processes=1).run()}
    assert "development key" in findings["SECRET_KEY"].problem
    assert "no revision" in findings["migrations"].problem
    assert findings["migrations"].fix == "run  flask db upgrade"
    assert findings["assets"].fix == "run  flask assets build"
    assert "SQLite" in findings["DATABASE_URL"].problem


@pytest.mark.parametrize(
    ("env_name", "required", "warned"),
    [("production", False, True), ("production", True, False), ("testing", False, False)],
)
def test_admins_without_two_factor_are_a_warning_in_production(app, env_name, required, warned):
    from app.checks import DeploymentAudit

    app.config.update(ENV_NAME=env_name, REQUIRE_2FA_FOR_ADMINS=required)
    findings = list(DeploymentAudit(app, processes=1).check_two_factor_for_admins())
    assert [(f.setting, f.warning) for f in findings] == (
        [("REQUIRE_2FA_FOR_ADMINS", True)] if warned else []
    )
