"""``flask users ...`` and ``flask purge``: what they change, and their one-line errors."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import click
import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from app.cli import parse_duration
from app.extensions import db
from app.models import INCLUDE_DELETED, utcnow
from app.models.user import User

STRONG = "correct horse battery staple"


def run(runner: FlaskCliRunner, *args: str, input: str | None = None) -> Result:
    return runner.invoke(args=list(args), input=input)


def create(runner: FlaskCliRunner, email: str, *extra: str, password: str = STRONG) -> Result:
    """``flask users create EMAIL --name Grace --password-stdin [extra]``."""
    args = ("users", "create", email, "--name", "Grace", "--password-stdin", *extra)
    return run(runner, *args, input=f"{password}\n")


def assert_error(result: Result, *fragments: str) -> None:
    """Non-zero exit, no traceback, one ``Error: ...`` line containing ``fragments``."""
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    errors = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.output
    for fragment in fragments:
        assert fragment in errors[0]


def users(app: Flask) -> list[User]:
    """Every account, deleted ones included, oldest first (read in a fresh context)."""
    with app.app_context():
        query = select(User).order_by(User.id).execution_options(**{INCLUDE_DELETED: True})
        found = db.session.scalars(query).all()
        db.session.expunge_all()
        return list(found)


def add_user(app: Flask, email: str, **fields: Any) -> None:
    """Store an account directly (no hashing needed for these tests)."""
    with app.app_context():
        values = {"display_name": "Someone", "password_hash": "x", **fields}
        db.session.add(User(email=email, **values))
        db.session.commit()


# --- users create ---------------------------------------------------------------


def test_create_stores_a_lower_cased_email_and_an_argon2id_hash(app, runner):
    result = create(runner, "  Grace@Example.COM ")
    assert result.exit_code == 0, result.output
    assert "created account" in result.output
    assert "grace@example.com" in result.output
    [user] = users(app)
    assert user.email == "grace@example.com"
    assert user.display_name == "Grace"
    assert user.password_hash.startswith("$argon2id$")
    assert STRONG not in user.password_hash
    assert not user.is_admin
    assert not user.is_disabled
    with app.app_context():
        assert app.extensions["passwords"].verify(user.password_hash, STRONG)


def test_create_admin(app, runner):
    result = create(runner, "root@example.com", "--admin")
    assert result.exit_code == 0, result.output
    assert "(admin)" in result.output
    assert users(app)[0].is_admin


def test_create_prompts_twice_for_the_password(app, runner):
    args = ("users", "create", "grace@example.com", "--name", "Grace")
    result = run(runner, *args, input=f"{STRONG}\n{STRONG}\n")
    assert result.exit_code == 0, result.output
    assert "Password" in result.output
    assert STRONG not in result.output
    assert len(users(app)) == 1


def test_create_refuses_differing_passwords(app, runner):
    args = ("users", "create", "grace@example.com", "--name", "Grace")
    result = run(runner, *args, input=f"{STRONG}\nsomething else entirely\n")
    assert result.exit_code != 0
    assert users(app) == []


@pytest.mark.parametrize("email", ["grace@example.com", "GRACE@example.com"])
def test_create_refuses_a_duplicate_email(app, runner, email):
    add_user(app, "grace@example.com")
    assert_error(create(runner, email), "already exists")
    assert len(users(app)) == 1


def test_create_reuses_the_email_of_a_deleted_account(app, runner):
    add_user(app, "grace@example.com", deleted_at=utcnow())
    assert create(runner, "grace@example.com").exit_code == 0
    assert [user.is_deleted for user in users(app)] == [True, False]


def test_create_reports_a_lost_race_as_a_duplicate(app, runner, monkeypatch):
    add_user(app, "grace@example.com")
    monkeypatch.setattr("app.auth.cli.find_live_user", lambda email: None)
    assert_error(create(runner, "grace@example.com"), "already exists")
    assert len(users(app)) == 1


@pytest.mark.parametrize(
    "password",
    ["short-pw", "password1234", "aaaaaaaaaaaaaaaa", "hopper-loves-cobol"],
    ids=["short", "common", "simple", "email-local-part"],
)
def test_create_refuses_a_weak_password(app, runner, password):
    assert_error(create(runner, "grace.hopper@example.com", password=password), "weak password")
    assert users(app) == []


@pytest.mark.parametrize("email", ["not-an-email", "grace@localhost", "@example.com", ""])
def test_create_refuses_a_malformed_email(app, runner, email):
    assert_error(create(runner, email), "not an email address")
    assert users(app) == []


@pytest.mark.parametrize("email", ["a@b@example.com", "a b@example.com"])
def test_create_refuses_what_the_web_form_refuses(app, runner, email):
    assert_error(create(runner, email), "not an email address")


@pytest.mark.parametrize("name", ["   ", "x" * 81])
def test_create_refuses_a_bad_display_name(app, runner, name):
    args = ("users", "create", "grace@example.com", "--name", name, "--password-stdin")
    assert_error(run(runner, *args, input=f"{STRONG}\n"), "display name")


# --- users list and the flag commands -------------------------------------------


@pytest.fixture
def team(app: Flask) -> Flask:
    add_user(app, "live@example.com")
    add_user(app, "boss@example.com", is_admin=True)
    add_user(app, "off@example.com", is_disabled=True)
    add_user(app, "gone@example.com", deleted_at=utcnow())
    return app


def listed(runner: FlaskCliRunner, *extra: str) -> dict[str, str]:
    """``users list``: status column by email."""
    result = run(runner, "users", "list", *extra)
    assert result.exit_code == 0, result.output
    rows = [line.split("\t") for line in result.output.splitlines()]
    return {row[1]: row[3] for row in rows}


def test_list_shows_live_accounts_with_their_status(team, runner):
    assert listed(runner) == {
        "live@example.com": "active",
        "boss@example.com": "active,admin",
        "off@example.com": "disabled",
    }


def test_list_all_includes_deleted_accounts(team, runner):
    statuses = listed(runner, "--all")
    assert len(statuses) == 4
    assert statuses["gone@example.com"] == "deleted"


@pytest.mark.parametrize(
    ("command", "email", "attribute", "expected"),
    [
        ("disable", "live@example.com", "is_disabled", True),
        ("enable", "off@example.com", "is_disabled", False),
        ("promote", "live@example.com", "is_admin", True),
        ("demote", "boss@example.com", "is_admin", False),
    ],
)
def test_flag_commands(team, runner, command, email, attribute, expected):
    before = {user.email: user for user in users(team)}[email]
    result = run(runner, "users", command, email.upper())
    assert result.exit_code == 0, result.output
    after = {user.email: user for user in users(team)}[email]
    assert getattr(after, attribute) is expected
    signed_out = command == "disable"
    assert after.session_version == before.session_version + signed_out


@pytest.mark.parametrize("command", ["disable", "enable", "promote", "demote"])
@pytest.mark.parametrize("email", ["nobody@example.com", "gone@example.com"])
def test_flag_commands_refuse_unknown_or_deleted_accounts(team, runner, command, email):
    assert_error(run(runner, "users", command, email), "no account")


# --- purge ----------------------------------------------------------------------


@pytest.fixture
def graveyard(app: Flask) -> Flask:
    add_user(app, "live@example.com")
    add_user(app, "old@example.com", deleted_at=utcnow() - timedelta(days=31))
    add_user(app, "older@example.com", deleted_at=utcnow() - timedelta(days=400))
    add_user(app, "recent@example.com", deleted_at=utcnow() - timedelta(days=1))
    return app


def emails(app: Flask) -> list[str]:
    return sorted(user.email for user in users(app))


def test_purge_removes_only_rows_deleted_before_the_cutoff(graveyard, runner):
    result = run(runner, "purge", "--older-than", "30d")
    assert result.exit_code == 0, result.output
    assert "user_account: 2" in result.output.splitlines()
    assert "purged 2 rows" in result.output
    assert emails(graveyard) == ["live@example.com", "recent@example.com"]


def test_purge_defaults_to_thirty_days(graveyard, runner):
    assert run(runner, "purge").exit_code == 0
    assert emails(graveyard) == ["live@example.com", "recent@example.com"]


def test_purge_with_a_short_retention_keeps_live_rows(graveyard, runner):
    result = run(runner, "purge", "--older-than", "1h")
    assert "purged 3 rows" in result.output
    assert emails(graveyard) == ["live@example.com"]


def test_purge_dry_run_removes_nothing(graveyard, runner):
    result = run(runner, "purge", "--older-than", "30d", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "user_account: 2" in result.output
    assert "dry run" in result.output
    assert len(emails(graveyard)) == 4


@pytest.mark.parametrize("text", ["30x", "abc", "", "-1d", "1.5d"])
def test_purge_refuses_a_bad_duration(graveyard, runner, text):
    result = run(runner, "purge", "--older-than", text)
    assert_error(result, "is not a duration", "s, m, h, d or w")
    assert len(emails(graveyard)) == 4


@pytest.mark.parametrize("text", ["9999999999d", "1000000w"])
def test_purge_refuses_a_duration_that_is_too_long(app, runner, text):
    assert_error(run(runner, "purge", "--older-than", text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("45s", timedelta(seconds=45)),
        ("90m", timedelta(minutes=90)),
        ("12h", timedelta(hours=12)),
        ("30d", timedelta(days=30)),
        ("2w", timedelta(weeks=2)),
        (" 7 D ", timedelta(days=7)),
    ],
)
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["30x", "abc", "", "d", "30", "-5m", "1.5h", "30 d x"])
def test_parse_duration_refuses_garbage(text):
    with pytest.raises(click.BadParameter, match="is not a duration"):
        parse_duration(text)


# --- help -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["users"],
        *(["users", name] for name in ("create", "list", "disable", "enable", "promote", "demote")),
        ["purge"],
        ["check"],
    ],
    ids=" ".join,
)
def test_every_command_has_help(runner, command):
    result = run(runner, *command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
