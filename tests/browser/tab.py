"""A browser tab on the running app, and what a person does in it (sign in, sign out).

:class:`Tab` couples a Playwright page with its :class:`~tests.browser.guard.PageGuard`
and the :class:`Site` it browses, so that every navigation a test makes
through it is checked at once: the status, that the URL stays under the
path prefix, and that the page logged no CSP violation or console error.
Selectors are by accessible role and name, as a person (or a screen reader)
finds the controls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tests.deployment.stack import PREFIX, Stack

if TYPE_CHECKING:  # Playwright may be missing: the fixtures then skip (fail under CI)
    from playwright.sync_api import Locator, Page, Response

    from tests.browser.guard import PageGuard


def expect(target: Any) -> Any:
    """Playwright's ``expect`` (imported when first used: Playwright may be missing)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


@dataclass(frozen=True)
class Site:
    """The app as the browser reaches it: ``https://localhost:PORT`` + :data:`PREFIX`."""

    stack: Stack

    @property
    def origin(self) -> str:
        """``https://localhost:PORT``."""
        return self.stack.url("")

    def url(self, path: str = "/") -> str:
        """The absolute URL of app path ``path`` (``/stories/``), prefix included."""
        return self.stack.url(PREFIX + path)

    def app_path(self, url: str) -> str:
        """The app path of an absolute URL of this site (``/stories/1``), query kept.

        :raises AssertionError: when ``url`` is another origin or not under :data:`PREFIX`.
        """
        assert url.startswith(self.origin + "/"), f"{url} left {self.origin}"
        parts = urlsplit(url)
        assert parts.path == PREFIX or parts.path.startswith(PREFIX + "/"), (
            f"{url} is not under the path prefix {PREFIX}"
        )
        path = parts.path[len(PREFIX) :] or "/"
        return path + (f"?{parts.query}" if parts.query else "")


@dataclass(frozen=True)
class Account:
    """Someone who can sign in: email, display name, password."""

    email: str
    name: str
    password: str


@dataclass
class Tab:
    """A guarded page of the site; each navigation through it is checked."""

    page: Page
    guard: PageGuard
    site: Site

    @property
    def path(self) -> str:
        """The app path of the page shown (see :meth:`Site.app_path`)."""
        return self.site.app_path(self.page.url)

    def check(self, what: str) -> None:
        """Fail if any page of this tab's context misbehaved so far (see ``PageGuard``)."""
        self.guard.assert_clean(f"after {what}")

    def goto(self, path: str, status: int = 200) -> Response:
        """Open app path ``path``; assert its status, its prefix and a clean page.

        :raises AssertionError: on another status, a URL outside the prefix, or a problem.
        """
        response = self.page.goto(self.site.url(path))
        assert response is not None, f"no response for {path}"
        assert response.status == status, f"{path}: {response.status}, not {status}"
        self.path  # noqa: B018 - asserts the prefix
        self.check(f"opening {path}")
        return response

    def follow(self, control: Locator | None, status: int = 200, key: str = "") -> Response:
        """Click ``control`` (or press ``key``) and wait for the page it leads to.

        :param control: what to click; ``None`` with ``key``: press ``key`` on
            the focused element, as a keyboard user does.
        :returns: the response of the new page (after redirects).
        :raises AssertionError: as for :meth:`goto`.
        """
        with self.page.expect_navigation() as navigation:
            if control is None:
                self.page.keyboard.press(key)
            elif key:
                control.press(key)
            else:
                control.click()
        response = navigation.value
        assert response is not None
        assert response.status == status, (
            f"{response.url}: {response.status}, not {status}; the page says: {self.errors()}"
        )
        self.page.wait_for_load_state("load")
        self.path  # noqa: B018 - asserts the prefix
        self.check(f"following {control or key}")
        return response

    def errors(self) -> list[str]:
        """The text of the page's alerts and invalid-field messages (for failure messages)."""
        return self.page.locator("[role=alert], .invalid-feedback").all_inner_texts()

    def flash(self) -> Locator:
        """The flash messages of the page (a live region)."""
        return self.page.get_by_role("status")


def sign_in(tab: Tab, account: Account) -> None:
    """Sign in through the sign-in page, as a person would; land on the account page."""
    page = tab.page
    tab.goto("/sign-in")
    page.get_by_label("Email address").fill(account.email)
    page.get_by_label("Password", exact=True).fill(account.password)
    tab.follow(page.get_by_role("button", name="Sign in", exact=True))
    signed_in = page.get_by_role("link", name=account.name, exact=True, include_hidden=True)
    expect(signed_in).to_be_attached()  # in the navigation bar (collapsed on a phone)


def sign_out(tab: Tab) -> None:
    """Sign out with the navigation bar's button; land on the home page with a flash."""
    tab.follow(tab.page.get_by_role("button", name="Sign out", exact=True))
    expect(tab.flash()).to_contain_text("You have signed out.")
    assert tab.path == "/"
