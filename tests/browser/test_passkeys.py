"""Passkeys in Chromium, with its virtual authenticator, through nginx under the path prefix.

Chromium's DevTools protocol gives each page a virtual authenticator
(``WebAuthn.addVirtualAuthenticator``: CTAP2, built in, with resident keys
and user verification that always succeeds), reached through Playwright's
CDP session; ``navigator.credentials.create`` and ``.get`` then run for real
in the page's script, against the production stack.  WebAuthn refuses an IP
address as RP ID: the stack is reached as ``https://localhost:PORT`` (its
``TRUSTED_HOSTS`` has ``localhost``), so the app's default RP ID is
``localhost`` and its origin the one the browser reports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.browser.conftest import Contexts, new_account, open_tab
from tests.browser.tab import Account, Site, Tab, expect, sign_in, sign_out
from tests.deployment.stack import Stack

if TYPE_CHECKING:
    from playwright.sync_api import CDPSession


def virtual_authenticator(tab: Tab) -> tuple[CDPSession, str]:
    """A platform authenticator for ``tab``'s page: a passkey store with a fingerprint reader.

    :returns: the CDP session and the authenticator's id.
    """
    cdp = tab.page.context.new_cdp_session(tab.page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, added["authenticatorId"]


def credentials(cdp: CDPSession, authenticator: str) -> list[dict[str, Any]]:
    """The credentials the virtual authenticator holds."""
    return cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]


def add_passkey(tab: Tab, account: Account, name: str) -> None:
    """From the account page: open "Passkeys", add one named ``name`` with the password."""
    page = tab.page
    tab.goto("/account")
    passkeys = page.get_by_role("heading", name="Passkeys")
    expect(passkeys).to_be_visible()
    tab.follow(page.get_by_role("link", name="Add a passkey"))
    assert tab.path == "/account/passkeys"
    add = page.locator("form[data-passkey=register]")
    add.get_by_label("Name").fill(name)
    add.get_by_label("Your password").fill(account.password)
    button = add.get_by_role("button", name="Add a passkey")
    expect(button).to_be_enabled()  # the script found WebAuthn
    tab.follow(button)
    expect(tab.flash()).to_contain_text(f"Passkey “{name}” added.")
    expect(page.get_by_role("heading", name=name, level=3)).to_be_visible()


def test_add_a_passkey_then_sign_in_with_it_alone(tab: Tab, stack: Stack) -> None:
    account = new_account(stack)
    page = tab.page
    cdp, authenticator = virtual_authenticator(tab)
    sign_in(tab, account)
    add_passkey(tab, account, "Test laptop")
    stored = credentials(cdp, authenticator)
    assert len(stored) == 1
    assert stored[0]["isResidentCredential"] is True  # a discoverable credential
    assert stored[0]["rpId"] == "localhost"
    sign_out(tab)

    tab.goto("/sign-in")
    passkey = page.get_by_role("button", name="Sign in with a passkey")
    expect(passkey).to_be_enabled()
    tab.follow(passkey)  # no email, no password
    assert tab.path == "/account"
    expect(page.get_by_role("link", name=account.name, exact=True)).to_be_attached()
    expect(page.locator("main")).to_contain_text("with passkey “Test laptop”, no password")
    assert credentials(cdp, authenticator)[0]["signCount"] >= 1


def test_password_then_a_passkey_as_the_second_step(tab: Tab, stack: Stack) -> None:
    account = new_account(stack)
    page = tab.page
    virtual_authenticator(tab)
    sign_in(tab, account)
    add_passkey(tab, account, "Phone")
    sign_out(tab)

    tab.goto("/sign-in?next=/stories/mine")
    page.get_by_label("Email address").fill(account.email)
    page.get_by_label("Password", exact=True).fill(account.password)
    tab.follow(page.get_by_role("button", name="Sign in", exact=True))
    assert tab.path.startswith("/sign-in/two-factor")
    expect(page.get_by_text("Use one of your passkeys to finish signing in.")).to_be_visible()
    tab.follow(page.get_by_role("button", name="Use a passkey"))
    assert tab.path == "/stories/mine"
    expect(page.get_by_role("link", name=account.name, exact=True)).to_be_attached()


def test_a_cancelled_passkey_says_so_on_the_page(tab: Tab, stack: Stack) -> None:
    """No authenticator holds a passkey for the site: the browser's refusal is shown, politely."""
    page = tab.page
    cdp, authenticator = virtual_authenticator(tab)
    cdp.send(
        "WebAuthn.setUserVerified", {"authenticatorId": authenticator, "isUserVerified": False}
    )
    tab.goto("/sign-in")
    page.get_by_role("button", name="Sign in with a passkey").click()
    status = page.locator("[data-passkey-status]")
    expect(status).to_contain_text("cancelled or timed out", timeout=15_000)
    assert tab.path == "/sign-in"
    expect(page.get_by_role("button", name="Sign in with a passkey")).to_be_enabled()


def test_without_javascript_the_passkey_button_stays_off(contexts: Contexts, site: Site) -> None:
    tab = open_tab(contexts, site, java_script_enabled=False)
    tab.goto("/sign-in")
    expect(tab.page.get_by_role("button", name="Sign in with a passkey")).to_be_disabled()
    expect(tab.page.get_by_text("Passkeys need JavaScript")).to_be_visible()
    # The password form still works.
    expect(tab.page.get_by_role("button", name="Sign in", exact=True)).to_be_enabled()
