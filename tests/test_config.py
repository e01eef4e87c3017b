"""Settings: environment overlay, fail-closed production, development key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import (
    ConfigError,
    DevelopmentConfig,
    ProductionConfig,
    apply_environment,
    parse_setting,
    select_config,
    settable_keys,
)

ROOT = Path(__file__).resolve().parent.parent
GOOD_KEY = "k" * 64


def clean_env(**extra: str) -> dict[str, str]:
    """The current environment without Bastion settings, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "TRUSTED_HOSTS", "DATABASE_URL", "BASTION_CONFIG"}
    }
    env.update(extra)
    return env


def start_wsgi(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        cwd=ROOT,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_production_refuses_to_start_without_secret_key():
    result = start_wsgi(BASTION_CONFIG="production", TRUSTED_HOSTS="example.com")
    assert result.returncode == 3
    assert "SECRET_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_production_is_the_default_and_fails_closed():
    result = start_wsgi(TRUSTED_HOSTS="example.com")
    assert result.returncode == 3
    assert "SECRET_KEY" in result.stderr


def test_production_refuses_a_short_secret_key():
    result = start_wsgi(BASTION_CONFIG="production", SECRET_KEY="short", TRUSTED_HOSTS="a.com")
    assert result.returncode == 3
    assert "too short" in result.stderr


def test_production_refuses_to_start_without_trusted_hosts():
    result = start_wsgi(BASTION_CONFIG="production", SECRET_KEY=GOOD_KEY)
    assert result.returncode == 3
    assert "TRUSTED_HOSTS is not set" in result.stderr


def test_production_starts_with_its_settings(tmp_path):
    result = start_wsgi(
        BASTION_CONFIG="production",
        SECRET_KEY=GOOD_KEY,
        TRUSTED_HOSTS="example.com",
        DATABASE_URL=f"sqlite:///{tmp_path / 'p.db'}",
    )
    assert result.returncode == 0, result.stderr


def test_environment_overlay_parses_types():
    config = {k: getattr(ProductionConfig, k) for k in dir(ProductionConfig) if k.isupper()}
    apply_environment(
        config,
        {
            "TRUSTED_HOSTS": "example.com, .example.org ,",
            "MAX_CONTENT_LENGTH": "2_097_152",
            "FORCE_HTTPS": "off",
            "DATABASE_URL": "postgresql+psycopg://db/app",
            "PROXY_FIX_X_FOR": "1",
            "DEBUG": "1",
            "UNRELATED": "x",
        },
        settable_keys(ProductionConfig),
    )
    assert config["TRUSTED_HOSTS"] == ["example.com", ".example.org"]
    assert config["MAX_CONTENT_LENGTH"] == 2 * 1024 * 1024
    assert config["FORCE_HTTPS"] is False
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://db/app"
    assert config["PROXY_FIX_X_FOR"] == 1
    assert config["DEBUG"] is False, "DEBUG never comes from the environment"
    assert "UNRELATED" not in config


@pytest.mark.parametrize(
    ("raw", "kind", "message"),
    [("maybe", bool, "true or false"), ("ten", int, "whole number"), ("-1", int, "negative")],
)
def test_bad_values_are_refused_with_the_setting_name(raw, kind, message):
    with pytest.raises(ConfigError, match=f"SETTING.*{message}"):
        parse_setting("SETTING", raw, kind)


def test_none_means_no_limit():
    assert parse_setting("MAX_CONTENT_LENGTH", "none", int) is None


def test_unknown_config_name_is_refused():
    with pytest.raises(ConfigError, match="BASTION_CONFIG must be one of"):
        select_config("staging")


def test_development_key_is_random_private_and_kept(tmp_path, monkeypatch):
    import app.config as config_module

    monkeypatch.setattr(config_module, "INSTANCE_PATH", tmp_path / "instance")
    config = {"ENV_NAME": "development", "SECRET_KEY": None}
    config_module.load_dev_secret_key(config)
    key_file = tmp_path / "instance" / "secret_key"
    assert len(config["SECRET_KEY"]) == 64
    assert key_file.stat().st_mode & 0o077 == 0
    again = {"ENV_NAME": "development", "SECRET_KEY": None}
    config_module.load_dev_secret_key(again)
    assert again["SECRET_KEY"] == config["SECRET_KEY"]


def test_development_defaults_suit_local_http():
    assert DevelopmentConfig.DEBUG is True
    assert DevelopmentConfig.SESSION_COOKIE_SECURE is False
    assert DevelopmentConfig.TRUSTED_HOSTS == ["127.0.0.1", "localhost"]


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"RATELIMIT_DEFAULT": "two per second"}, "RATELIMIT_DEFAULT='two per second' is not"),
        ({"SIGNIN_RATE_LIMIT": "5 per fortnight"}, "SIGNIN_RATE_LIMIT='5 per fortnight' is not"),
        ({"RATELIMIT_STORAGE_URI": "memcached://x"}, "memory://, redis:// or rediss://"),
    ],
)
def test_malformed_rate_limit_settings_refuse_to_start(setting, message):
    from app import create_app

    with pytest.raises(ConfigError, match=message):
        create_app({"BASTION_CONFIG": "testing", **setting})


def test_cross_origin_resource_policy_none_from_the_environment_sends_no_header():
    from app import create_app

    app = create_app({"BASTION_CONFIG": "testing", "CROSS_ORIGIN_RESOURCE_POLICY": "none"})
    assert "Cross-Origin-Resource-Policy" not in app.test_client().get("/healthz").headers


def test_a_malformed_security_setting_is_a_one_line_refusal():
    from app import create_app

    with pytest.raises(ConfigError, match="CROSS_ORIGIN_RESOURCE_POLICY must be one of"):
        create_app({"BASTION_CONFIG": "testing", "CROSS_ORIGIN_RESOURCE_POLICY": "anyone"})
