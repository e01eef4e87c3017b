"""``flask api-keys create|list|revoke`` through Flask's CLI runner."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text, update

from app.auth.api_keys import KEY_LENGTH, authenticate_key
from app.extensions import db
from app.models.api_key import ApiKey
from app.models.base import utcnow
from app.models.user import User
from tests.conftest import make_app
from tests.test_auth import make_user


def run(runner, *args: str):
    return runner.invoke(args=["api-keys", *args])


def create(runner, *extra: str, email="ada@example.com", scope="read"):
    return run(runner, "create", "--user", email, "--scope", scope, *extra)


def stored(app) -> list[ApiKey]:
    with app.app_context():
        return list(db.session.scalars(select(ApiKey).order_by(ApiKey.id)))


@pytest.fixture
def ada(app) -> int:
    return make_user(app)


def test_create_prints_the_key_once_on_stdout(app, runner, ada):
    result = create(runner, "--scope", "write", "--name", "deploy bot", "--expires", "12h")
    assert result.exit_code == 0, result.output
    raw = result.stdout.strip()
    assert len(raw) == KEY_LENGTH
    assert result.stdout == raw + "\n"
    [key] = stored(app)
    assert f"prefix {key.prefix}, scope write, expires " in result.stderr
    assert raw not in result.stderr
    assert (key.name, key.scope, key.user_id) == ("deploy bot", "write", ada)
    assert timedelta(hours=11, minutes=59) < key.expires_at - key.created_at <= timedelta(hours=12)
    assert raw not in (key.key_hash, key.prefix, key.name)
    with app.app_context():
        assert authenticate_key(raw).id == key.id


def test_create_defaults_to_90_days_and_accepts_never(app, runner, ada):
    assert create(runner).exit_code == 0
    never_result = create(runner, "--expires", "never")
    assert never_result.exit_code == 0
    default, never = stored(app)
    assert timedelta(days=89) < default.expires_at - default.created_at <= timedelta(days=90)
    assert default.name == "command line"
    assert never.expires_at is None
    assert "expires never -- store the key now" in never_result.stderr


def test_create_cleans_the_name(app, runner, ada):
    assert create(runner, "--name", "ci\x1b[2J\u202e  box").exit_code == 0
    assert stored(app)[0].name == "ci[2J box"


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (("--expires", "90"), 2, "is not a lifetime: use a number and d, h or m"),
        (("--expires", "0m"), 2, "a key must live at least a minute"),
        (("--expires", "5000d"), 2, "a lifetime is at most 3650d"),
        (("--name", "n" * 81), 1, "Error: the name must be 1 to 80 characters long"),
        (("--name", "\x00\x1b"), 1, "Error: the name must be 1 to 80 characters long"),
        (("--scope", "admin"), 2, "'admin' is not one of 'read', 'write'"),
    ],
)
def test_create_refuses_bad_input(app, runner, ada, extra, code, message):
    result = create(runner, *extra)
    assert result.exit_code == code
    assert message in result.output
    assert stored(app) == []


def test_create_for_an_unknown_or_deleted_account(app, runner):
    make_user(app, email="gone@example.com", deleted_at=utcnow())
    for email in ("nobody@example.com", "gone@example.com"):
        result = create(runner, email=email)
        assert result.exit_code == 1
        assert result.output.strip().endswith(f"no account with the email {email!r}")
    assert stored(app) == []


def test_list_shows_everything_but_the_key_and_its_hash(app, runner, ada):
    raw = create(runner, "--name", "laptop").stdout.strip()
    [key] = stored(app)
    result = run(runner, "list")
    assert result.exit_code == 0
    [line] = result.output.splitlines()
    prefix, name, scope, owner, created, expires, last_used, status = line.split("\t")
    assert (prefix, name, scope, owner) == (key.prefix, "laptop", "read", "ada@example.com")
    assert created == f"{key.created_at:%Y-%m-%d %H:%M}"
    assert expires == f"{key.expires_at:%Y-%m-%d %H:%M}"
    assert (last_used, status) == ("-", "active")
    assert raw[13:] not in result.output
    assert key.key_hash not in result.output


def test_list_statuses_and_the_user_filter(app, runner, ada):
    make_user(app, email="bob@example.com", name="Bob")
    make_user(app, email="eve@example.com", name="Eve")
    for email in ("ada@example.com",) * 4 + ("bob@example.com", "eve@example.com"):
        assert create(runner, email=email).exit_code == 0
    keys = stored(app)
    now = utcnow()
    with app.app_context():
        for key, values in zip(
            keys[1:4],
            ({"revoked_at": now}, {"expires_at": now}, {"last_used_at": now}),
            strict=True,
        ):
            db.session.execute(update(ApiKey).where(ApiKey.id == key.id).values(**values))
        db.session.execute(
            update(User).where(User.email == "bob@example.com").values(is_disabled=True)
        )
        db.session.execute(
            update(User).where(User.email == "eve@example.com").values(deleted_at=now)
        )
        db.session.commit()
    lines = [line.split("\t") for line in run(runner, "list").output.splitlines()]
    assert [line[7] for line in lines] == [
        "active",
        "revoked",
        "expired",
        "active",
        "owner disabled",
        "owner deleted",
    ]
    assert lines[3][6] == f"{now:%Y-%m-%d %H:%M}"
    only_ada = run(runner, "list", "--user", "ADA@example.com").output.splitlines()
    assert [line.split("\t")[0] for line in only_ada] == [key.prefix for key in keys[:4]]
    assert run(runner, "list", "--user", "eve@example.com").exit_code == 1


def test_list_survives_keys_whose_owner_row_is_gone(app, runner, ada):
    assert create(runner).exit_code == 0
    with app.app_context():  # SQLite enforces no foreign keys: `flask purge` leaves the key
        db.session.execute(text("DELETE FROM user_account"))
        db.session.commit()
    result = run(runner, "list")
    assert result.exit_code == 0, result.output
    fields = result.output.rstrip("\n").split("\t")
    assert (fields[3], fields[7]) == ("-", "owner deleted")


def test_list_escapes_control_characters_stored_in_names(app, runner, ada):
    with app.app_context():
        key = ApiKey(user_id=ada, name="x\x1b[2Jy", prefix="AAAAAAAA", key_hash="0" * 64)
        key.scope = "read"
        db.session.add(key)
        db.session.commit()
    output = run(runner, "list").output
    assert "\x1b" not in output
    assert "x\\x1b[2Jy" in output


def test_revoke_by_prefix(app, runner, ada):
    raw = create(runner).stdout.strip()
    prefix = raw[4:12]
    result = run(runner, "revoke", prefix)
    assert (result.exit_code, result.output) == (0, f"revoked {prefix}\n")
    with app.app_context():
        assert authenticate_key(raw) is None
    assert stored(app)[0].revoked_at is not None
    again = run(runner, "revoke", prefix)
    assert (again.exit_code, again.output) == (0, f"{prefix} was already revoked\n")
    assert "\trevoked" in run(runner, "list").output


def test_revoke_refuses_unknown_prefixes_and_never_echoes_a_whole_key(app, runner, ada):
    raw = create(runner).stdout.strip()
    unknown = run(runner, "revoke", "ZZZZZZZZ" if raw[4:12] != "ZZZZZZZZ" else "YYYYYYYY")
    assert unknown.exit_code == 1
    assert "Error: no API key with the prefix" in unknown.output
    for wrong in (raw, "short", "\x00" * 8, "AAAA'--;"):
        result = run(runner, "revoke", wrong)
        assert result.exit_code == 1
        assert "Error: a key prefix is 8 letters and digits" in result.output
        assert raw[13:] not in result.output
    assert stored(app)[0].revoked_at is None


def test_commands_report_a_database_without_tables_in_one_line():
    runner = make_app().test_cli_runner()  # no tables created
    result = runner.invoke(args=["api-keys", "list"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: database error:")
    assert len(result.output.strip().splitlines()) == 1
