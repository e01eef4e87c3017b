"""The "API keys" section of the account page: create (shown once), revoke, refusals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models.user import User
from tests.helpers import post_form
from tests.test_api_keys import check, key_count, load_key, new_key
from tests.test_auth import make_user, sign_in


def signed_in_client(app, email="ada@example.com"):
    with app.app_context():
        exists = db.session.scalar(select(User.id).where(User.email == email))
    if exists is None:
        make_user(app, email=email, name=email.split("@")[0])
    client = app.test_client()
    assert sign_in(client, email=email).status_code == 302
    return client


def create_on_page(client, **fields):
    form = {"name": "laptop", "scope": "read", "expires": "90", **fields}
    return post_form(client, "/account/api-keys", "/account", **form)


def shown_key(page: str) -> str:
    start = page.index('id="new-api-key"')
    value = page.index('value="', start) + len('value="')
    return page[value : page.index('"', value)]


def test_account_page_creates_a_key_and_shows_it_once(any_app):
    client = signed_in_client(any_app)
    response = create_on_page(client, name="CI deploy", scope="write", expires="30")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    raw = shown_key(response.get_data(as_text=True))
    key_id = check(any_app, raw)
    assert key_id is not None
    key = load_key(any_app, key_id)
    assert (key.name, key.scope) == ("CI deploy", "write")
    assert timedelta(days=29) < key.expires_at - key.created_at <= timedelta(days=30)
    # never in a cookie, the session or a later page
    assert raw[13:] not in " ".join(response.headers.getlist("Set-Cookie"))
    with client.session_transaction() as session:
        assert raw[13:] not in repr(dict(session))
    later = client.get("/account")
    page = later.get_data(as_text=True)
    assert raw[13:] not in page
    assert "new-api-key" not in page
    assert f"bst_{key.prefix}_" in page
    assert "CI deploy" in page


def test_never_expiring_key_from_the_page(app):
    client = signed_in_client(app)
    raw = shown_key(create_on_page(client, expires="never").get_data(as_text=True))
    assert load_key(app, check(app, raw)).expires_at is None


@pytest.mark.parametrize(
    "fields",
    [
        {"name": ""},
        {"name": "\x00\x1b\u202e"},
        {"name": "n" * 81},
        {"scope": "admin"},
        {"scope": ""},
        {"expires": "7"},
        {"expires": "\x00"},
    ],
)
def test_bad_input_shows_the_form_again(any_app, fields):
    client = signed_in_client(any_app)
    response = create_on_page(client, **fields)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Please correct the fields marked below." in page
    assert "new-api-key" not in page
    assert key_count(any_app) == 0


def test_csrf_refusal_creates_nothing(app):
    client = signed_in_client(app)
    response = client.post(
        "/account/api-keys", data={"name": "laptop", "scope": "read", "expires": "90"}
    )
    assert response.status_code == 400
    assert "new-api-key" not in response.get_data(as_text=True)
    assert key_count(app) == 0


def test_signed_out_visitors_create_nothing(app):
    client = app.test_client()
    response = post_form(client, "/account/api-keys", "/contact", name="x", scope="read")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")
    assert key_count(app) == 0


@pytest.mark.settings(
    RATELIMIT_ENABLED=True, RATELIMIT_DEFAULT="1000 per second", API_KEY_RATE_LIMIT="2 per hour"
)
def test_key_creation_is_rate_limited(app):
    client = signed_in_client(app)
    assert create_on_page(client).status_code == 200
    assert create_on_page(client).status_code == 200
    response = create_on_page(client)
    assert response.status_code == 429
    assert "Retry-After" in response.headers
    assert key_count(app) == 2


def test_revoke_from_the_page(any_app):
    key_id, raw = new_key(any_app)
    client = signed_in_client(any_app)
    response = post_form(client, f"/account/api-keys/{key_id}/revoke", "/account")
    assert response.status_code == 302
    assert response.headers["Location"] == "/account#api-keys"
    assert load_key(any_app, key_id).revoked_at is not None
    assert check(any_app, raw) is None
    page = client.get("/account").get_data(as_text=True)
    assert "has been revoked" in page
    assert f"/account/api-keys/{key_id}/revoke" not in page
    again = post_form(client, f"/account/api-keys/{key_id}/revoke", "/account")
    assert again.status_code == 302
    assert "was already revoked" in client.get("/account").get_data(as_text=True)


def test_another_users_key_is_not_found(any_app):
    key_id, raw = new_key(any_app, email="other@example.com")
    client = signed_in_client(any_app)
    assert post_form(client, f"/account/api-keys/{key_id}/revoke", "/account").status_code == 404
    assert post_form(client, "/account/api-keys/999999/revoke", "/account").status_code == 404
    assert "other@" not in client.get("/account").get_data(as_text=True)
    assert load_key(any_app, key_id).revoked_at is None
    assert check(any_app, raw) == key_id


def test_revoke_needs_post_and_csrf(app):
    key_id, _ = new_key(app)
    client = signed_in_client(app)
    assert client.get(f"/account/api-keys/{key_id}/revoke").status_code == 405
    assert client.post(f"/account/api-keys/{key_id}/revoke").status_code == 400
    token_from_elsewhere = {"csrf_token": "not-a-token"}
    assert (
        client.post(f"/account/api-keys/{key_id}/revoke", data=token_from_elsewhere).status_code
        == 400
    )
    assert load_key(app, key_id).revoked_at is None


def test_deleting_the_account_makes_its_keys_unusable(any_app):
    key_id, raw = new_key(any_app)
    client = signed_in_client(any_app)
    response = post_form(client, "/account/delete", password="correct horse battery staple")
    assert response.status_code == 302
    assert check(any_app, raw) is None
    assert load_key(any_app, key_id).revoked_at is not None


def test_the_page_lists_only_the_users_own_keys(app):
    new_key(app, email="other@example.com", name="their key")
    new_key(app, name="my key")
    page = signed_in_client(app).get("/account").get_data(as_text=True)
    assert "my key" in page
    assert "their key" not in page
