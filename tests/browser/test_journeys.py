"""What a person does on the site, in Chromium, through nginx under the path prefix.

Every navigation is checked by :class:`~tests.browser.tab.Tab` (status, path
prefix, no CSP violation, no console error) and the whole test again at its
end by the ``contexts`` fixture.
"""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING

from tests.browser.conftest import DESKTOP, Contexts, open_tab, registered_client
from tests.browser.guard import PageGuard
from tests.browser.tab import Account, Site, Tab, expect, sign_in, sign_out
from tests.deployment.stack import PREFIX, Stack

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator

#: The API's documentation page (Swagger UI).
API_DOCS = "/api/v1/docs/"
#: What the app says when a form's CSRF check failed (flask_bastion.errors.CSRF_MESSAGE).
EXPIRED = "Your form has expired or did not come from this site."


def register(tab: Tab, account: Account, stack: Stack) -> None:
    """Create ``account`` through the Register link and form, follow the link of the
    confirmation mail, and sign in."""
    page = tab.page
    tab.goto("/")
    tab.follow(page.get_by_role("link", name="Register"))
    page.get_by_label("Email address").fill(account.email)
    page.get_by_label("Display name").fill(account.name)
    page.get_by_label("Password", exact=True).fill(account.password)
    page.get_by_label("Repeat the password").fill(account.password)
    tab.follow(page.get_by_role("button", name="Create account"))
    expect(tab.flash()).to_contain_text("Check your inbox")
    tab.goto(stack.mailed_link(account.email, "/confirm-email/").removeprefix(PREFIX))
    tab.follow(page.get_by_role("button", name="Confirm my address"))
    expect(tab.flash()).to_contain_text("Your email address is confirmed.")
    sign_in(tab, account)


def background_rgb(control: Locator) -> tuple[int, int, int]:
    """The computed background colour of ``control`` as (red, green, blue), 0-255."""
    text = control.evaluate("(el) => getComputedStyle(el).backgroundColor")
    red, green, blue = (int(float(part)) for part in re.findall(r"[\d.]+", text)[:3])
    return red, green, blue


def move_to_trash(tab: Tab) -> None:
    """Delete the story shown with its Delete link and the dialog's "Move to trash" button."""
    page = tab.page
    page.get_by_role("link", name="Delete", exact=True).click()
    dialog = page.get_by_role("dialog", name="Delete this story?")
    expect(dialog).to_be_visible()
    assert tab.path.endswith("/delete") is False  # a dialog on the story's page
    tab.check("opening the delete dialog")
    tab.follow(dialog.get_by_role("button", name="Move to trash"))


def test_register_write_edit_delete_restore_and_sign_out(tab: Tab, stack: Stack) -> None:
    page = tab.page
    tag = secrets.token_hex(3)
    account = Account(f"journey-{tag}@example.com", f"Journey {tag}", "lantern-orchard-velvet-42")
    register(tab, account, stack)
    sign_out(tab)
    sign_in(tab, account)

    tab.follow(page.get_by_role("link", name="My stories"))
    tab.follow(page.get_by_role("link", name="Write a story"))
    title = f"A walk by the river {tag}"
    page.get_by_label("Title").fill(title)
    page.get_by_label("Story (Markdown)").fill("We walked **far** that day.\n\n- bread\n- cheese")
    page.get_by_label("Published").check()
    tab.follow(page.get_by_role("button", name="Save story"))
    expect(tab.flash()).to_contain_text("Your story has been saved.")
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    expect(page.locator("article strong")).to_have_text("far")
    expect(page.get_by_role("listitem").filter(has_text="cheese")).to_be_visible()
    story = tab.path

    tab.follow(page.get_by_role("link", name="Edit", exact=True))
    expect(page.get_by_label("Title")).to_have_value(title)
    title = f"A long walk by the river {tag}"
    page.get_by_label("Title").fill(title)
    tab.follow(page.get_by_role("button", name="Save story"))
    expect(tab.flash()).to_contain_text("Your changes have been saved.")
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    assert tab.path == story

    page.get_by_role("link", name="Delete", exact=True).click()  # then thinks again
    dialog = page.get_by_role("dialog", name="Delete this story?")
    cancel = dialog.get_by_role("button", name="Cancel").filter(has_text="Cancel")  # not the x
    cancel.click()
    expect(dialog).to_be_hidden()
    assert tab.path == story
    move_to_trash(tab)
    assert tab.path == "/stories/mine"
    expect(tab.flash()).to_contain_text(f"“{title}” is in the trash.")
    expect(page.get_by_role("link", name=title)).to_have_count(0)
    tab.follow(page.get_by_role("main").get_by_role("link", name="Open the trash"))
    assert tab.path == "/stories/trash"
    tab.guard.allow_status(404)
    tab.goto(story, status=404)  # gone for its author too, until restored
    tab.goto("/stories/trash")
    deleted = page.get_by_role("article").filter(has_text=title)
    expect(deleted).to_have_count(1)
    tab.follow(deleted.get_by_role("button", name="Restore"))
    assert tab.path == story  # the user sees what came back
    expect(tab.flash()).to_contain_text(f"“{title}” has been restored.")
    expect(page.get_by_role("heading", level=1)).to_have_text(title)

    # The way to delete the account is there, looks dangerous, and can be left.
    navigation = page.get_by_role("navigation", name="Main navigation")
    tab.follow(navigation.get_by_role("link", name=account.name, exact=True))
    tab.follow(page.get_by_role("link", name="Delete account"))
    red, green, blue = background_rgb(page.get_by_role("button", name="Delete my account"))
    assert red > 150, (red, green, blue)
    assert red > 2 * max(green, blue), (red, green, blue)
    tab.follow(page.get_by_role("link", name="Keep my account"))
    assert tab.path == "/account"

    sign_out(tab)
    expect(page.get_by_role("link", name="Sign in", exact=True)).to_be_visible()
    tab.goto(story)  # published: readable signed out, without the author's buttons
    expect(page.get_by_role("link", name="Edit", exact=True)).to_have_count(0)


def test_delete_without_javascript_asks_on_a_page(
    contexts: Contexts, site: Site, stack: Stack
) -> None:
    account, client = registered_client(stack)
    created = client.post_form(f"{PREFIX}/stories/new", {"title": "Plain HTML", "body": "Hi."})
    assert created.status == 302, created.status
    story = (created.header("Location") or "").removeprefix(PREFIX)
    tab = open_tab(contexts, site, java_script_enabled=False)
    page = tab.page
    sign_in(tab, account)
    tab.goto(story)
    tab.follow(page.get_by_role("link", name="Delete", exact=True))
    assert tab.path == f"{story}/delete"
    expect(page.get_by_role("heading", level=1)).to_have_text("Delete this story?")
    tab.follow(page.get_by_role("link", name="Cancel"))  # changes nothing
    assert tab.path == story
    tab.follow(page.get_by_role("link", name="Delete", exact=True))
    tab.follow(page.get_by_role("button", name="Move to trash"))
    assert tab.path == "/stories/mine"
    expect(tab.flash()).to_contain_text("“Plain HTML” is in the trash.")


def test_contact_form_shows_errors_then_sends(tab: Tab) -> None:
    page = tab.page
    tab.goto("/")
    tab.follow(page.get_by_role("link", name="Contact", exact=True))
    page.get_by_label("Your name").fill("Ada")
    page.get_by_label("Email address").fill("ada-at-example.com")
    page.get_by_label("Message").fill("Hi")
    tab.guard.allow_status(422)
    tab.follow(page.get_by_role("button", name="Send message"), status=422)
    expect(page.get_by_role("alert")).to_contain_text("Please correct the fields marked below.")
    expect(page.get_by_text("Messages are 10 to 5000 characters long.")).to_be_visible()
    for label, error in (("Email address", "email"), ("Message", "10 to 5000 characters")):
        field = page.get_by_label(label)  # the error is announced with the field
        expect(field).to_have_attribute("aria-invalid", "true")
        expect(field).to_have_accessible_description(re.compile(error))
    expect(page.get_by_label("Your name")).not_to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Your name")).to_have_value("Ada")
    expect(page.get_by_label("Email address")).to_have_value("ada-at-example.com")
    expect(page.get_by_label("Message")).to_have_value("Hi")

    page.get_by_label("Email address").fill("ada@example.com")
    page.get_by_label("Message").fill("Hello, I would like to know more about Bastion.")
    tab.follow(page.get_by_role("button", name="Send message"))
    expect(tab.flash()).to_contain_text("Thank you, Ada. Your message has been sent.")
    expect(page.get_by_label("Message")).to_have_value("")


def test_a_tampered_csrf_token_keeps_the_story_being_written(tab: Tab, account: Account) -> None:
    page = tab.page
    sign_in(tab, account)
    tab.goto("/stories/new")
    page.get_by_label("Title").fill("Notes from the lighthouse")
    body = "The lamp turned all night.\n\nNobody slept."
    page.get_by_label("Story (Markdown)").fill(body)
    save = page.get_by_role("button", name="Save story")
    form = page.locator("form").filter(has=save)
    form.locator("input[name=csrf_token]").evaluate("(input) => { input.value = 'tampered'; }")
    tab.guard.allow_status(400)
    tab.follow(page.get_by_role("button", name="Save story"), status=400)
    expect(page.get_by_role("alert")).to_contain_text(EXPIRED)
    expect(page.get_by_label("Title")).to_have_value("Notes from the lighthouse")
    expect(page.get_by_label("Story (Markdown)")).to_have_value(body)

    tab.follow(page.get_by_role("button", name="Save story"))  # the re-shown form works
    expect(tab.flash()).to_contain_text("Your story has been saved.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Notes from the lighthouse")


def test_a_lost_session_keeps_the_contact_message(tab: Tab) -> None:
    # The session cookie (which holds the CSRF secret) is gone: the browser
    # was restarted, or the session expired while the message was typed.
    page = tab.page
    tab.goto("/contact")
    page.get_by_label("Your name").fill("Grace")
    page.get_by_label("Email address").fill("grace@example.com")
    message = "A message typed with care, which must not be lost."
    page.get_by_label("Message").fill(message)
    assert "session" in {cookie["name"] for cookie in page.context.cookies()}
    page.context.clear_cookies(name="session")
    tab.guard.allow_status(400)
    tab.follow(page.get_by_role("button", name="Send message"), status=400)
    expect(page.get_by_role("alert")).to_contain_text(EXPIRED)
    expect(page.get_by_label("Your name")).to_have_value("Grace")
    expect(page.get_by_label("Email address")).to_have_value("grace@example.com")
    expect(page.get_by_label("Message")).to_have_value(message)

    tab.follow(page.get_by_role("button", name="Send message"))
    expect(tab.flash()).to_contain_text("Thank you, Grace. Your message has been sent.")


def test_keep_me_signed_in_survives_a_lost_session_cookie(tab: Tab, account: Account) -> None:
    page = tab.page
    tab.goto("/sign-in")
    page.get_by_label("Email address").fill(account.email)
    page.get_by_label("Password", exact=True).fill(account.password)
    page.get_by_label("Keep me signed in on this device").check()
    tab.follow(page.get_by_role("button", name="Sign in", exact=True))
    page.context.clear_cookies(name="session")  # the browser was closed and opened again
    for _ in range(2):  # the first request is served from the remember cookie, then?
        tab.goto("/stories/mine")
        assert tab.path == "/stories/mine", "signed out after closing the browser"


def same_site_urls(tab: Tab, selector: str, attribute: str) -> list[str]:
    """Absolute URLs (no fragment) on this origin of ``selector``'s elements' ``attribute``."""
    urls = tab.page.eval_on_selector_all(
        selector, f"(elements) => elements.map((element) => element.{attribute})"
    )
    origin = tab.site.origin + "/"
    return sorted({url.split("#")[0] for url in urls if url.startswith(origin)})


def test_every_link_stays_under_the_path_prefix(
    contexts: Contexts, site: Site, account: Account
) -> None:
    tab = open_tab(contexts, site)
    requested: list[str] = []
    tab.page.on("request", lambda request: requested.append(request.url))
    sign_in(tab, account)
    tab.goto("/stories/new")
    tab.page.get_by_label("Title").fill("A story under the prefix")
    tab.page.get_by_label("Story (Markdown)").fill("Read [the list](../).")
    tab.page.get_by_label("Published").check()
    tab.follow(tab.page.get_by_role("button", name="Save story"))

    # Every page reachable by links from the home page, signed in: a GET of
    # each same-origin link found; forms' actions are checked, not posted.
    seen: set[str] = set()
    queue = [site.url("/")]
    while queue and len(seen) < 60:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        tab.goto(site.app_path(url))  # asserts 200, the prefix and a clean page
        for action in same_site_urls(tab, "form", "action"):
            site.app_path(action)  # a form posting outside the prefix fails here
        for link in same_site_urls(tab, "a[href]", "href"):
            site.app_path(link)  # a link outside the prefix fails here
            # A JSON document (openapi.json) is not a page: Chromium's viewer of it asks
            # for /favicon.ico at the root, which no page of ours can say otherwise.
            if link not in seen and not site.app_path(link).endswith(".json"):
                queue.append(link)
    pages = {site.app_path(url).split("?")[0] for url in seen}
    expected = {"/", "/stories/", "/users/", "/about", "/contact", "/privacy", "/cookies",
                "/account", "/stories/mine", "/stories/trash", "/stories/new"}  # fmt: skip
    assert expected <= pages, expected - pages
    assert any(path.startswith("/stories/") and path[9:].isdigit() for path in pages)
    outside = [url for url in requested if url.startswith(site.origin) and PREFIX not in url]
    assert outside == [], outside


def test_the_api_docs_page_stays_under_the_path_prefix(browser: Browser, site: Site) -> None:
    # A context of its own, judged here: the fixture's check at teardown
    # would be an error, not this test's expected failure.
    context = browser.new_context(ignore_https_errors=True, viewport=DESKTOP)
    try:
        context.set_default_timeout(10_000)
        tab = Tab(context.new_page(), PageGuard.attach(context), site)
        response = tab.page.goto(site.url(API_DOCS))
        assert response is not None
        assert response.status == 200
        tab.page.get_by_role("heading", name="Bastion API").first.wait_for()
        icons = tab.page.locator("link[rel~=icon]").evaluate_all("(ls) => ls.map((l) => l.href)")
        problems = [str(problem) for problem in tab.guard.problems()]
    finally:
        context.close()
    # Without an icon link, Chromium fetches /favicon.ico at the root (when is
    # up to it: the 404 reaches the console of whichever page is open then).
    assert icons, "no <link rel=icon>"
    for icon in icons:
        site.app_path(icon)  # under the prefix
    assert problems == []
