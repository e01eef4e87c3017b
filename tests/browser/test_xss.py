"""Hostile stories and display names, opened in Chromium: nothing they carry ever runs.

Each payload, if it ran, would set ``window.__xss`` and open an ``alert``.
The pages showing them are opened and every link of the story is clicked;
the test fails if a dialog opened, ``window.__xss`` was set, or the CSP had
to block anything (a CSP violation means the HTML filter let the payload
through and only the last layer held; the guard of every test checks that).
The payloads are shown as the text the user typed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import registered_client
from tests.browser.tab import Site, Tab, expect, sign_in
from tests.deployment.stack import PREFIX

if TYPE_CHECKING:
    from tests.deployment.stack import Stack

RUN = "window.__xss=1;alert(document.domain)"
#: Display names (80 characters at most, one line).
NAMES = [
    f"<script>{RUN}</script>",
    f"<img src=x onerror={RUN}>",
    f'"><svg onload="{RUN}">',
    f"<a href='javascript:{RUN}'>me</a>",
]
TITLE = f"<img src=x onerror={RUN}> &lt;b&gt;title"
#: A story body (Markdown) made of tricks, with two harmless links to click.
BODY = f"""# Tricks

<script>{RUN}</script>

<img src=x onerror="{RUN}">

<svg onload="{RUN}"><circle r="9"/></svg> <svg><script>{RUN}</script></svg>

<a href="javascript:{RUN}">raw javascript link</a>
<a href="data:text/html,<script>{RUN}</script>">raw data link</a>

<iframe src="javascript:{RUN}"></iframe> <details open ontoggle="{RUN}">x</details>

[markdown javascript link](javascript:{RUN})
[mixed case](JaVaScRiPt:{RUN})
[entity link](&#106;avascript:{RUN})
[hex entity](&#x6A;avascript&#x3A;{RUN})
[colon entity](javascript&colon;{RUN})
[tab inside](<java\tscript:{RUN}>)
[data link](data:text/html;base64,PHNjcmlwdD53aW5kb3cuX194c3M9MTwvc2NyaXB0Pg==)
[vbscript](vbscript:msgbox(1))
<javascript:{RUN}>

![image javascript](javascript:{RUN})
![image breakout](x" onerror="{RUN})
![image data](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9ImFsZXJ0KDEpIi8+)

[reference link][evil]

[evil]: javascript:{RUN}

&lt;script&gt;{RUN}&lt;/script&gt; and &#60;script&#62; as entities.

`<script>{RUN}</script>` in code.

[A harmless link to the story list](./) and [one to elsewhere](https://example.com/outside).
"""


def assert_nothing_ran(tab: Tab, where: str) -> None:
    """No payload set ``window.__xss`` on the page shown, no dialog opened anywhere."""
    assert tab.page.evaluate("() => window.__xss") is None, f"a payload ran on {where}"
    tab.check(where)  # dialogs, CSP violations, console errors


def test_hostile_names_and_story_run_nothing(tab: Tab, stack: Stack, site: Site) -> None:
    page = tab.page
    # Links leaving the site are answered by the test, never fetched.
    page.context.route(
        lambda url: not url.startswith(site.origin),
        lambda route: route.fulfill(status=200, content_type="text/plain", body="outside"),
    )
    authors = []
    for number, name in enumerate(NAMES):  # each publishes a story: listed among authors
        author, client = registered_client(stack, name)
        response = client.post_form(
            f"{PREFIX}/stories/new",
            {"title": f"Story {number} by {name}", "body": "Hello.", "published": "y"},
        )
        assert response.status == 302, response.status
        authors.append(author)
    writer = authors[1]
    sign_in(tab, writer)
    assert_nothing_ran(tab, "the account page of a hostile name")
    expect(page.get_by_role("link", name=writer.name, exact=True)).to_be_visible()

    tab.goto("/stories/new")
    page.get_by_label("Title").fill(TITLE)
    page.get_by_label("Story (Markdown)").fill(BODY)
    page.get_by_label("Published").check()
    tab.follow(page.get_by_role("button", name="Save story"))
    story = tab.path
    assert_nothing_ran(tab, "the hostile story")
    expect(page.get_by_role("heading", level=1).first).to_have_text(TITLE)
    expect(page.get_by_text(f"<script>{RUN}</script>").first).to_be_visible()  # shown as text
    active = page.get_by_role("article").locator("img, svg, iframe, script, details")
    expect(active).to_have_count(0)

    links = page.get_by_role("article").get_by_role("link")
    hrefs = links.evaluate_all("(links) => links.map((a) => a.href)")
    assert all(href.startswith(("https:", "http:", "mailto:")) for href in hrefs), hrefs
    assert site.url("/stories/") in hrefs, hrefs
    assert len(hrefs) >= 3, hrefs  # the author and the two harmless links
    tab.guard.allow_status(404)  # "java%09script:..." is a relative link now: a 404 page
    for index in range(len(hrefs)):
        tab.goto(story)
        link = links.nth(index)
        href = link.get_attribute("href")
        link.click()
        page.wait_for_load_state("load")
        assert_nothing_ran(tab, f"clicking {href!r}")

    for path in ("/stories/", "/users/", "/stories/mine", "/account"):
        tab.goto(path)
        assert_nothing_ran(tab, path)
    tab.goto("/users/")
    for author in authors:  # shown as typed
        link = page.get_by_role("main").get_by_role("link", name=author.name, exact=True)
        expect(link).to_be_visible()
    tab.goto("/stories/")
    for number, author in enumerate(authors):
        expect(page.get_by_text(f"Story {number} by {author.name}", exact=True)).to_be_visible()
    tab.goto("/users/")
    tab.follow(page.get_by_role("main").get_by_role("link", name=writer.name, exact=True))
    assert_nothing_ran(tab, "the hostile author's page")

    tab.goto("/contact")  # the name comes back in the thank-you message
    page.get_by_label("Your name").fill(NAMES[0])
    page.get_by_label("Email address").fill("mallory@example.com")
    page.get_by_label("Message").fill(f"<img src=x onerror={RUN}> hello there")
    tab.follow(page.get_by_role("button", name="Send message"))
    expect(tab.flash()).to_contain_text(f"Thank you, {NAMES[0]}.")
    assert_nothing_ran(tab, "the contact form's thank-you message")


def test_a_payload_that_runs_is_caught(tab: Tab, site: Site) -> None:
    # The checks above can fail: a page whose script sets window.__xss and
    # opens an alert (an empty page, no CSP) is reported.
    tab.goto("/")
    tab.page.evaluate(f"() => setTimeout(() => {{ {RUN} }}, 0)")
    tab.page.wait_for_function("() => window.__xss === 1")
    with pytest.raises(AssertionError, match="a payload ran"):
        assert_nothing_ran(tab, "a page where a script ran")
    problems = tab.guard.problems()
    assert [problem.kind for problem in problems] == ["dialog"], problems
    tab.guard.recorded.clear()  # the dialog was this test's own


def test_a_script_the_csp_blocks_is_caught(tab: Tab) -> None:
    # The guard of every test sees a CSP violation and the console error that
    # goes with it: an inline script without the page's nonce is refused.
    tab.goto("/about")
    tab.page.evaluate(
        """() => { const script = document.createElement('script');
                   script.textContent = 'window.__xss = 1';
                   document.body.append(script); }"""
    )
    assert tab.page.evaluate("() => window.__xss") is None  # refused by the CSP
    kinds = sorted({problem.kind for problem in tab.guard.problems()})
    assert kinds == ["console", "csp"], tab.guard.problems()
    assert any("script-src" in p.detail for p in tab.guard.problems() if p.kind == "csp")
    tab.guard.recorded.clear()  # this test's own
