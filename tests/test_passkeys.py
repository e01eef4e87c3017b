"""Passkeys on the account: add (real endpoints, a software authenticator), rename, remove.

What a user would notice: adding a passkey asks for the password and shows
it on the page with the name given (or one after the browser); two can be
added, one authenticator only once; renaming and removing work, removing
needs the password; each change is in the security log; a forged or
replayed answer is refused with a message, never a 500.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from sqlalchemy import func, select

from app.extensions import db
from app.models.passkey import Passkey
from app.models.user_session import SecurityEvent
from tests.passkey_authenticator import (
    AT,
    UP,
    SoftAuthenticator,
    add_passkey,
    page_csrf,
    post_json,
)
from tests.test_auth import PASSWORD, make_user, outbox, sign_in

PAGE = "/account/passkeys"
START = dt.datetime(2030, 3, 1, 8, 0, 0, tzinfo=dt.UTC)


def kinds(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(SecurityEvent.kind).order_by(SecurityEvent.id)))


def stored(app) -> list[Passkey]:
    with app.app_context():
        return list(db.session.scalars(select(Passkey).order_by(Passkey.id)))


def signed_in_ada(app):
    make_user(app)
    client = app.test_client()
    sign_in(client)
    return client


def post_form(client, path: str, form_path: str, **data: str):
    """POST a form of the passkeys page; its prefixed CSRF field is named after the form's."""
    prefix = next(iter(data)).rsplit("-", 1)[0]
    data[f"{prefix}-csrf_token"] = page_csrf(client, form_path)
    return client.post(path, data=data)


def detail(response) -> str:
    assert response.mimetype == "application/problem+json", response.get_data(as_text=True)
    return response.get_json()["detail"]


def test_add_a_passkey_then_a_second_one(any_db):
    app = any_db
    client = signed_in_ada(app)
    assert "Add a passkey" in client.get("/account").get_data(as_text=True)
    phone, laptop = SoftAuthenticator(), SoftAuthenticator()
    response = add_passkey(client, phone, name="Phone")
    assert response.status_code == 200
    assert response.get_json() == {"redirect": "/account/passkeys"}
    page = client.get(PAGE).get_data(as_text=True)
    assert "Passkey “Phone” added" in page
    notice = outbox(app)[-1]
    assert notice["To"] == "ada@example.com"
    assert notice["Subject"] == "[Bastion] A passkey was added to your account"
    assert 'A passkey called "Phone" was just added' in notice.get_content()
    assert '<h3 class="h5 mb-1">Phone</h3>' in page
    assert add_passkey(client, laptop, name="").status_code == 200
    keys = stored(app)
    assert [k.name for k in keys] == ["Phone", "Passkey (Unknown device)"]
    assert keys[0].credential_id == phone.credential_id
    assert keys[0].transports == "internal"  # the unknown "made-up" transport is dropped
    assert keys[0].user_handle == keys[1].user_handle  # one WebAuthn user.id per account
    assert len(keys[0].user_handle) == 32
    assert kinds(app)[-2:] == ["passkey_added", "passkey_added"]
    account = client.get("/account").get_data(as_text=True)
    assert "You have 2 passkeys (Phone, Passkey (Unknown device))" in account


def test_the_options_ask_for_a_discoverable_verified_passkey_and_exclude_known_ones(any_db):
    client = signed_in_ada(any_db)
    add_passkey(client, SoftAuthenticator())
    csrf = page_csrf(client, PAGE)
    options = post_json(client, f"{PAGE}/options", {"password": PASSWORD}, csrf)
    assert options.headers["Cache-Control"] == "no-store"
    body = options.get_json()
    assert body["authenticatorSelection"]["residentKey"] == "required"
    assert body["authenticatorSelection"]["userVerification"] == "required"
    assert body["attestation"] == "none"
    assert body["rp"] == {"id": "localhost", "name": "Bastion"}
    assert body["user"]["name"] == "ada@example.com"
    assert len(body["excludeCredentials"]) == 1
    assert len(body["challenge"]) >= 43  # 32 random bytes


def test_adding_needs_the_password(any_db):
    app = any_db
    client = signed_in_ada(app)
    csrf = page_csrf(client, PAGE)
    wrong = post_json(client, f"{PAGE}/options", {"password": "not it at all"}, csrf)
    assert wrong.status_code == 400
    assert detail(wrong) == "That is not your password."
    assert kinds(app)[-1] == "passkey_failed"
    empty = post_json(client, f"{PAGE}/options", {"password": ""}, csrf)
    assert detail(empty) == "Please enter your password."
    huge = post_json(client, f"{PAGE}/options", {"password": "x" * 100_000}, csrf)
    assert huge.status_code == 400
    assert detail(huge) == "That is not your password."
    # Without options (so without a challenge) no answer is accepted.
    credential = SoftAuthenticator().create(
        {"user": {"id": "AAAA"}, "challenge": "AAAA", "rp": {"id": "localhost"}}
    )
    refused = post_json(client, PAGE, {"credential": credential}, csrf)
    assert refused.status_code == 400
    assert "expired" in detail(refused)
    assert stored(app) == []


def test_the_same_authenticator_is_added_once(any_db):
    client = signed_in_ada(any_db)
    phone = SoftAuthenticator()
    assert add_passkey(client, phone).status_code == 200
    again = add_passkey(client, phone)
    assert again.status_code == 400
    assert detail(again) == "This passkey is already registered."
    assert len(stored(any_db)) == 1


@pytest.mark.parametrize(
    ("bend", "why"),
    [
        ({"origin": "https://evil.example"}, "wrong origin"),
        ({"origin": "http://localhost:8000"}, "another port is another origin"),
        ({"rp_id": "evil.example"}, "wrong RP ID"),
        ({"flags": UP | AT}, "no user verification"),
    ],
)
def test_a_bent_registration_is_refused(any_db, bend, why):
    client = signed_in_ada(any_db)
    response = add_passkey(client, SoftAuthenticator(), **bend)
    assert response.status_code == 400, why
    assert detail(response) == "Your passkey could not be verified. Please try again."
    assert stored(any_db) == []


def test_a_registration_challenge_is_single_use_and_expires(any_db):
    with time_machine.travel(START, tick=False) as clock:
        client = signed_in_ada(any_db)
        csrf = page_csrf(client, PAGE)
        options = post_json(client, f"{PAGE}/options", {"password": PASSWORD}, csrf).get_json()
        clock.shift(301)
        late = SoftAuthenticator().create(options)
        assert "expired" in detail(post_json(client, PAGE, {"credential": late}, csrf))
        options = post_json(client, f"{PAGE}/options", {"password": PASSWORD}, csrf).get_json()
        clock.shift(299)
        first = post_json(client, PAGE, {"credential": SoftAuthenticator().create(options)}, csrf)
        assert first.status_code == 200
        replay = post_json(client, PAGE, {"credential": SoftAuthenticator().create(options)}, csrf)
        assert "expired" in detail(replay)
    assert len(stored(any_db)) == 1


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b'"a string"',
        b'{"credential": null}',
        b'{"credential": []}',
        b'{"credential": {"id": 1}}',
        b'{"credential": {"id": "x", "rawId": "x", "response": {}, "type": "public-key"}}',
        b'{"credential": {"id": "%%%", "rawId": "%%%", "type": "public-key", "response":'
        b' {"clientDataJSON": "%%%", "attestationObject": "%%%"}}}',
        b'{"credential": {"id": "AA", "rawId": "AA", "type": "public-key", "response":'
        b' {"clientDataJSON": "e30", "attestationObject": "oA"}}, "name": 5}',
    ],
)
def test_malformed_registration_bodies_are_a_400(any_db, body):
    client = signed_in_ada(any_db)
    csrf = page_csrf(client, PAGE)
    assert post_json(client, f"{PAGE}/options", {"password": PASSWORD}, csrf).status_code == 200
    response = post_json(client, PAGE, body, csrf)
    assert response.status_code == 400
    assert detail(response)
    bad_options = post_json(client, f"{PAGE}/options", body, csrf)
    assert bad_options.status_code == 400


def test_without_the_csrf_header_nothing_happens(any_db):
    client = signed_in_ada(any_db)
    response = client.post(
        f"{PAGE}/options", json={"password": PASSWORD}, headers={"Accept": "application/json"}
    )
    assert response.status_code == 400
    assert response.get_json()["title"] == "Form expired"


def test_rename(any_db):
    app = any_db
    client = signed_in_ada(app)
    add_passkey(client, SoftAuthenticator(), name="Phone")
    key = stored(app)[0]
    field = f"passkey-{key.id}-name"
    response = post_form(client, f"{PAGE}/{key.id}/rename", PAGE, **{field: "  Old\u202e phone  "})
    assert response.status_code == 302
    assert stored(app)[0].name == "Old phone"  # trimmed, the bidi override gone
    assert kinds(app)[-1] == "passkey_renamed"
    empty = post_form(client, f"{PAGE}/{key.id}/rename", PAGE, **{field: "   "})
    assert empty.status_code == 422
    assert "Please give the passkey a name." in empty.get_data(as_text=True)
    long = post_form(client, f"{PAGE}/{key.id}/rename", PAGE, **{field: "x" * 65})
    assert long.status_code == 422
    assert stored(app)[0].name == "Old phone"


def test_remove_needs_the_password(any_db):
    app = any_db
    client = signed_in_ada(app)
    add_passkey(client, SoftAuthenticator(), name="Phone")
    add_passkey(client, SoftAuthenticator(), name="Laptop")
    phone = stored(app)[0]
    field = f"remove-{phone.id}-password"
    wrong = post_form(client, f"{PAGE}/{phone.id}/remove", PAGE, **{field: "wrong password!"})
    assert wrong.status_code == 422
    assert "That is not your password." in wrong.get_data(as_text=True)
    assert len(stored(app)) == 2
    assert kinds(app)[-1] == "passkey_failed"
    done = post_form(client, f"{PAGE}/{phone.id}/remove", PAGE, **{field: PASSWORD})
    assert done.status_code == 302
    assert [k.name for k in stored(app)] == ["Laptop"]
    assert kinds(app)[-1] == "passkey_removed"
    assert "Passkey “Phone” removed" in client.get(PAGE).get_data(as_text=True)
    notice = outbox(app)[-1]
    assert notice["Subject"] == "[Bastion] A passkey was removed from your account"
    assert 'The passkey called "Phone" was just removed' in notice.get_content()


def test_another_accounts_passkey_can_not_be_renamed_or_removed(any_db):
    app = any_db
    make_user(app, email="bob@example.com", name="Bob")
    bob = app.test_client()
    sign_in(bob, email="bob@example.com")
    add_passkey(bob, SoftAuthenticator(), name="Bob's")
    key = stored(app)[0]
    client = signed_in_ada(app)
    renamed = post_form(
        client, f"{PAGE}/{key.id}/rename", PAGE, **{f"passkey-{key.id}-name": "Mine"}
    )
    removed = post_form(
        client, f"{PAGE}/{key.id}/remove", PAGE, **{f"remove-{key.id}-password": PASSWORD}
    )
    assert renamed.status_code == removed.status_code == 302
    assert "That passkey no longer exists." in client.get(PAGE).get_data(as_text=True)
    assert [k.name for k in stored(app)] == ["Bob's"]


def test_pages_need_a_signed_in_user(client):
    assert client.get(PAGE).status_code == 302
    assert client.post(f"{PAGE}/options", json={}).status_code in (302, 400)


def test_deleting_the_account_for_good_removes_its_passkeys(any_db):
    app = any_db
    client = signed_in_ada(app)
    add_passkey(client, SoftAuthenticator())
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            pytest.skip("SQLite enforces ON DELETE CASCADE only with PRAGMA foreign_keys (off)")
        from app.models.user import User

        user = db.session.scalar(select(User))
        db.session.delete(user)
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(Passkey)) == 0


def test_the_passkeys_script_loads_only_where_passkeys_are_used(any_db):
    client = any_db.test_client()
    assert "/static/dist/passkeys-" not in client.get("/").get_data(as_text=True)
    assert "/static/dist/passkeys-" in client.get("/sign-in").get_data(as_text=True)
    make_user(any_db)
    sign_in(client)
    assert "/static/dist/passkeys-" not in client.get("/account").get_data(as_text=True)
    page = client.get(PAGE).get_data(as_text=True)
    assert "/static/dist/passkeys-" in page
    assert "data-passkey-start disabled" in page  # enabled by the script only
    assert '<p class="form-text mb-0" data-passkey-note>Adding a passkey needs JavaScript' in page


@pytest.mark.settings(
    WEBAUTHN_RP_ID="Example.COM",
    WEBAUTHN_RP_NAME="Example shop",
    WEBAUTHN_ORIGIN="https://example.com, https://www.example.com/",
)
def test_the_relying_party_comes_from_the_settings(app):
    client = signed_in_ada(app)
    csrf = page_csrf(client, PAGE)
    options = post_json(client, f"{PAGE}/options", {"password": PASSWORD}, csrf).get_json()
    assert options["rp"] == {"id": "example.com", "name": "Example shop"}
    # The request's own origin is not one of the configured ones.
    here = add_passkey(client, SoftAuthenticator(), origin="http://localhost", rp_id="example.com")
    assert here.status_code == 400
    www = SoftAuthenticator(origin="https://www.example.com", rp_id="example.com")
    assert add_passkey(client, www).status_code == 200


def test_an_account_holds_at_most_twenty_passkeys(any_db):
    app = any_db
    client = signed_in_ada(app)
    assert add_passkey(client, SoftAuthenticator(), name="Key 0").status_code == 200
    with app.app_context():  # 18 more as rows (each through the page took 60 ms)
        [first] = db.session.scalars(select(Passkey))
        db.session.add_all(
            Passkey(
                user_id=first.user_id,
                credential_id=bytes([n]) * 16,
                public_key=first.public_key,
                user_handle=first.user_handle,
                name=f"Key {n}",
            )
            for n in range(1, 19)
        )
        db.session.commit()
    assert add_passkey(client, SoftAuthenticator(), name="Key 19").status_code == 200, "the 20th"
    assert len(stored(app)) == 20
    csrf = page_csrf(client, PAGE)
    refused = post_json(client, f"{PAGE}/options", {"password": PASSWORD}, csrf)
    assert detail(refused).startswith("You have 20 passkeys, the most an account can have.")


def test_a_credential_id_longer_than_the_spec_allows_is_refused(any_db):
    client = signed_in_ada(any_db)
    response = add_passkey(client, SoftAuthenticator(credential_id=b"x" * 1024))
    assert detail(response) == "Your passkey could not be verified. Please try again."
    assert stored(any_db) == []


def test_the_command_line_removes_every_passkey_of_someone_who_lost_them(any_db):
    app = any_db
    client = signed_in_ada(app)
    add_passkey(client, SoftAuthenticator(), name="Phone")
    add_passkey(client, SoftAuthenticator(), name="Laptop")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "passkeys-off", "ADA@example.com"])
    assert result.exit_code == 0, result.output
    assert "2 passkey(s) removed from ada@example.com; 1 session(s) signed out" in result.output
    assert stored(app) == []
    assert client.get("/account").status_code == 302  # signed out everywhere
    assert sign_in(client).headers["Location"] == "/account"  # the password alone again
    assert "passkey_removed" in kinds(app)
    notice = outbox(app)[-1]
    assert notice["Subject"] == "[Bastion] A passkey was removed from your account"
    assert "removed every passkey" in notice.get_content()
    assert "(Phone, Laptop)" in notice.get_content()
    again = runner.invoke(args=["users", "passkeys-off", "ada@example.com"])
    assert again.exit_code == 1
    assert "has no passkeys" in again.output
    unknown = runner.invoke(args=["users", "passkeys-off", "nobody@example.com"])
    assert "no account" in unknown.output
