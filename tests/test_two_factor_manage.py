"""Two-factor sign-in, managed: turning it off, new recovery codes, CSRF, administrators,
the command line, the migration, and no secret in any log.

What a user would notice: turning two-factor off takes the password and a
code; new recovery codes replace the old ones; an administrator under
``REQUIRE_2FA_FOR_ADMINS`` can't reach anything before setting it up; a
lost phone is fixed from the server's shell.
"""

from __future__ import annotations

import logging
import re

import pytest
import time_machine
from sqlalchemy import select

from app.auth.two_factor import SecretUnreadable, decrypt_secret, encrypt_secret
from app.config import ProductionConfig, TestingConfig
from app.extensions import db
from app.models.two_factor import RecoveryCode, TwoFactor
from app.models.user_session import SecurityEvent
from tests.helpers import post_form
from tests.test_auth import PASSWORD, make_user, sign_in, sign_out, signed_in
from tests.test_two_factor import (
    CODE_STEP,
    PAGE,
    RECOVERY,
    START,
    code,
    enrolled,
    kinds,
    second_step,
    turn_on,
)


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


# --- turning it off, new recovery codes --------------------------------------------------


def test_turning_off_needs_the_password_and_a_code(any_db, clock):
    app, client = any_db, any_db.test_client()
    secret, _ = enrolled(app, client, clock)
    sign_in(client)
    second_step(client, code(secret))
    clock.shift(30)
    off = f"{PAGE}/disable"
    assert (
        post_form(client, off, PAGE, password="wrong password!!", code=code(secret)).status_code
        == 422
    )
    assert post_form(client, off, PAGE, password=PASSWORD, code="123456").status_code == 422
    assert "is <strong>on</strong>" in client.get(PAGE).get_data(as_text=True)
    response = post_form(client, off, PAGE, password=PASSWORD, code=code(secret))
    assert response.status_code == 302
    assert "is <strong>off</strong>" in client.get(PAGE).get_data(as_text=True)
    assert kinds(app)[-3:] == ["two_factor_failed", "two_factor_failed", "two_factor_disabled"]
    sign_out(client)
    assert sign_in(client).headers["Location"] == "/account"  # the password alone again
    with app.app_context():
        assert db.session.scalar(select(RecoveryCode.id)) is None


def test_new_recovery_codes_need_a_code_and_replace_the_old_ones(app, client, clock):
    secret, old = enrolled(app, client, clock)
    sign_in(client)
    second_step(client, code(secret))
    clock.shift(30)
    new_codes = f"{PAGE}/recovery-codes"
    assert post_form(client, new_codes, PAGE, code="999999").status_code == 422
    response = post_form(client, new_codes, PAGE, code=code(secret))
    new = RECOVERY.findall(response.get_data(as_text=True))
    assert len(new) == 10
    assert not set(new) & set(old)
    assert kinds(app)[-1] == "recovery_codes_regenerated"
    sign_out(client)
    sign_in(client)
    assert second_step(client, old[1]).status_code == 422
    assert second_step(client, new[1]).status_code == 302


@pytest.mark.parametrize("path", [f"{PAGE}/disable", f"{PAGE}/recovery-codes", CODE_STEP])
def test_every_post_needs_a_csrf_token(app, client, clock, path):
    secret, _ = enrolled(app, client, clock)
    sign_in(client)
    if path != CODE_STEP:
        second_step(client, code(secret))
        clock.shift(30)
    before = kinds(app)
    response = client.post(path, data={"code": code(secret), "password": PASSWORD})
    assert response.status_code == 400
    assert kinds(app) == before  # nothing changed, nothing logged
    assert signed_in(client) is (path != CODE_STEP)
    if path != CODE_STEP:
        assert "is <strong>on</strong>" in client.get(PAGE).get_data(as_text=True)


def test_starting_and_confirming_need_a_csrf_token(app, client, clock):
    make_user(app)
    sign_in(client)
    assert client.post(f"{PAGE}/start").status_code == 400
    assert "is <strong>off</strong>" in client.get(PAGE).get_data(as_text=True)
    post_form(client, f"{PAGE}/start", PAGE)
    page = client.get(PAGE).get_data(as_text=True)
    secret = re.search(r'id="two-factor-secret"[^>]*>([^<]+)<', page).group(1).replace(" ", "")
    assert client.post(f"{PAGE}/confirm", data={"code": code(secret)}).status_code == 400
    assert "two_factor_enabled" not in kinds(app)


# --- administrators ----------------------------------------------------------------------


def test_the_admin_list_shows_who_has_two_factor(app, client, clock):
    enrolled(app, client, clock)
    make_user(app, email="admin@example.com", name="Admin", is_admin=True)
    sign_in(client, email="admin@example.com")
    page = client.get("/admin/").get_data(as_text=True)
    assert '<th scope="col">Two-factor</th>' in page
    rows = {
        m[0]: m[1]
        for m in re.findall(r"<td>([^<]+@example\.com)</td>.*?<td>(app|off)</td>", page, re.S)
    }
    assert rows == {"ada@example.com": "app", "admin@example.com": "off"}
    log = client.get("/admin/accounts/1/security-log").get_data(as_text=True)
    assert "Two-factor sign-in: <strong>on</strong>" in log
    assert "Two-factor sign-in turned on" in log


def test_require_2fa_for_admins_defaults():
    assert TestingConfig.REQUIRE_2FA_FOR_ADMINS is False
    assert ProductionConfig.REQUIRE_2FA_FOR_ADMINS is True


@pytest.mark.settings(REQUIRE_2FA_FOR_ADMINS=True)
def test_an_admin_without_two_factor_can_only_set_it_up(app, client, clock):
    make_user(app, email="admin@example.com", name="Admin", is_admin=True)
    make_user(app)
    assert sign_in(client).headers["Location"] == "/account"  # not an admin: unaffected
    assert client.get("/account").status_code == 200
    sign_out(client)
    sign_in(client, email="admin@example.com")
    for path in ("/account", "/admin/", "/stories/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"] == PAGE
    assert client.get(PAGE).status_code == 200
    turn_on(client)
    assert client.get("/admin/").status_code == 200
    sign_out(client)
    clock.shift(60)
    assert not signed_in(client)


# --- secrets stay secret -----------------------------------------------------------------


def test_no_secret_or_code_reaches_the_logs_or_the_security_log(app, client, clock, caplog):
    caplog.set_level(logging.DEBUG)
    secret, codes = enrolled(app, client, clock)
    sign_in(client)
    second_step(client, "000000")
    typed = code(secret)
    second_step(client, typed)
    sign_out(client)
    sign_in(client)
    second_step(client, codes[0])
    with app.app_context():
        details = " ".join(db.session.scalars(select(SecurityEvent.detail)))
    logged = caplog.text + details
    for value in (secret, typed, *codes, codes[0].replace("-", "")):
        assert value not in logged
    assert "two-factor code refused" in caplog.text


def test_the_secret_is_encrypted_under_the_secret_key_and_survives_a_rotation(app):
    with app.test_request_context():
        token = encrypt_secret("JBSWY3DPEHPK3PXP")
        assert "JBSWY3DPEHPK3PXP" not in token
        old_key = app.config["SECRET_KEY"]
        app.config["SECRET_KEY"] = "a new secret key of enough length 0123456789"
        with pytest.raises(SecretUnreadable):
            decrypt_secret(token)
        app.config["SECRET_KEY_FALLBACKS"] = [old_key]
        assert decrypt_secret(token) == "JBSWY3DPEHPK3PXP"


# --- migration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_the_migration_adds_and_removes_both_tables(request, tmp_path, backend):
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import inspect

    from tests.conftest import make_app

    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'two_factor.db'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    app = make_app(SQLALCHEMY_DATABASE_URI=url, SQLALCHEMY_ENGINE_OPTIONS={})
    with app.app_context():
        upgrade(revision="0051ac644a39")
        assert "two_factor" not in inspect(db.engine).get_table_names()
        upgrade(revision="c1d2e3f4a5b6")
        inspector = inspect(db.engine)
        assert {"two_factor", "recovery_code"} <= set(inspector.get_table_names())
        assert [c["name"] for c in inspector.get_columns("two_factor")] == [
            "user_id",
            "secret",
            "created_at",
            "confirmed_at",
            "last_step",
        ]
        assert {i["name"] for i in inspector.get_indexes("recovery_code")} == {
            "ix_recovery_code_user_id"
        }
        downgrade(revision="0051ac644a39")
        assert not {"two_factor", "recovery_code"} & set(inspect(db.engine).get_table_names())
        downgrade(revision="base")
        db.engine.dispose()


def test_actions_out_of_turn_change_nothing(app, client, clock):
    make_user(app)
    sign_in(client)
    # Nothing to confirm, nothing to turn off, no codes to replace while it is off.
    for path in ("confirm", "disable", "recovery-codes"):
        response = post_form(client, f"{PAGE}/{path}", PAGE, code="123456", password=PASSWORD)
        assert response.status_code == 302
        assert response.headers["Location"] == PAGE
    secret, _ = turn_on(client)
    assert post_form(client, f"{PAGE}/confirm", PAGE, code=code(secret, 30)).status_code == 302
    response = post_form(client, f"{PAGE}/start", PAGE)  # no new secret while it is on
    assert response.status_code == 302
    page = client.get(PAGE).get_data(as_text=True)
    assert "already on" in page
    assert "two-factor-secret" not in page
    assert kinds(app).count("two_factor_enabled") == 1


def test_the_command_line_turns_two_factor_off_for_a_lost_phone(app, client, clock):
    secret, _ = enrolled(app, client, clock)
    sign_in(client)
    second_step(client, code(secret))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "two-factor-off", "ADA@example.com"])
    assert result.exit_code == 0, result.output
    assert "turned off for ada@example.com; 1 session(s) signed out" in result.output
    assert not signed_in(client)  # the session made with the second factor ends
    assert sign_in(client).headers["Location"] == "/account"  # the password alone again
    assert "two_factor_disabled" in kinds(app)
    again = runner.invoke(args=["users", "two-factor-off", "ada@example.com"])
    assert again.exit_code == 1
    assert "has no two-factor" in again.output
    unknown = runner.invoke(args=["users", "two-factor-off", "nobody@example.com"])
    assert "no account" in unknown.output


def test_after_a_key_rotation_codes_still_work_and_the_secret_moves_to_the_new_key(
    app, client, clock, caplog
):
    secret, codes = enrolled(app, client, clock)
    old_key = app.config["SECRET_KEY"]
    app.config.update(
        SECRET_KEY="the next secret key, long enough 0123456789", SECRET_KEY_FALLBACKS=[old_key]
    )
    sign_in(client)
    assert second_step(client, code(secret)).status_code == 302
    sign_out(client)
    app.config["SECRET_KEY_FALLBACKS"] = []  # re-encrypted at that sign-in: no longer needed
    clock.shift(30)
    sign_in(client)
    assert second_step(client, code(secret)).status_code == 302
    sign_out(client)
    # A key changed without a fallback: the app's codes can't be checked, recovery codes can.
    app.config["SECRET_KEY"] = "a third secret key, also long enough 0123456789"
    clock.shift(30)
    sign_in(client)
    assert second_step(client, code(secret)).status_code == 422
    assert "secret of account 1 unreadable" in caplog.text
    assert second_step(client, codes[0]).status_code == 302


def test_an_unfinished_set_up_under_an_old_key_starts_again(app, client, clock):
    make_user(app)
    sign_in(client)
    post_form(client, f"{PAGE}/start", PAGE)
    page = client.get(PAGE).get_data(as_text=True)
    secret = re.search(r'id="two-factor-secret"[^>]*>([^<]+)<', page).group(1).replace(" ", "")
    with app.app_context():  # as if SECRET_KEY had changed since
        record = db.session.get(TwoFactor, 1)
        record.secret = record.secret[:-8] + "AAAAAAA="
        db.session.commit()
    assert "Turn on two-factor" in client.get(PAGE).get_data(as_text=True)
    response = post_form(client, f"{PAGE}/confirm", PAGE, code=code(secret))
    assert response.status_code == 422
    assert "two_factor_enabled" not in kinds(app)


@pytest.mark.settings(REQUIRE_2FA_FOR_ADMINS=True)
def test_the_admin_rule_loads_no_user_for_requests_without_a_session(app):
    """Health checks and crawlers carry no cookie: the rule does not even ask who is there."""
    from flask_login import user_accessed

    accessed = []
    with user_accessed.connected_to(lambda sender, **extra: accessed.append(1), app):
        assert app.test_client().get("/healthz").status_code == 200
    assert accessed == []
