"""Password reset and email confirmation: links followed, token misuse, no enumeration."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from app.extensions import db
from app.models.base import utcnow
from tests.conftest import make_app
from tests.helpers import post_form
from tests.test_auth import (
    NEW_PASSWORD,
    PASSWORD,
    change_password,
    link_in,
    load,
    make_user,
    outbox,
    register,
    sign_in,
    signed_in,
)

THIRD_PASSWORD = "yet another fine passphrase 7"


def ask_reset(client, email="ada@example.com"):
    return post_form(client, "/forgot-password", email=email)


def reset(client, path, password=NEW_PASSWORD):
    # The CSRF token comes from another form: a dead link's page has none.
    return post_form(client, path, "/forgot-password", new_password=password, confirm=password)


def reset_link(app, index=-1) -> str:
    return link_in(outbox(app)[index], "/reset-password/")


def test_sign_in_links_to_forgot_password(client):
    assert 'href="/forgot-password"' in client.get("/sign-in").get_data(as_text=True)


def test_a_reset_link_sets_a_new_password_and_ends_every_session(app, client):
    make_user(app)
    other_device = app.test_client()
    sign_in(other_device)
    assert signed_in(other_device)
    assert ask_reset(client, "  ADA@example.com ").headers["Location"] == "/sign-in"
    [message] = outbox(app)
    assert message["To"] == "ada@example.com"
    assert "within 60 minutes" in message.get_content()
    path = reset_link(app)
    assert "Choose a new password" in client.get(path).get_data(as_text=True)
    weak = reset(client, path, password="short")
    assert weak.status_code == 422
    assert "Use at least 12 characters." in weak.get_data(as_text=True)
    assert reset(client, path).headers["Location"] == "/sign-in"
    assert not signed_in(other_device), "every session ends"
    assert sign_in(client, password=PASSWORD).status_code == 422
    assert sign_in(client, password=NEW_PASSWORD).status_code == 302
    notice = outbox(app)[-1]
    assert notice["Subject"] == "[Bastion] Your password was reset"
    log = client.get("/account").get_data(as_text=True)
    assert "Password reset by email link" in log
    assert "Password reset link sent" in log


def test_a_used_link_is_dead(app, client):
    make_user(app)
    ask_reset(client)
    path = reset_link(app)
    reset(client, path)
    assert client.get(path).status_code == 404
    assert reset(client, path, password=THIRD_PASSWORD).status_code == 404
    assert sign_in(client, password=NEW_PASSWORD).status_code == 302


def test_a_link_expires_after_password_reset_max_age(app, client):
    make_user(app)
    with time_machine.travel(utcnow(), tick=False) as traveller:
        ask_reset(client)
        path = reset_link(app)
        traveller.shift(timedelta(seconds=3599))
        assert client.get(path).status_code == 200
        traveller.shift(timedelta(seconds=2))
        page = client.get(path)
    assert page.status_code == 404
    assert "This link doesn" in page.get_data(as_text=True)


def test_a_link_dies_when_the_password_changes_otherwise(app, client):
    make_user(app)
    ask_reset(client)
    path = reset_link(app)
    sign_in(client)
    assert change_password(client).status_code == 302
    assert outbox(app)[-1]["Subject"] == "[Bastion] Your password was changed"
    assert client.get(path).status_code == 404


def test_a_link_only_ever_resets_its_own_account(app, client):
    make_user(app)
    make_user(app, email="bob@example.com", name="Bob")
    ask_reset(client, "bob@example.com")
    bob_path = reset_link(app)
    # Another user's token with the user id swapped: the signature no longer matches.
    token = bob_path.rsplit("/", 1)[1]
    forged = token.replace(token.split(".")[0], token.split(".")[0][::-1])
    assert client.get(f"/reset-password/{forged}").status_code == 404
    reset(client, bob_path)
    assert sign_in(client, password=PASSWORD).status_code == 302, "Ada's password is unchanged"
    assert sign_in(app.test_client(), "bob@example.com", NEW_PASSWORD).status_code == 302


def test_a_confirmation_link_is_not_a_reset_link(app, client):
    register(client)
    confirm_path = link_in(outbox(app)[0], "/confirm-email/")
    token = confirm_path.rsplit("/", 1)[1]
    assert client.get(f"/reset-password/{token}").status_code == 404
    assert client.get(f"/confirm-email/{token}x").status_code == 404


def test_a_reset_confirms_an_address_someone_else_registered(app, client):
    """The owner of a "pre-registered" address takes it over with a reset."""
    register(client, password="mallory's own passphrase")  # not the owner
    register(app.test_client())  # the owner tries: "someone tried", with a reset link
    assert "Someone tried to register" in outbox(app)[1]["Subject"]
    ask_reset(client)
    reset(client, reset_link(app))
    assert load(app).email_confirmed_at is not None
    assert sign_in(client, password="mallory's own passphrase").status_code == 422
    assert sign_in(client, password=NEW_PASSWORD).status_code == 302


def without_csrf(text: str) -> str:
    """The page without its CSRF token and CSP nonces (new on every response)."""
    text = re.sub(r'name="csrf_token"[^>]*value="[^"]*"', "", text)
    return re.sub(r'nonce="[^"]*"', "", text)


def answer(client, response) -> tuple[int, str | None, str]:
    return (
        response.status_code,
        response.headers.get("Location"),
        without_csrf(client.get(response.headers.get("Location", "/")).get_data(as_text=True)),
    )


def test_forgot_password_answers_the_same_for_known_and_unknown_addresses(app):
    make_user(app)
    known = app.test_client()
    unknown = app.test_client()
    assert answer(known, ask_reset(known)) == answer(unknown, ask_reset(unknown, "nobody@x.org"))
    assert len(outbox(app)) == 1


def test_registration_answers_the_same_for_new_and_taken_addresses(app):
    make_user(app, email="taken@example.com")
    new = app.test_client()
    taken = app.test_client()
    first = answer(new, register(new, email="new@example.com"))
    second = answer(taken, register(taken, email="taken@example.com"))
    assert first == second
    assert first[0] == 302
    assert "Check your inbox" in first[2]
    assert [m["To"] for m in outbox(app)] == ["new@example.com", "taken@example.com"]


def test_disabled_accounts_get_no_reset_mail(app, client):
    make_user(app, is_disabled=True)
    assert ask_reset(client).status_code == 302
    assert outbox(app) == []


@pytest.mark.settings(
    RATELIMIT_ENABLED=True, RATELIMIT_DEFAULT="1000 per second", MAIL_RATE_LIMIT="2 per hour"
)
def test_reset_mails_are_limited_per_address_and_per_client(app):
    make_user(app)
    one, two, three = (app.test_client() for _ in range(3))
    for number, client in enumerate((one, two, three), start=1):
        client.environ_base["REMOTE_ADDR"] = f"192.0.2.{number}"
    assert ask_reset(one).status_code == 302
    assert ask_reset(two).status_code == 302
    assert ask_reset(three).status_code == 429, "a third mail to one address"
    assert len(outbox(app)) == 2
    assert ask_reset(three, "a@example.com").status_code == 302
    assert ask_reset(three, "b@example.com").status_code == 429, "a third ask from one client"


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_the_migration_adds_and_drops_email_confirmed_at(database, tmp_path, request):
    if database == "sqlite":
        url = f"sqlite:///{tmp_path / 'migrated.db'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    app = make_app(SQLALCHEMY_DATABASE_URI=url, SQLALCHEMY_ENGINE_OPTIONS={})
    with app.app_context():
        upgrade(revision="c1d2e3f4a5b6")
        db.session.execute(
            db.text(
                "INSERT INTO user_account (email, display_name, password_hash, is_admin,"
                " is_disabled, session_version, created_at, updated_at) VALUES"
                " ('old@example.com', 'Old', 'x', false, false, 1, :now, :now)"
            ),
            {"now": utcnow()},
        )
        db.session.commit()
        upgrade(revision="d2e3f4a5b6c7")
        columns = {c["name"] for c in inspect(db.engine).get_columns("user_account")}
        assert "email_confirmed_at" in columns
        user = load(app, "old@example.com")
        assert user.email_confirmed_at == user.created_at, "earlier accounts keep signing in"
        db.session.remove()
        downgrade(revision="c1d2e3f4a5b6")
        columns = {c["name"] for c in inspect(db.engine).get_columns("user_account")}
        assert "email_confirmed_at" not in columns
        downgrade(revision="base")
        db.engine.dispose()
