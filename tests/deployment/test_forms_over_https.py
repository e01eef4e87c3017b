"""Forms over real HTTPS, where Flask-WTF also checks the ``Referer`` of every POST."""

from __future__ import annotations

import secrets

import pytest

from tests.deployment.client import Client, csrf_token
from tests.deployment.conftest import Account
from tests.deployment.stack import PREFIX, Stack

#: Referer headers CSRFProtect refuses over HTTPS: none, and another site.
REFUSED_REFERERS = [None, "https://evil.example/some-service/v1/contact"]


def post_with_referer(client: Client, path: str, fields: dict[str, str], referer: str | None):
    """Load the form at ``path`` and post it back with a valid token and ``referer``."""
    page = client.get(path)
    assert page.status == 200
    headers = {"Referer": referer} if referer else {}
    return client.request(
        "POST", path, form={"csrf_token": csrf_token(page.text), **fields}, headers=headers
    )


def test_a_contact_message_posted_through_nginx_is_stored(stack: Stack) -> None:
    text = f"stored-over-https-{secrets.token_hex(6)}"
    response = stack.client().post_form(
        f"{PREFIX}/contact", {"name": "Ada", "email": "ada@example.com", "message": text}
    )
    assert response.status == 302
    assert response.header("Location") in (f"{PREFIX}/contact", stack.url(f"{PREFIX}/contact"))
    rows = stack.postgres.query("SELECT count(*) FROM contact_message WHERE message = %s", [text])
    assert rows == [(1,)]


@pytest.mark.parametrize("referer", REFUSED_REFERERS, ids=["no-referer", "foreign-referer"])
def test_a_post_refused_by_csrf_protection_stores_nothing(
    stack: Stack, referer: str | None
) -> None:
    text = f"refused-{secrets.token_hex(6)}"
    response = post_with_referer(
        stack.client(),
        f"{PREFIX}/contact",
        {"name": "Eve", "email": "eve@example.com", "message": text},
        referer,
    )
    assert response.status == 400
    rows = stack.postgres.query("SELECT count(*) FROM contact_message WHERE message = %s", [text])
    assert rows == [(0,)], "a request refused by CSRF protection ran the view and stored it"


@pytest.mark.parametrize("referer", REFUSED_REFERERS, ids=["no-referer", "foreign-referer"])
def test_a_sign_in_refused_by_csrf_protection_signs_nobody_in(
    stack: Stack, account: Account, referer: str | None
) -> None:
    client = stack.client()
    response = post_with_referer(
        client,
        f"{PREFIX}/sign-in",
        {"email": account.email, "password": account.password},
        referer,
    )
    assert response.status == 400
    page = client.get(f"{PREFIX}/account")
    assert page.status == 302, "a sign-in refused by CSRF protection signed the user in"
