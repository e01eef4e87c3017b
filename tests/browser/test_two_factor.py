"""Two-factor sign-in in Chromium: turn it on, sign in with a code, then with a recovery code.

The authenticator app is pyotp, fed the key the page shows as text (what a
person types when they can't scan the QR code).  The stack runs in real time,
so each code is the one for the *next* 30-second step: the server accepts one
step of skew and refuses a step it has accepted before (RFC 6238 section 5.2),
so a later step is always new, whatever the clock did between two uses.
"""

from __future__ import annotations

import time

import pyotp

from tests.browser.conftest import registered_client
from tests.browser.tab import Tab, expect, sign_in, sign_out
from tests.deployment.stack import Stack


def next_code(secret: str) -> str:
    """The code an authenticator app will show in the next 30-second step."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def password_step(tab: Tab, email: str, password: str) -> None:
    """Type the email and password; land on the code step."""
    page = tab.page
    tab.goto("/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    tab.follow(page.get_by_role("button", name="Sign in", exact=True))
    assert tab.path == "/sign-in/two-factor", tab.path


def code_step(tab: Tab, code: str, status: int = 200) -> None:
    """Type a code (from the app, or a recovery code) and press Verify."""
    tab.page.get_by_label("Verification code").fill(code)
    tab.follow(tab.page.get_by_role("button", name="Verify"), status=status)


def test_turn_on_two_factor_then_sign_in_with_a_code_and_a_recovery_code(
    tab: Tab, stack: Stack
) -> None:
    page = tab.page
    account, _ = registered_client(stack)
    sign_in(tab, account)
    # A first sign-in from Chromium after the HTTP client's: the owner is told.
    notices = [m for m in stack.mails_to(account.email) if "New sign-in" in m["Subject"]]
    assert len(notices) == 1, [m["Subject"] for m in stack.mails_to(account.email)]
    assert "Device:  Chrome on Linux" in notices[0].get_content()

    tab.goto("/account")
    tab.follow(page.get_by_role("link", name="Turn on two-factor"))
    tab.follow(page.get_by_role("button", name="Turn on two-factor"))
    expect(page.get_by_role("img", name="QR code")).to_be_visible()
    secret = page.locator("#two-factor-secret").inner_text().replace(" ", "")
    assert len(secret) == 32, secret
    page.get_by_label("Code from the app").fill(pyotp.TOTP(secret).now())
    tab.follow(page.get_by_role("button", name="Confirm and turn on"))
    expect(tab.flash()).to_contain_text("Two-factor sign-in is on.")
    codes = page.locator("#recovery-codes li").all_inner_texts()
    assert len(codes) == 10, codes
    tab.follow(page.get_by_role("link", name="I have saved them"))
    expect(page.get_by_text("On: signing in asks for a code")).to_be_visible()
    sign_out(tab)

    # The password alone no longer signs in; the app's code does.
    password_step(tab, account.email, account.password)
    expect(page.get_by_role("link", name=account.name, exact=True)).to_have_count(0)
    code_step(tab, next_code(secret))
    assert tab.path == "/account"
    expect(page.get_by_text("On: signing in asks for a code")).to_be_visible()
    sign_out(tab)

    # A recovery code works once.
    password_step(tab, account.email, account.password)
    code_step(tab, codes[0])
    assert tab.path == "/account"
    expect(tab.flash()).to_contain_text("You used a recovery code; 9 left.")
    sign_out(tab)
    password_step(tab, account.email, account.password)
    tab.guard.allow_status(422)
    code_step(tab, codes[0], status=422)
    expect(page.get_by_text("That code is not right.")).to_be_visible()
    code_step(tab, codes[1])
    assert tab.path == "/account"
    expect(tab.flash()).to_contain_text("8 left")
