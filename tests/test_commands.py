"""The ``flask`` commands and gunicorn as an operator runs them: real processes.

Commands that serve no pages (``db upgrade``, ``users create``, ``check``)
run before the assets are built; serving pages (gunicorn, ``flask run``)
refuses without them.  Every refusal is one line and exit code 3.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.test_config import ROOT, clean_env

KEY = "0f3c9a7e5b1d4c2a8e6f0b9d7c5a3e1f2b4d6c8a0e9f7b5d3c1a2e4f6b8d0c9a"
#: Simulates a server where ``flask assets build`` has not run yet.
UNBUILT = {"ASSETS_MANIFEST": "json:dist/no-such-manifest.json"}


def production(tmp_path, **extra: str) -> dict[str, str]:
    return clean_env(
        BASTION_CONFIG="production",
        SECRET_KEY=KEY,
        TRUSTED_HOSTS="example.com",
        DATABASE_URL=f"sqlite:///{tmp_path / 'prod.db'}",
        FLASK_APP="app",
        **extra,
    )


def flask(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flask", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def refusal_line(stderr: str) -> str:
    """The one line of a refusal (log warnings aside); fails on a traceback."""
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if "refused to start" in line]
    assert len(lines) == 1, stderr
    return lines[0]


def test_operator_commands_run_before_the_assets_are_built(tmp_path):
    env = production(tmp_path, **UNBUILT)
    upgrade = flask(env, "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    created = flask(
        env,
        "users",
        "create",
        "admin@example.com",
        "--name",
        "Admin",
        "--admin",
        "--password-stdin",
        stdin="a long and unusual passphrase\n",
    )
    assert created.returncode == 0, created.stderr
    listed = flask(env, "users", "list")
    assert listed.returncode == 0, listed.stderr
    assert "admin@example.com" in listed.stdout
    audit = flask(env, "check", "--deploy")
    assert audit.returncode == 1
    assert "assets: bundle 'vendor_css' is not built" in audit.stdout
    assert "Traceback" not in audit.stderr


def test_an_unmigrated_database_is_one_error_line(tmp_path):
    result = flask(production(tmp_path), "users", "list")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert "no such table" in line
    assert "flask db upgrade" in line


@pytest.mark.parametrize(
    ("unset", "message"),
    [("SECRET_KEY", "SECRET_KEY is not set"), ("TRUSTED_HOSTS", "TRUSTED_HOSTS is not set")],
)
def test_a_missing_setting_under_flask_is_one_line_and_exit_3(tmp_path, unset, message):
    env = production(tmp_path)
    del env[unset]
    result = flask(env, "users", "list")
    assert result.returncode == 3
    assert message in refusal_line(result.stderr)


def test_flask_run_refuses_to_serve_without_built_assets(tmp_path):
    result = flask(production(tmp_path, **UNBUILT), "run", "--port", "9")
    assert result.returncode == 3
    assert "flask assets build" in refusal_line(result.stderr)


def test_gunicorn_refuses_to_serve_without_built_assets(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "deploy/gunicorn.conf.py",
            "--bind",
            "127.0.0.1:0",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=production(tmp_path, **UNBUILT),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 3
    assert "flask assets build" in refusal_line(result.stderr)
    assert "Booting worker" not in result.stderr, "refused before any worker starts"


# --- the Werkzeug debugger stays on loopback ------------------------------------------


def test_flask_run_refuses_the_debugger_on_a_public_address(tmp_path):
    env = clean_env(BASTION_CONFIG="development", FLASK_APP="app", SECRET_KEY=KEY)
    result = flask(env, "--debug", "run", "--host", "0.0.0.0")  # noqa: S104 - refused
    assert result.returncode == 3
    line = refusal_line(result.stderr)
    assert "Werkzeug debugger" in line
    assert "not on 0.0.0.0" in line
    assert "Running on" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("host", "debugger", "flask_debug", "exposed"),
    [
        ("0.0.0.0", None, "1", True),  # noqa: S104
        ("::", None, "1", True),
        ("192.0.2.7", None, "1", True),
        ("example.com", None, "1", True),
        ("0.0.0.0", True, "0", True),  # noqa: S104 - --debugger without --debug
        ("0.0.0.0", False, "1", False),  # noqa: S104 - --debug --no-debugger
        ("0.0.0.0", None, "0", False),  # noqa: S104 - no debug, no debugger
        ("127.0.0.1", None, "1", False),
        ("127.0.0.2", None, "1", False),
        ("::1", None, "1", False),
        ("[::1]", None, "1", False),
        ("localhost", None, "1", False),
        (None, None, "1", False),  # flask run's default host: 127.0.0.1
    ],
)
def test_which_hosts_count_as_exposed(monkeypatch, host, debugger, flask_debug, exposed):
    import click
    from flask.cli import run_command

    from app import exposed_debugger_host

    monkeypatch.setenv("FLASK_DEBUG", flask_debug)
    with click.Context(run_command, info_name="run") as context:
        context.params = {"host": host, "debugger": debugger}
        assert (exposed_debugger_host() is not None) is exposed
    with click.Context(click.Command("routes"), info_name="routes"):
        assert exposed_debugger_host() is None, "only flask run serves"
    assert exposed_debugger_host() is None, "no click context: gunicorn, tests"
