"""The per-account security log and its retention (``flask purge``), on SQLite and PostgreSQL.

What a user would notice: the account page (and an admin) shows what
happened to the account, newest first, and never a password or a token;
old entries and ended sessions go with ``flask purge``.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text, update

from app.auth.user_sessions import device_label
from app.extensions import db
from app.models.base import utcnow
from app.models.user_session import SecurityEvent, UserSession
from tests.helpers import post_form
from tests.test_auth import (
    NEW_PASSWORD,
    PASSWORD,
    change_password,
    make_user,
    sign_in,
    sign_out,
    signed_in,
)
from tests.test_user_sessions import FIREFOX, events, sessions_of

# --- the security log --------------------------------------------------------------


def test_the_log_records_each_event_and_never_a_secret(any_db):
    make_user(any_db)
    here, there = any_db.test_client(), any_db.test_client()
    assert sign_in(here, password="not the password at all").status_code == 422
    sign_in(here)
    sign_in(there)
    created = post_form(
        here, "/account/api-keys", "/account", name="CI", scope="read", expires="30"
    )
    page = created.get_data(as_text=True)
    raw_key = page.split('id="new-api-key" type="text" value="')[1].split('"')[0]
    with any_db.app_context():
        key_id = db.session.scalar(text("SELECT id FROM api_key"))
    post_form(here, f"/account/api-keys/{key_id}/revoke", "/account")
    there_id = sessions_of(any_db)[1].id
    post_form(here, f"/account/sessions/{there_id}/revoke", "/account")
    sign_in(there)
    post_form(here, "/account/sessions/revoke-others", "/account")
    change_password(here)
    session_cookie = here.get_cookie("session", domain="localhost").value
    sign_out(here)
    assert events(any_db) == [
        "sign_in_failed",
        "sign_in",
        "sign_in",
        "api_key_created",
        "api_key_revoked",
        "session_revoked",
        "sign_in",
        "sessions_revoked",
        "password_changed",
        "sign_out",
    ]
    serializer = any_db.session_interface.get_signing_serializer(any_db)
    token = serializer.loads(session_cookie)["_user_id"].split(":")[2]
    secrets_ = [PASSWORD, NEW_PASSWORD, "not the password at all", raw_key, token, session_cookie]
    with any_db.app_context():
        stored = " ".join(
            str(value)
            for table in ("security_event", "user_session")
            for row in db.session.execute(text(f"SELECT * FROM {table}"))  # noqa: S608
            for value in row
        )
    for secret in secrets_:
        assert secret not in stored
    assert raw_key.split("_")[1] in stored, "the key's public prefix names it"


def test_the_account_page_shows_the_log_newest_first_and_admins_see_it(any_db):
    ada = make_user(any_db)
    make_user(any_db, email="root@example.com", name="Root", is_admin=True)
    client = any_db.test_client()
    sign_in(client, password="wrong wrong wrong wrong")
    sign_in(client)
    page = client.get("/account").get_data(as_text=True)
    log = page.split('id="security-log"')[1]
    assert log.index("Signed in") < log.index("Failed sign-in"), "newest first"
    assert client.get(f"/admin/accounts/{ada}/security-log").status_code == 403
    sign_out(client)
    sign_in(client, email="root@example.com")
    admin_page = client.get(f"/admin/accounts/{ada}/security-log").get_data(as_text=True)
    assert "Security log of ada@example.com" in admin_page
    assert admin_page.index("Signed out") < admin_page.index("Failed sign-in")
    assert f"/admin/accounts/{ada}/security-log" in client.get("/admin/").get_data(as_text=True)
    assert client.get("/admin/accounts/999999/security-log").status_code == 404


@pytest.mark.parametrize(
    ("agent", "label"),
    [
        (FIREFOX, "Firefox on Linux"),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
            " Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
            "Edge on Windows",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15"
            " (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            "Safari on iOS",
        ),
        ("Mozilla/5.0 (Linux; Android 14) Chrome/131.0 Mobile Safari/537.36", "Chrome on Android"),
        ("curl/8.5.0", "curl"),
        ("<script>alert(1)</script>", "Unknown device"),
        (None, "Unknown device"),
    ],
)
def test_device_labels_name_only_known_browsers_and_systems(agent, label):
    assert device_label(agent) == label


# --- retention ---------------------------------------------------------------------


def test_purge_removes_old_log_entries_and_ended_sessions(any_db):
    make_user(any_db)
    for _ in range(2):
        sign_in(any_db.test_client())
    live = any_db.test_client()
    sign_in(live)
    old = utcnow() - timedelta(days=400)
    with any_db.app_context():
        first, second, _ = db.session.scalars(select(UserSession.id).order_by(UserSession.id))
        db.session.execute(
            update(UserSession).where(UserSession.id == first).values(revoked_at=old)
        )
        db.session.execute(
            update(UserSession).where(UserSession.id == second).values(last_seen_at=old)
        )
        oldest = db.session.scalar(select(SecurityEvent.id).order_by(SecurityEvent.id))
        db.session.execute(
            update(SecurityEvent).where(SecurityEvent.id == oldest).values(created_at=old)
        )
        db.session.commit()
    runner = any_db.test_cli_runner()
    dry = runner.invoke(args=["purge", "--dry-run"])
    assert "security_event: 1" in dry.output
    assert "user_session: 2" in dry.output
    assert len(events(any_db)) == 3
    result = runner.invoke(args=["purge"])
    assert result.exit_code == 0, result.output
    assert len(events(any_db)) == 2
    assert len(sessions_of(any_db)) == 1
    assert signed_in(live)
    any_db.config["SECURITY_LOG_RETENTION_DAYS"] = 0
    try:
        refused = runner.invoke(args=["purge"])
    finally:
        any_db.config["SECURITY_LOG_RETENTION_DAYS"] = 365
    assert refused.exit_code == 1
    assert "SECURITY_LOG_RETENTION_DAYS must be at least 1" in refused.output
