"""Server-side sessions: sign-out, revocation and the security log, on SQLite and PostgreSQL.

What a user would notice: a copied cookie stops opening ``/account`` once
the session it names is signed out, from this or another device, in this or
another process; the account page lists where the account is signed in and
what happened to it, and never shows (nor stores) a password or a token.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select, text, update

from app.auth.login import load_user
from app.extensions import db
from app.models.base import utcnow
from app.models.user_session import SecurityEvent, UserSession
from tests.conftest import make_app
from tests.helpers import csrf_token, post_form
from tests.test_auth import (
    HTTPS,
    PASSWORD,
    change_password,
    make_user,
    sign_in,
    sign_out,
    signed_in,
)
from tests.test_views import count_queries

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def copy_cookies(source, target, *names):
    """Give ``target`` the values of ``source``'s cookies ``names`` (a thief's copy)."""
    for name in names:
        cookie = source.get_cookie(name, domain="localhost")
        assert cookie is not None, f"{name} not set"
        target.set_cookie(name, cookie.value, domain="localhost")


def sessions_of(app, email="ada@example.com"):
    with app.app_context():
        return db.session.execute(
            text(
                "SELECT s.id, s.revoked_at FROM user_session s JOIN user_account u"
                " ON u.id = s.user_id WHERE u.email = :email ORDER BY s.id"
            ),
            {"email": email},
        ).all()


def events(app):
    with app.app_context():
        return list(db.session.scalars(select(SecurityEvent.kind).order_by(SecurityEvent.id)))


def remember_client(app, protection_client=None):
    """A client signed in over HTTPS with "keep me signed in"."""
    client = protection_client or app.test_client()
    data = {"email": "ada@example.com", "password": PASSWORD, "remember": "y"}
    data["csrf_token"] = csrf_token(client, f"{HTTPS}/sign-in")
    response = client.post(f"{HTTPS}/sign-in", data=data, headers={"Referer": f"{HTTPS}/sign-in"})
    assert response.status_code == 302
    return client


def https_post(client, path, form_path="/account"):
    token = csrf_token(client, f"{HTTPS}{form_path}")
    return client.post(
        f"{HTTPS}{path}", data={"csrf_token": token}, headers={"Referer": f"{HTTPS}{form_path}"}
    )


# --- sign-out ------------------------------------------------------------------------


def test_sign_out_kills_a_copied_session_cookie(any_db):
    make_user(any_db)
    owner, thief = any_db.test_client(), any_db.test_client()
    sign_in(owner)
    copy_cookies(owner, thief, "session")
    assert signed_in(thief), "the copy works while the session lives"
    sign_out(owner)
    assert not signed_in(owner)
    assert not signed_in(thief), "the copied session cookie must die with the sign-out"
    [(_, revoked_at)] = sessions_of(any_db)
    assert revoked_at is not None


@pytest.mark.parametrize(
    "protection",
    [
        pytest.param("basic", marks=pytest.mark.settings(SESSION_PROTECTION="basic")),
        pytest.param("strong", marks=pytest.mark.settings(SESSION_PROTECTION="strong")),
    ],
)
def test_sign_out_deletes_and_kills_the_remember_me_cookie(app, protection):
    assert app.config["SESSION_PROTECTION"] == protection
    make_user(app)
    owner, thief = remember_client(app), app.test_client()
    copy_cookies(owner, thief, "remember_token")
    assert thief.get(f"{HTTPS}/account").status_code == 200, "the copy works before sign-out"
    thief.delete_cookie("session", domain="localhost")
    response = https_post(owner, "/sign-out", "/contact")
    assert response.status_code == 302
    deletions = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("remember_")]
    assert len(deletions) == 1, deletions
    assert "Max-Age=0" in deletions[0]
    assert owner.get_cookie("remember_token", domain="localhost") is None
    owner.delete_cookie("session", domain="localhost")  # the browser restarts
    assert owner.get(f"{HTTPS}/account").status_code == 302
    assert thief.get(f"{HTTPS}/account").status_code == 302, "the copied remember-me cookie died"


@pytest.mark.parametrize(
    "protection",
    [
        pytest.param("basic", marks=pytest.mark.settings(SESSION_PROTECTION="basic")),
        pytest.param("strong", marks=pytest.mark.settings(SESSION_PROTECTION="strong")),
    ],
)
def test_keep_me_signed_in_outlives_the_session_cookie(app, protection):
    """After a browser restart the remember-me cookie signs the user in, and the session it
    restores holds on the next requests (Flask-Login alone lost it after one under strong)."""
    make_user(app)
    client = remember_client(app)
    client.delete_cookie("session", domain="localhost")  # the browser restarts
    for _ in range(3):
        assert client.get(f"{HTTPS}/account").status_code == 200
    assert client.get_cookie("remember_token", domain="localhost") is not None
    [(_, revoked_at)] = sessions_of(app)
    assert revoked_at is None, "the same server-side session, not a new one"


# --- revoking from the account page ------------------------------------------------


def test_revoking_a_session_from_another_device_ends_it_on_its_next_request(any_db):
    make_user(any_db)
    laptop, phone = any_db.test_client(), any_db.test_client()
    sign_in(laptop)
    sign_in(phone)
    page = laptop.get("/account").get_data(as_text=True)
    assert "Where you&#39;re signed in" in page or "Where you're signed in" in page
    assert page.count("this device") == 2, "one badge plus the hidden label of its button"
    laptop_id, phone_id = (row.id for row in sessions_of(any_db))
    response = post_form(laptop, f"/account/sessions/{phone_id}/revoke", "/account")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/account#sessions")
    assert not signed_in(phone)
    assert signed_in(laptop)
    assert f"/account/sessions/{phone_id}/revoke" not in laptop.get("/account").get_data(
        as_text=True
    )
    assert f"/account/sessions/{laptop_id}/revoke" in laptop.get("/account").get_data(as_text=True)


def test_revoking_this_session_signs_this_browser_out(any_db):
    make_user(any_db)
    client = any_db.test_client()
    sign_in(client)
    [(own_id, _)] = sessions_of(any_db)
    response = post_form(client, f"/account/sessions/{own_id}/revoke", "/account")
    assert response.status_code == 302
    assert not signed_in(client)


def test_sign_out_everywhere_else_keeps_this_session(any_db):
    make_user(any_db)
    here, there, elsewhere = (any_db.test_client() for _ in range(3))
    for client in (here, there, elsewhere):
        sign_in(client)
    response = post_form(here, "/account/sessions/revoke-others", "/account")
    assert response.status_code == 302
    page = here.get("/account").get_data(as_text=True)
    assert "Signed out 2 other sessions." in page
    assert signed_in(here)
    assert not signed_in(there)
    assert not signed_in(elsewhere)
    assert "Sign out everywhere else" not in page, "nothing else left to sign out"
    assert [row.revoked_at is None for row in sessions_of(any_db)] == [True, False, False]


def test_someone_elses_session_is_404_and_stays_signed_in(any_db):
    make_user(any_db)
    make_user(any_db, email="mallory@example.com", name="Mallory")
    victim, attacker = any_db.test_client(), any_db.test_client()
    sign_in(victim)
    sign_in(attacker, email="mallory@example.com")
    [(victim_session, _)] = sessions_of(any_db)
    response = post_form(attacker, f"/account/sessions/{victim_session}/revoke", "/account")
    assert response.status_code == 404
    assert post_form(attacker, "/account/sessions/999999/revoke", "/account").status_code == 404
    assert signed_in(victim)


def test_revoking_a_session_twice_says_it_was_already_signed_out(any_db):
    make_user(any_db)
    laptop, phone = any_db.test_client(), any_db.test_client()
    sign_in(laptop)
    sign_in(phone)
    phone_id = sessions_of(any_db)[1].id
    token = csrf_token(laptop, "/account")  # a page opened before the first revocation
    for _ in range(2):
        response = laptop.post(f"/account/sessions/{phone_id}/revoke", data={"csrf_token": token})
        assert response.status_code == 302
    assert "That session was already signed out." in laptop.get("/account").get_data(as_text=True)
    assert events(any_db).count("session_revoked") == 1


def test_an_account_object_without_a_session_has_no_login_id(any_db):
    from app.auth.security_log import log_event
    from app.models.user import User

    with pytest.raises(RuntimeError, match="no server-side session"):
        User(id=1, session_version=1).get_id()
    with any_db.app_context(), pytest.raises(ValueError, match="unknown security event"):
        log_event(1, "password_shown")


def test_revoking_needs_a_post_with_a_csrf_token(any_db):
    make_user(any_db)
    client = any_db.test_client()
    sign_in(client)
    [(own_id, _)] = sessions_of(any_db)
    assert client.get(f"/account/sessions/{own_id}/revoke").status_code == 405
    assert client.post(f"/account/sessions/{own_id}/revoke").status_code == 400
    assert client.post("/account/sessions/revoke-others").status_code == 400
    assert signed_in(client)


@pytest.mark.settings(RATELIMIT_ENABLED=True, SIGNIN_RATE_LIMIT="2 per minute")
def test_revoking_is_rate_limited_per_account(app, client):
    make_user(app)
    sign_in(client)
    token = csrf_token(client, "/account")
    codes = [
        client.post("/account/sessions/revoke-others", data={"csrf_token": token}).status_code
        for _ in range(3)
    ]
    assert codes == [302, 302, 429]


def test_a_password_change_revokes_every_other_session(any_db):
    make_user(any_db)
    here, there = any_db.test_client(), any_db.test_client()
    sign_in(here)
    sign_in(there)
    assert change_password(here).status_code == 302
    assert signed_in(here)
    assert not signed_in(there)
    rows = sessions_of(any_db)
    assert [row.revoked_at is None for row in rows] == [False, False, True], "a new one for here"


def test_disabling_an_account_revokes_its_sessions(any_db):
    make_user(any_db)
    client = any_db.test_client()
    sign_in(client)
    result = any_db.test_cli_runner().invoke(args=["users", "disable", "ada@example.com"])
    assert result.exit_code == 0, result.output
    assert not signed_in(client)
    assert [row.revoked_at is not None for row in sessions_of(any_db)] == [True]


def test_an_idle_session_and_an_old_style_id_are_refused(any_db):
    make_user(any_db)
    client = any_db.test_client()
    sign_in(client)
    with any_db.app_context():
        db.session.execute(update(UserSession).values(last_seen_at=utcnow() - timedelta(days=15)))
        db.session.commit()
    assert not signed_in(client), "idle longer than both cookies' lifetime"
    with any_db.test_request_context():
        assert load_user("1:1") is None, "an id from before the sessions table"
        assert load_user("x:1:token") is None


# --- two processes on one PostgreSQL ---------------------------------------------------


def test_revocation_is_seen_by_a_second_app_on_the_same_postgresql(production_pg_app, postgres_url):
    from app.config import ProductionConfig

    first = production_pg_app
    second = make_app(
        SQLALCHEMY_DATABASE_URI=postgres_url,
        SQLALCHEMY_ENGINE_OPTIONS=ProductionConfig.SQLALCHEMY_ENGINE_OPTIONS,
    )
    try:
        make_user(first)
        owner, other_process = first.test_client(), second.test_client()
        sign_in(owner)
        copy_cookies(owner, other_process, "session")
        assert signed_in(other_process), "the second app accepts the first app's session"
        sign_out(owner)
        assert not signed_in(other_process), "and sees its revocation on the next request"
        # The other way round: revoked in the second app, refused by the first.
        sign_in(owner)
        second_device = second.test_client()
        sign_in(second_device)
        revoked = post_form(second_device, "/account/sessions/revoke-others", "/account")
        assert revoked.status_code == 302
        assert not signed_in(owner)
        assert signed_in(second_device)
    finally:
        with second.app_context():
            db.session.remove()
            db.engine.dispose()


# --- cost per request --------------------------------------------------------------


def test_queries_per_request_stay_bounded_and_last_seen_is_written_once_a_minute(any_db):
    make_user(any_db)
    client = any_db.test_client()
    sign_in(client)
    client.get("/account")
    with count_queries(any_db) as few:
        assert client.get("/account").status_code == 200
    for _ in range(8):  # more sessions and log lines: the same number of queries
        sign_in(any_db.test_client())
    with count_queries(any_db) as many:
        assert client.get("/account").status_code == 200
    assert len(many) == len(few) <= 6, many  # session+owner, keys, sessions, log, 2FA, passkeys
    assert not [s for s in many if s.lstrip().upper().startswith("UPDATE")], "seen a moment ago"
    with any_db.app_context():
        db.session.execute(update(UserSession).values(last_seen_at=utcnow() - timedelta(minutes=2)))
        db.session.commit()
    with count_queries(any_db) as later:
        client.get("/contact")
    assert len([s for s in later if s.lstrip().upper().startswith("UPDATE")]) == 1


# --- migration ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_the_migration_adds_and_removes_both_tables(request, tmp_path, backend):
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'sessions.db'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    app = make_app(SQLALCHEMY_DATABASE_URI=url, SQLALCHEMY_ENGINE_OPTIONS={})
    with app.app_context():
        upgrade(revision="b7a1c2d3e4f5")
        assert "user_session" not in inspect(db.engine).get_table_names()
        upgrade(revision="0051ac644a39")
        inspector = inspect(db.engine)
        assert {"user_session", "security_event"} <= set(inspector.get_table_names())
        assert {i["name"] for i in inspector.get_indexes("security_event")} == {
            "ix_security_event_user_id_id",
            "ix_security_event_created_at",
        }
        downgrade(revision="b7a1c2d3e4f5")
        tables = set(inspect(db.engine).get_table_names())
        assert not {"user_session", "security_event"} & tables
        downgrade(revision="base")
        db.engine.dispose()
