"""Registration, confirmation and password reset through nginx, in production config.

The instances write their mails to ``.eml`` files (``MAIL_URL=file://``, see
:func:`tests.deployment.stack.app_environment`); the links in them carry the
public host, port and path prefix, and work when followed through nginx.
"""

from __future__ import annotations

import secrets

from tests.deployment.conftest import Account, sign_in
from tests.deployment.stack import PREFIX, Stack


def test_register_confirm_forget_and_reset_through_nginx(stack: Stack) -> None:
    tag = secrets.token_hex(4)
    account = Account(f"mail-{tag}@example.com", f"Mail {tag}", "correct-horse-battery-staple-7")
    client = stack.client()
    fields = {"email": account.email, "display_name": account.name}
    registered = client.post_form(
        f"{PREFIX}/register",
        {**fields, "password": account.password, "confirm": account.password},
    )
    assert registered.status == 302, registered.text[:300]
    assert registered.header("Location") == f"{PREFIX}/sign-in"
    confirmed = client.post_form(stack.mailed_link(account.email, "/confirm-email/"), {})
    assert confirmed.status == 302, confirmed.text[:300]
    assert sign_in(client, account).endswith(f"{PREFIX}/account")

    other = stack.client()
    asked = other.post_form(f"{PREFIX}/forgot-password", {"email": account.email})
    assert asked.status == 302
    new_password = "another-long-passphrase-42"
    reset = other.post_form(
        stack.mailed_link(account.email, "/reset-password/"),
        {"new_password": new_password, "confirm": new_password},
    )
    assert reset.status == 302, reset.text[:300]
    assert client.get(f"{PREFIX}/account").status == 302, "the reset signed every session out"
    assert sign_in(other, Account(account.email, account.name, new_password))
