"""Fixtures of the browser tests: the production stack, Debian's Chromium, guarded pages.

The app is served the way it runs (:func:`tests.deployment.stack.start_stack`:
nginx with TLS in front of two gunicorn instances, PostgreSQL, Redis, under
the path prefix :data:`PREFIX`), started once per session.  Playwright
drives ``/usr/bin/chromium`` (Debian's package; ``playwright install`` is
never used).  Every page is watched by a :class:`~tests.browser.guard.PageGuard`
and each test fails if any page it opened logged a CSP violation, a console
error or an uncaught exception, or opened a dialog.

Without Playwright, Chromium or a tool of the stack the tests are skipped with
the reason printed; under CI (``CI=true``) that is a failure instead.

Rate limits: every request of the browser comes from 127.0.0.1, so to the app
the whole suite is one client (the deployment tests' HTTP client picks a new
loopback address per client instead).  The app's defaults (2 requests a
second, 60 a minute per client; 5 sign-ins a minute and 5 registrations an
hour per address) are meant for one person; a page load followed by its
redirect already makes two requests within milliseconds, and the suite
signs in a dozen different people.  :data:`RATE_LIMITS` raises them for this
stack only; the deployment tests keep checking the real limits through nginx.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser.guard import PageGuard
from tests.browser.tab import Account, Site, Tab
from tests.deployment.client import Client
from tests.deployment.stack import PREFIX, Stack, missing_tools, start_stack
from tests.services import under_ci

if TYPE_CHECKING:  # Playwright may be missing: the fixtures then skip (fail under CI)
    from playwright.sync_api import Browser, BrowserContext

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CHROMIUM = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
#: The flags of ../shared/DESIGN.md: no sandbox (root in a container), no GPU,
#: nothing fetched behind the test's back.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: The browser stack's limits (see the module docstring for why they are raised).
RATE_LIMITS = {
    "RATELIMIT_DEFAULT": "50 per second; 3000 per minute",
    "SIGNIN_RATE_LIMIT": "100 per minute",
    "REGISTER_RATE_LIMIT": "100 per hour",
}
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
#: Where screenshots go (git-ignored; CI keeps the folder).
SCREENSHOTS = Path(os.environ.get("BASTION_SCREENSHOTS", ROOT / "screenshots"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of this directory ``browser`` (``-m "not browser"`` skips them)."""
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.browser)


def missing_browser() -> str | None:
    """Why the browser tests cannot run here (``None``: they can)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (make install-dev)"
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    missing = missing_tools()
    if missing:
        return "deployment stack unavailable, missing: " + "; ".join(missing)
    return None


def skip_or_fail(reason: str) -> None:
    """Skip with ``reason``, or fail under CI (a missing tool is a failure there)."""
    if under_ci():
        pytest.fail(f"{reason} (CI=true: a missing tool is a failure)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """nginx (TLS) + two gunicorn instances + PostgreSQL + Redis, under :data:`PREFIX`.

    One worker per instance: the browser sends one request at a time.
    """
    reason = missing_browser()
    if reason:
        skip_or_fail(reason)
    running = start_stack(instances=2, workers=1, env=RATE_LIMITS)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def browser(stack: Stack) -> Iterator[Browser]:
    """Debian's Chromium, launched once by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def site(stack: Stack) -> Site:
    """URLs of the running stack."""
    return Site(stack)


def new_account(stack: Stack, name: str | None = None) -> Account:
    """Register an account (see :func:`registered_client`)."""
    return registered_client(stack, name)[0]


def registered_client(stack: Stack, name: str | None = None) -> tuple[Account, Client]:
    """Register an account through nginx with the register form, from a fresh address,
    confirm it with the mailed link and sign in.

    An HTTP client, not the browser: it is quicker than a page, and quicker
    than ``flask users create`` (a process start in production config).

    :param name: the display name (default: ``Reader <random>``).
    :returns: the account and the HTTP client, signed in as it.
    :raises AssertionError: when the register form does not answer with a redirect.
    """
    tag = secrets.token_hex(4)
    account = Account(
        email=f"reader-{tag}@example.com",
        name=name or f"Reader {tag}",
        password="correct-horse-battery-staple-7",
    )
    client = stack.client()
    response = client.post_form(
        f"{PREFIX}/register",
        {"email": account.email, "display_name": account.name,
         "password": account.password, "confirm": account.password},
    )  # fmt: skip
    assert response.status == 302, (response.status, response.text[:300])
    confirmed = client.post_form(stack.mailed_link(account.email, "/confirm-email/"), {})
    assert confirmed.status == 302, (confirmed.status, confirmed.text[:300])
    signed_in = client.post_form(
        f"{PREFIX}/sign-in", {"email": account.email, "password": account.password}
    )
    assert signed_in.status == 302, (signed_in.status, signed_in.text[:300])
    return account, client


@pytest.fixture
def account(stack: Stack) -> Account:
    """A new account for this test alone."""
    return new_account(stack)


class Contexts:
    """Opens guarded browser contexts for one test and checks them all when it ends."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.opened: list[tuple[BrowserContext, PageGuard]] = []

    def new(self, **options: object) -> tuple[BrowserContext, PageGuard]:
        """A fresh context (its own cookies) accepting the stack's self-signed certificate.

        :param options: :meth:`Browser.new_context` options (``viewport`` defaults
            to 1280x800, ``color_scheme``, ``reduced_motion``, ...).
        :returns: the context and the :class:`PageGuard` watching its pages.
        """
        options.setdefault("viewport", DESKTOP)
        context = self.browser.new_context(ignore_https_errors=True, **options)  # type: ignore[arg-type]
        context.set_default_timeout(10_000)
        guard = PageGuard.attach(context, javascript=bool(options.get("java_script_enabled", True)))
        self.opened.append((context, guard))
        return context, guard

    def close(self) -> list[PageGuard]:
        """Read each context's last violations, close it; return the guards."""
        guards = []
        for context, guard in self.opened:
            try:
                guard.problems()
            finally:
                context.close()
            guards.append(guard)
        return guards


@pytest.fixture
def contexts(browser: Browser) -> Iterator[Contexts]:
    """Guarded contexts for this test; after it, any CSP violation, console error,
    uncaught exception or dialog on any of their pages fails the test."""
    opened = Contexts(browser)
    try:
        yield opened
    finally:
        guards = opened.close()
    for guard in guards:
        guard.assert_clean("in this test")


def open_tab(contexts: Contexts, site: Site, **options: object) -> Tab:
    """A page of a fresh guarded context (``options`` as for :meth:`Contexts.new`)."""
    context, guard = contexts.new(**options)
    return Tab(context.new_page(), guard, site)


@pytest.fixture
def tab(contexts: Contexts, site: Site) -> Tab:
    """A page of a fresh guarded desktop context, with the site's helpers."""
    return open_tab(contexts, site)


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """The screenshot folder, emptied of earlier runs' PNGs (its path is printed at the end)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("*.png"):
        old.unlink()
    _taken.append(SCREENSHOTS)
    return SCREENSHOTS


_taken: list[Path] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print where the screenshots are, when this session took any."""
    for folder in _taken:
        count = len(list(folder.glob("*.png")))
        terminalreporter.write_line(f"browser tests: {count} screenshots in {folder}")
