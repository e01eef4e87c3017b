"""Accounts end to end: register, sign in and out, password change, deletion, admin."""

from __future__ import annotations

import logging
import re

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import INCLUDE_DELETED
from app.models.base import utcnow
from app.models.user import User
from tests.helpers import CSRF_INPUT, csrf_token, post_form

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "another long passphrase 42"
HTTPS = "https://localhost"


def register(client, email="ada@example.com", name="Ada", password=PASSWORD, confirm=None):
    confirm = password if confirm is None else confirm
    return post_form(
        client, "/register", email=email, display_name=name, password=password, confirm=confirm
    )


def sign_in(client, email="ada@example.com", password=PASSWORD, query="", **extra):
    return post_form(client, f"/sign-in{query}", email=email, password=password, **extra)


def sign_out(client):
    return post_form(client, "/sign-out", "/contact")


def make_user(app, email="ada@example.com", name="Ada", password=PASSWORD, **fields) -> int:
    """An account with a confirmed address (``email_confirmed_at=None`` for an unconfirmed one)."""
    fields.setdefault("email_confirmed_at", utcnow())
    with app.app_context():
        user = User(
            email=email,
            display_name=name,
            password_hash=app.extensions["passwords"].hash(password),
            **fields,
        )
        db.session.add(user)
        db.session.commit()
        return user.id


def load(app, email="ada@example.com") -> User | None:
    with app.app_context():
        query = select(User).where(User.email == email).execution_options(**{INCLUDE_DELETED: True})
        return db.session.scalar(query)


def signed_in(client) -> bool:
    return client.get("/account").status_code == 200


# --- registration ---------------------------------------------------------


def outbox(app) -> list:
    """The messages the ``memory://`` mail backend received (tests: jobs run in process)."""
    return app.extensions.setdefault("mail_outbox", [])


def link_in(message, path: str) -> str:
    """The path of the first link to ``path`` in ``message``'s body (host stripped)."""
    match = re.search(rf"https?://[^/\s]+({re.escape(path)}\S*)", message.get_content())
    assert match, f"no {path} link in {message.get_content()!r}"
    return match.group(1)


def confirm(client, message):
    """Follow the confirmation link of ``message`` and press its button."""
    path = link_in(message, "/confirm-email/")
    return post_form(client, path)


def test_register_creates_an_unconfirmed_account_and_mails_a_link(app, client):
    response = register(client, email="  Ada@Example.COM ")
    assert response.status_code == 302
    assert response.headers["Location"] == "/sign-in"
    assert "Check your inbox" in client.get("/sign-in").get_data(as_text=True)
    user = load(app)
    assert user.display_name == "Ada"
    assert user.email_confirmed_at is None
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert not signed_in(client)
    # Not confirmed yet: the right password gets "confirm first" (and a new link).
    refused = sign_in(client)
    assert refused.status_code == 422
    assert "confirm your email address first" in refused.get_data(as_text=True)
    assert not signed_in(client)
    [first, again] = outbox(app)
    assert first["To"] == "ada@example.com"
    assert confirm(client, first).headers["Location"] == "/sign-in"
    assert load(app).email_confirmed_at is not None
    # Confirming changed the fingerprint: the second link is dead now.
    assert client.get(link_in(again, "/confirm-email/")).status_code == 404
    assert sign_in(client).status_code == 302
    page = client.get("/account").get_data(as_text=True)
    assert "ada@example.com" in page


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "Use at least 12 characters."),
        ("password1234", "too common or too simple"),
        ("aaaaaaaaaaaaaaaa", "too common or too simple"),
        ("ada-lovelace-2024", "Don&#39;t build your password on your email address or name."),
    ],
)
def test_weak_passwords_are_refused_and_the_input_kept(app, client, password, message):
    response = register(client, email="ada.lovelace@example.com", password=password)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in page
    assert 'value="ada.lovelace@example.com"' in page
    assert password not in page, "passwords are never sent back"
    assert load(app, "ada.lovelace@example.com") is None


def test_mismatched_confirmation_is_refused(client):
    response = register(client, confirm="something else entirely")
    assert response.status_code == 422
    assert "The two passwords differ." in response.get_data(as_text=True)


def test_an_existing_address_gets_the_same_answer_and_its_owner_a_mail(app, client):
    make_user(app)
    response = register(client, email="ADA@example.com", name="Mallory")
    assert response.status_code == 302
    assert response.headers["Location"] == "/sign-in"
    assert "Check your inbox" in client.get("/sign-in").get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 1
    [message] = outbox(app)
    assert message["To"] == "ada@example.com"
    assert "Someone tried to register" in message["Subject"]
    assert link_in(message, "/forgot-password")


# --- sign in --------------------------------------------------------------


def test_sign_in_and_out(app, client):
    make_user(app)
    response = sign_in(client)
    assert response.status_code == 302
    assert response.headers["Location"] == "/account"
    assert signed_in(client)
    response = sign_out(client)
    assert response.status_code == 302
    assert not signed_in(client)


def test_wrong_password_and_unknown_email_look_the_same(app, client, caplog):
    make_user(app)
    wrong = sign_in(client, password="not the right password")
    unknown = sign_in(client, email="nobody@example.com", password="not the right password")
    for response in (wrong, unknown):
        assert response.status_code == 422
        assert "Incorrect email or password." in response.get_data(as_text=True)
    failures = [r for r in caplog.records if "sign-in failed" in r.getMessage()]
    assert len(failures) == 2
    assert all(r.levelno == logging.WARNING for r in failures)
    assert "ada@example.com" not in caplog.text
    assert "not the right password" not in caplog.text


def test_sign_in_clears_the_previous_session(app, client):
    make_user(app)
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    sign_in(client)
    with client.session_transaction() as session:
        assert "planted" not in session


def test_session_cookie_holds_nothing_secret(app, client):
    make_user(app)
    sign_in(client)
    cookie = client.get_cookie("session").value
    serializer = app.session_interface.get_signing_serializer(app)
    contents = serializer.loads(cookie)
    assert set(contents) <= {"_user_id", "_fresh", "_id", "csrf_token", "_flashes", "_remember"}
    assert contents["_user_id"].split(":")[0].isdigit()
    text = repr(contents)
    for secret in (PASSWORD, "ada@example.com", "$argon2"):
        assert secret not in text


def test_remember_me_cookie_flags(app):
    make_user(app)
    client = app.test_client()
    data = {"email": "ada@example.com", "password": PASSWORD, "remember": "y"}
    data["csrf_token"] = csrf_token(client, f"{HTTPS}/sign-in")
    # Over HTTPS Flask-WTF also wants a same-origin Referer, as a browser sends.
    response = client.post(f"{HTTPS}/sign-in", data=data, headers={"Referer": f"{HTTPS}/sign-in"})
    assert response.status_code == 302
    cookies = response.headers.getlist("Set-Cookie")
    cookie = next(c for c in cookies if c.startswith("remember_token="))
    assert "; Secure" in cookie
    assert "; HttpOnly" in cookie
    assert "; SameSite=Lax" in cookie


@pytest.mark.parametrize(
    ("next_value", "expected"),
    [
        ("/contact", "/contact"),
        ("/contact?x=1", "/contact?x=1"),
        ("//evil.example/", "/account"),
        ("https://evil.example/", "/account"),
        ("/\\evil.example", "/account"),
        ("javascript:alert(1)", "/account"),
        ("/ok\r\nLocation: https://evil.example", "/account"),
        ("evil.example", "/account"),
    ],
)
def test_next_only_redirects_to_local_paths(app, client, next_value, expected):
    make_user(app)
    response = client.post(
        "/sign-in",
        query_string={"next": next_value},
        data={
            "csrf_token": csrf_token(client, "/sign-in"),
            "email": "ada@example.com",
            "password": PASSWORD,
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"] == expected


def test_protected_page_sends_to_sign_in_and_back(app, client):
    make_user(app)
    response = client.get("/account/password")
    assert response.status_code == 302
    assert response.headers["Location"] == "/sign-in?next=/account/password"
    response = sign_in(client, query="?next=/account/password")
    assert response.headers["Location"] == "/account/password"


def test_unauthorized_api_style_request_gets_problem_json(client):
    response = client.get("/account", headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"


def test_disabled_account_cannot_sign_in(app, client):
    make_user(app, is_disabled=True)
    right = sign_in(client)
    assert right.status_code == 422
    assert "This account is disabled." in right.get_data(as_text=True)
    wrong = sign_in(client, password="not the right password")
    assert "Incorrect email or password." in wrong.get_data(as_text=True)


def test_outdated_hash_is_upgraded_on_sign_in(app, client):
    from flask_bastion.passwords import PasswordHasher

    old = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1).hash(PASSWORD)
    user_id = make_user(app)
    with app.app_context():
        db.session.get(User, user_id).password_hash = old
        db.session.commit()
    assert sign_in(client).status_code == 302
    upgraded = load(app).password_hash
    assert upgraded != old
    assert not app.extensions["passwords"].needs_rehash(upgraded)


def test_strong_session_protection_drops_a_moved_session(app, client):
    make_user(app)
    sign_in(client)
    assert signed_in(client)
    stolen = client.get("/account", headers={"User-Agent": "Another Browser/1.0"})
    assert stolen.status_code == 302


# --- sign out -------------------------------------------------------------


def test_sign_out_is_post_only_and_csrf_checked(app, client):
    make_user(app)
    sign_in(client)
    assert client.get("/sign-out").status_code == 405
    assert client.post("/sign-out").status_code == 400
    assert signed_in(client)
    sign_out(client)
    assert not signed_in(client)


# --- password change and deletion -------------------------------------------


def change_password(client, current=PASSWORD, new=NEW_PASSWORD):
    return post_form(
        client, "/account/password", current_password=current, new_password=new, confirm=new
    )


def test_change_password_needs_the_current_one(app, client):
    make_user(app)
    sign_in(client)
    response = change_password(client, current="wrong wrong wrong")
    assert response.status_code == 422
    assert "That is not your current password." in response.get_data(as_text=True)


def test_change_password_signs_out_other_sessions(app, client):
    make_user(app)
    other_device = app.test_client()
    sign_in(client)
    sign_in(other_device)
    assert change_password(client).status_code == 302
    assert signed_in(client), "this device stays signed in"
    assert not signed_in(other_device)
    fresh = app.test_client()
    assert sign_in(fresh, password=PASSWORD).status_code == 422
    assert sign_in(fresh, password=NEW_PASSWORD).status_code == 302


def test_change_password_applies_the_strength_rule(app, client):
    make_user(app, name="Lovelace")
    sign_in(client)
    response = change_password(client, new="lovelace-rocks-2024")
    assert response.status_code == 422
    assert "Don&#39;t build your password" in response.get_data(as_text=True)


def delete_account(client, password=PASSWORD):
    return post_form(client, "/account/delete", password=password)


def test_delete_account_soft_deletes_and_signs_out(app, client):
    make_user(app)
    sign_in(client)
    assert delete_account(client, password="wrong wrong wrong").status_code == 422
    assert signed_in(client)
    response = delete_account(client)
    assert response.status_code == 302
    assert not signed_in(client)
    assert load(app).deleted_at is not None
    assert sign_in(client).status_code == 422
    # The address is free again for a new account.
    assert register(client, name="Ada Again").status_code == 302


# --- administration -------------------------------------------------------


def test_admin_page_is_for_admins_only(app, client):
    make_user(app)
    make_user(app, email="root@example.com", name="Root", is_admin=True)
    assert client.get("/admin/").status_code == 302
    sign_in(client)
    assert client.get("/admin/").status_code == 403
    sign_out(client)
    sign_in(client, email="root@example.com")
    page = client.get("/admin/")
    assert page.status_code == 200
    assert "ada@example.com" in page.get_data(as_text=True)


def test_a_sign_in_refused_by_the_https_referer_check_signs_nobody_in(app, client):
    make_user(app)
    https = {"base_url": "https://localhost"}
    page = client.get("/sign-in", **https).get_data(as_text=True)
    token = CSRF_INPUT.search(page).group(1)
    response = client.post(
        "/sign-in",
        data={"email": "ada@example.com", "password": PASSWORD, "csrf_token": token},
        **https,
    )
    assert response.status_code == 400
    assert 'value="ada@example.com"' in response.get_data(as_text=True), "input kept"
    assert client.get("/account", **https).status_code == 302, "not signed in"


def test_form_views_are_re_run_only_with_a_form_that_refuses_during_the_re_run():
    from flask_wtf import FlaskForm

    from app.models.story import Story
    from app.stories.forms import StoryForm
    from app.views import CreateView, DeleteView

    class Safe(CreateView):
        model = Story
        form_class = StoryForm

    class Plain(Safe):
        form_class = FlaskForm

    class Remove(DeleteView):
        model = Story

    assert Safe.as_view("a").csrf_rerender is True
    assert Plain.as_view("b").csrf_rerender is False
    assert getattr(Remove.as_view("c"), "csrf_rerender", False) is False, "no form: never re-run"


def remember_sign_in(app):
    make_user(app)
    client = app.test_client()
    data = {"email": "ada@example.com", "password": PASSWORD, "remember": "y"}
    data["csrf_token"] = csrf_token(client, f"{HTTPS}/sign-in")
    response = client.post(f"{HTTPS}/sign-in", data=data, headers={"Referer": f"{HTTPS}/sign-in"})
    assert response.status_code == 302
    return client


def test_sign_out_deletes_the_remember_me_cookie_with_its_flags(app):
    client = remember_sign_in(app)
    token = csrf_token(client, f"{HTTPS}/contact")
    response = client.post(
        f"{HTTPS}/sign-out", data={"csrf_token": token}, headers={"Referer": f"{HTTPS}/contact"}
    )
    assert response.status_code == 302
    deletions = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("remember_")]
    assert len(deletions) == 1, deletions
    for flag in ("Max-Age=0", "; Secure", "; HttpOnly", "; SameSite=Lax", "Path=/"):
        assert flag in deletions[0]
    # The browser drops its session cookie when it closes; the remember-me
    # cookie must not sign it back in.
    client.delete_cookie("session", domain="localhost")
    assert client.get_cookie("remember_token", domain="localhost") is None
    assert client.get(f"{HTTPS}/account").status_code == 302


def test_an_anonymous_session_clears_remember_me_with_the_cookie_flags(app, client):
    # Strong session protection clears remember-me on every anonymous session
    # that holds something (here a flash message).
    client.get("/account")
    response = client.get("/sign-in", base_url=HTTPS)
    deletions = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("remember_")]
    assert deletions, response.headers
    assert all("; Secure" in c and "; HttpOnly" in c and "SameSite=Lax" in c for c in deletions)
