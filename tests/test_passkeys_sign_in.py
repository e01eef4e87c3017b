"""Signing in with a passkey: without a password, and as the second step after it.

What a user would notice: "Sign in with a passkey" signs in (next page,
"keep me signed in", the security log) with no password and no code step;
after the password, an account with a passkey is asked for it (or for a
code when TOTP is on too); a passkey from another site, another account, an
old request, a copied authenticator or a disabled account does not sign in,
and each refusal is a 400 with a message, never a 500; attempts are
limited like password sign-ins.
"""

from __future__ import annotations

import datetime as dt
import re

import pyotp
import pytest
import time_machine
from sqlalchemy import select, update

from app.extensions import db
from app.models.base import utcnow
from app.models.passkey import Passkey
from app.models.user import User
from app.models.user_session import SecurityEvent
from tests.passkey_authenticator import (
    UP,
    SoftAuthenticator,
    add_passkey,
    b64url,
    page_csrf,
    passkey_sign_in,
    post_json,
    second_step,
)
from tests.test_auth import make_user, sign_in, sign_out, signed_in

START = dt.datetime(2030, 3, 1, 8, 0, 0, tzinfo=dt.UTC)
NOT_VERIFIED = "Your passkey could not be verified. Please try again."


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def events(app) -> list[tuple[str, str]]:
    with app.app_context():
        rows = db.session.execute(
            select(SecurityEvent.kind, SecurityEvent.detail).order_by(SecurityEvent.id)
        )
        return [tuple(row) for row in rows]


def enrolled(app, email="ada@example.com", name="Ada", **fields) -> SoftAuthenticator:
    """An account with one passkey ("Phone"), added through the page, then signed out."""
    make_user(app, email=email, name=name, **fields)
    client = app.test_client()
    sign_in(client, email=email)
    authenticator = SoftAuthenticator()
    assert add_passkey(client, authenticator).status_code == 200
    return authenticator


def detail(response) -> str:
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    return response.get_json()["detail"]


# --- passwordless ----------------------------------------------------------------------


def test_sign_in_with_a_passkey_alone(any_db, clock):
    app = any_db
    phone = enrolled(app)
    client = app.test_client()
    response = passkey_sign_in(client, phone, query="?next=/stories/", remember=True)
    assert response.status_code == 200
    assert response.get_json() == {"redirect": "/stories/"}
    assert signed_in(client)
    assert client.get_cookie("remember_token") is not None
    assert events(app)[-1] == ("sign_in", "with passkey “Phone”, no password, kept signed in")
    with app.app_context():
        key = db.session.scalar(select(Passkey))
        assert key.sign_count == 1
        assert key.last_used_at == START


def test_the_options_are_the_same_for_everyone(any_db):
    enrolled(any_db)
    client = any_db.test_client()
    csrf = page_csrf(client, "/sign-in")
    body = post_json(client, "/sign-in/passkey/options", {}, csrf).get_json()
    assert body["allowCredentials"] == []
    assert body["userVerification"] == "required"
    assert body["rpId"] == "localhost"
    again = post_json(client, "/sign-in/passkey/options", {}, csrf).get_json()
    assert body["challenge"] != again["challenge"]
    assert {k: v for k, v in body.items() if k != "challenge"} == {
        k: v for k, v in again.items() if k != "challenge"
    }


def test_a_passkey_sign_in_needs_no_code_even_with_totp_on(any_db):
    from app.models.two_factor import TwoFactor

    app = any_db
    phone = enrolled(app)
    with app.app_context():
        user = db.session.scalar(select(User))
        db.session.add(TwoFactor(user_id=user.id, secret="x", confirmed_at=utcnow()))
        db.session.commit()
    client = app.test_client()
    assert passkey_sign_in(client, phone).get_json() == {"redirect": "/account"}
    assert signed_in(client)


@pytest.mark.parametrize(
    ("bend", "why"),
    [
        ({"origin": "https://evil.example"}, "a phishing site's origin"),
        ({"origin": "http://localhost.evil.example"}, "a look-alike origin"),
        ({"rp_id": "evil.example"}, "signed for another RP ID"),
        ({"flags": UP}, "no user verification: not both factors"),
        ({"user_handle": b"someone else"}, "a user handle that isn't the account's"),
    ],
)
def test_a_bent_assertion_is_refused(any_db, bend, why):
    app = any_db
    phone = enrolled(app)
    client = app.test_client()
    response = passkey_sign_in(client, phone, **bend)
    assert detail(response) == NOT_VERIFIED, why
    assert not signed_in(client)
    assert events(app)[-1] == ("passkey_failed", "sign-in (invalid)")


def test_a_wrong_signature_is_refused(any_db):
    app = any_db
    phone = enrolled(app)
    impostor = SoftAuthenticator(credential_id=phone.credential_id, user_handle=phone.user_handle)
    client = app.test_client()
    assert detail(passkey_sign_in(client, impostor)) == NOT_VERIFIED
    assert not signed_in(client)


def test_an_unknown_passkey_is_refused(any_db):
    enrolled(any_db)
    stranger = SoftAuthenticator(user_handle=b"x" * 32)
    client = any_db.test_client()
    assert "not registered" in detail(passkey_sign_in(client, stranger))
    assert not signed_in(client)


def test_a_challenge_expires_and_is_used_once(any_db, clock):
    app = any_db
    phone = enrolled(app)
    client = app.test_client()
    csrf = page_csrf(client, "/sign-in")
    options = post_json(client, "/sign-in/passkey/options", {}, csrf).get_json()
    clock.shift(301)
    late = post_json(client, "/sign-in/passkey", {"credential": phone.get(options)}, csrf)
    assert "expired" in detail(late)
    options = post_json(client, "/sign-in/passkey/options", {}, csrf).get_json()
    clock.shift(60)
    cookie = client.get_cookie("session").value  # the session as it was, challenge included
    credential = phone.get(options)
    assert (
        post_json(client, "/sign-in/passkey", {"credential": credential}, csrf).status_code == 200
    )
    # The same answer again, on a copy of the old session cookie that still holds the challenge:
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    replay = post_json(thief, "/sign-in/passkey", {"credential": credential}, csrf)
    assert "expired" in detail(replay)
    assert not signed_in(thief)


def test_a_replay_is_refused_even_for_a_passkey_without_a_counter(any_db, clock):
    app = any_db
    synced = enrolled(app)
    synced.counts = False  # a synced passkey reports 0 every time
    client = app.test_client()
    csrf = page_csrf(client, "/sign-in")
    options = post_json(client, "/sign-in/passkey/options", {}, csrf).get_json()
    cookie = client.get_cookie("session").value
    credential = synced.get(options)
    clock.shift(1)
    assert (
        post_json(client, "/sign-in/passkey", {"credential": credential}, csrf).status_code == 200
    )
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    assert "expired" in detail(
        post_json(thief, "/sign-in/passkey", {"credential": credential}, csrf)
    )
    clock.shift(1)
    again = app.test_client()  # a new request, a new challenge: fine with a counter of 0
    assert passkey_sign_in(again, synced).status_code == 200


def test_a_counter_that_goes_back_is_refused_and_logged(any_db, clock):
    app = any_db
    phone = enrolled(app)
    client = app.test_client()
    assert passkey_sign_in(client, phone, count=7).status_code == 200
    sign_out(client)
    clock.shift(1)
    cloned = passkey_sign_in(client, phone, count=7)
    assert detail(cloned) == NOT_VERIFIED
    assert not signed_in(client)
    assert events(app)[-1] == ("passkey_clone_suspected", "Phone")
    clock.shift(1)
    assert passkey_sign_in(client, phone, count=8).status_code == 200


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"is_disabled": True}, "This account is disabled. Contact the site's team."),
        ({"email_confirmed_at": None}, "Please confirm your email address first"),
    ],
)
def test_disabled_and_unconfirmed_accounts_can_not_sign_in(any_db, fields, message):
    app = any_db
    phone = enrolled(app)
    with app.app_context():
        db.session.execute(update(User).values(**fields))
        db.session.commit()
    client = app.test_client()
    assert detail(passkey_sign_in(client, phone)).startswith(message)
    assert not signed_in(client)


def test_a_deleted_account_can_not_sign_in(any_db):
    app = any_db
    phone = enrolled(app)
    with app.app_context():
        db.session.scalar(select(User)).soft_delete()
        db.session.commit()
    client = app.test_client()
    assert "not registered" in detail(passkey_sign_in(client, phone))
    assert not signed_in(client)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"null",
        b"[]",
        b'{"credential": "x"}',
        b'{"credential": {}}',
        b'{"credential": {"rawId": 5}}',
        b'{"credential": {"rawId": "%%%"}}',
        b'{"credential": {"rawId": "A"}}',
        b'{"credential": {"rawId": "' + b"A" * 5000 + b'"}}',
        b'{"credential": {"rawId": "AAAA", "id": "AAAA", "type": "public-key"}}',
    ],
)
def test_malformed_bodies_are_a_400(any_db, body):
    enrolled(any_db)
    client = any_db.test_client()
    csrf = page_csrf(client, "/sign-in")
    assert post_json(client, "/sign-in/passkey/options", {}, csrf).status_code == 200
    assert detail(post_json(client, "/sign-in/passkey", body, csrf))


def test_a_malformed_answer_for_a_known_passkey_is_a_400(any_db):
    phone = enrolled(any_db)
    client = any_db.test_client()
    csrf = page_csrf(client, "/sign-in")
    options = post_json(client, "/sign-in/passkey/options", {}, csrf).get_json()
    credential = phone.get(options)
    credential["response"]["authenticatorData"] = "AAAA"
    assert detail(post_json(client, "/sign-in/passkey", {"credential": credential}, csrf))
    options = post_json(client, "/sign-in/passkey/options", {}, csrf).get_json()
    credential = phone.get(options)
    credential["response"]["signature"] = 12
    assert detail(post_json(client, "/sign-in/passkey", {"credential": credential}, csrf))


# --- the second step -------------------------------------------------------------------


def test_a_password_alone_no_longer_signs_in_a_passkey_needs_to_follow(any_db):
    app = any_db
    phone = enrolled(app)
    client = app.test_client()
    response = sign_in(client, remember="y", query="?next=/stories/")
    assert response.headers["Location"] == "/sign-in/two-factor?next=/stories/"
    assert not signed_in(client)
    page = client.get("/sign-in/two-factor").get_data(as_text=True)
    assert "Use one of your passkeys to finish signing in." in page
    assert 'name="code"' not in page  # no TOTP: no code field
    done = second_step(client, phone, query="?next=/stories/")
    assert done.get_json() == {"redirect": "/stories/"}
    assert signed_in(client)
    assert client.get_cookie("remember_token") is not None
    assert events(app)[-1] == (
        "sign_in",
        "with password and passkey “Phone”, kept signed in",
    )


def test_the_second_step_offers_the_accounts_passkeys(any_db):
    phone = enrolled(any_db)
    client = any_db.test_client()
    sign_in(client)
    csrf = page_csrf(client, "/sign-in/two-factor")
    body = post_json(client, "/sign-in/two-factor/passkey/options", {}, csrf).get_json()
    assert [c["id"] for c in body["allowCredentials"]] == [b64url(phone.credential_id)]
    assert body["userVerification"] == "preferred"


def test_with_totp_on_too_either_finishes_the_sign_in(any_db, clock):
    app = any_db
    make_user(app)
    client = app.test_client()
    sign_in(client)
    phone = SoftAuthenticator()
    add_passkey(client, phone)
    from tests.test_two_factor import turn_on

    secret, _ = turn_on(client)
    sign_out(client)
    clock.shift(60)
    sign_in(client)
    page = client.get("/sign-in/two-factor").get_data(as_text=True)
    assert "Enter the code from your authenticator app" in page
    assert "Use a passkey" in page
    assert second_step(client, phone).status_code == 200
    assert signed_in(client)
    sign_out(client)
    clock.shift(60)
    sign_in(client)
    from tests.test_two_factor import second_step as code_step

    assert code_step(client, pyotp.TOTP(secret).now()).status_code == 302
    assert signed_in(client)


def test_another_accounts_passkey_does_not_finish_the_step(any_db):
    app = any_db
    enrolled(app)
    bobs = enrolled(app, email="bob@example.com", name="Bob")
    client = app.test_client()
    sign_in(client)  # Ada's password...
    response = second_step(client, bobs)  # ...and Bob's passkey
    assert detail(response) == "This passkey is not one of this account's passkeys."
    assert not signed_in(client)
    assert events(app)[-1] == ("passkey_failed", "sign-in (other_account)")
    with app.app_context():
        ada = db.session.scalar(select(User).where(User.email == "ada@example.com"))
        last = db.session.scalar(select(SecurityEvent).order_by(SecurityEvent.id.desc()))
        assert last.user_id == ada.id


def test_the_second_step_needs_the_password_step(any_db):
    phone = enrolled(any_db)
    client = any_db.test_client()
    csrf = page_csrf(client, "/sign-in")
    options = post_json(client, "/sign-in/two-factor/passkey/options", {}, csrf)
    assert "sign in with your password again" in detail(options)
    refused = post_json(
        client,
        "/sign-in/two-factor/passkey",
        {"credential": phone.get({"challenge": "AAAA", "rpId": "localhost"})},
        csrf,
    )
    assert "sign in with your password again" in detail(refused)
    assert not signed_in(client)


def test_a_second_step_challenge_does_not_sign_in_passwordless(any_db):
    phone = enrolled(any_db)
    client = any_db.test_client()
    sign_in(client)
    csrf = page_csrf(client, "/sign-in/two-factor")
    options = post_json(client, "/sign-in/two-factor/passkey/options", {}, csrf).get_json()
    credential = phone.get(options)
    assert "expired" in detail(
        post_json(client, "/sign-in/passkey", {"credential": credential}, csrf)
    )
    assert not signed_in(client)


# --- REQUIRE_2FA_FOR_ADMINS --------------------------------------------------------------


@pytest.mark.settings(REQUIRE_2FA_FOR_ADMINS=True)
def test_a_passkey_meets_require_2fa_for_admins(app):
    make_user(app, is_admin=True)
    client = app.test_client()
    sign_in(client)
    assert client.get("/admin/").headers["Location"] == "/account/two-factor"
    assert 'A <a href="/account/passkeys">passkey</a> is a second factor too' in client.get(
        "/account/two-factor"
    ).get_data(as_text=True)
    assert client.get("/account/passkeys").status_code == 200
    assert add_passkey(client, SoftAuthenticator()).status_code == 200
    listing = client.get("/admin/")
    assert listing.status_code == 200
    assert re.search(
        r"<td>ada@example\.com</td>.*?<td>passkey</td>", listing.get_data(as_text=True), re.S
    )
    log = client.get("/admin/accounts/1/security-log").get_data(as_text=True)
    assert "passkeys: <strong>1</strong>" in log


# --- rate limits -----------------------------------------------------------------------

throttled = pytest.mark.settings(RATELIMIT_ENABLED=True, RATELIMIT_DEFAULT="1000 per second")


@throttled
def test_passkey_sign_in_is_limited_per_client(app, clock):
    phone = enrolled(app)

    def from_address(last: int):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"203.0.113.{last}"
        return client, page_csrf(client, "/sign-in")

    client, csrf = from_address(7)
    answers = [post_json(client, "/sign-in/passkey", {"credential": {}}, csrf) for _ in range(6)]
    assert [a.status_code for a in answers] == [400] * 5 + [429]
    assert answers[-1].get_json()["status"] == 429  # JSON for the script, with Retry-After
    assert "Retry-After" in answers[-1].headers
    other, other_csrf = from_address(8)
    options = [post_json(other, "/sign-in/passkey/options", {}, other_csrf) for _ in range(6)]
    assert [o.status_code for o in options] == [200] * 5 + [429]
    fresh, _ = from_address(9)
    assert passkey_sign_in(fresh, phone).status_code == 200  # another address: unaffected
    clock.shift(61)
    assert passkey_sign_in(client, phone).status_code == 200


@throttled
def test_wrong_passkeys_at_the_second_step_are_limited_per_account(app, clock):
    enrolled(app)
    bobs = enrolled(app, email="bob@example.com", name="Bob")
    statuses = []
    for n in range(6):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"198.51.100.{n}"
        sign_in(client)
        csrf = page_csrf(client, "/sign-in/two-factor")
        options = post_json(client, "/sign-in/two-factor/passkey/options", {}, csrf).get_json()
        answer = {"credential": bobs.get(options)}
        statuses.append(post_json(client, "/sign-in/two-factor/passkey", answer, csrf).status_code)
    assert statuses == [400] * 5 + [429]
