"""Screenshots of the main pages, desktop and phone, light and dark, for people to look at.

Written to ``screenshots/`` at the repository root (``BASTION_SCREENSHOTS``
elsewhere; git-ignored, kept by CI) as ``<page>-<device>-<scheme>.png``,
full page; the run ends by printing the folder.  Each page is also guarded
like every other (no CSP violation, no console error), must not scroll
sideways on a phone, and follows the colour scheme the browser asks for (a
dark background when it prefers dark).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.browser.conftest import DESKTOP, PHONE, Contexts, open_tab, registered_client
from tests.browser.tab import Account, Site, expect, sign_in
from tests.deployment.stack import PREFIX, Stack

STORY = """Markdown in a story, as its readers see it.

## A heading below the title

Some *emphasis*, some **strong words**, `inline code` and [a link](https://example.com/).

> A quotation, which should look like one.

```python
def greet(name: str) -> str:
    return f"Hello, {name}!"
```

| Fruit | Colour | Count |
|-------|--------|------:|
| apple | red    | 3     |
| pear  | green  | 12    |

1. first
2. second

A long paragraph to see the measure of a line: Lorem ipsum dolor sit amet, consectetur
adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim
ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo.
"""


#: The lightness (0 black .. 1 white) of the page's background colour.
BACKGROUND_LIGHTNESS = """() => {
  const [r, g, b] = getComputedStyle(document.body).backgroundColor.match(/[\\d.]+/g).map(Number);
  return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
}"""


@dataclass(frozen=True)
class Scene:
    """What the screenshots show: an author with a story, and another in the trash."""

    account: Account
    story: str  # app path of the published story


@pytest.fixture(scope="module")
def scene(stack: Stack) -> Scene:
    """An author with a published story and a story in the trash (through nginx)."""
    account, client = registered_client(stack, name="Ada Lovelace")
    stories = []
    for title, body in (("Notes on the Analytical Engine", STORY), ("An early draft", "Gone.")):
        response = client.post_form(
            f"{PREFIX}/stories/new", {"title": title, "body": body, "published": "y"}
        )
        assert response.status == 302, response.status
        stories.append((response.header("Location") or "").removeprefix(PREFIX))
    deleted = client.post_form(
        f"{PREFIX}{stories[1]}/delete", {}, form_path=f"{PREFIX}{stories[1]}"
    )
    assert deleted.status == 302, deleted.status
    return Scene(account, stories[0])


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_screenshots_of_the_main_pages(
    contexts: Contexts, site: Site, scene: Scene, screenshots: Path, device: str, scheme: str
) -> None:
    phone = device == "phone"
    tab = open_tab(
        contexts,
        site,
        viewport=PHONE if phone else DESKTOP,
        is_mobile=phone,
        has_touch=phone,
        device_scale_factor=2 if phone else 1,
        color_scheme=scheme,
        reduced_motion="reduce",
    )
    taken = []

    def shoot(name: str, path: str) -> None:
        tab.goto(path)
        overflow = tab.page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{path} scrolls sideways by {overflow} px on a {device}"
        background = tab.page.evaluate(BACKGROUND_LIGHTNESS)
        assert (background < 0.5) == (scheme == "dark"), (
            f"{path}: background lightness {background:.2f} in the {scheme} colour scheme"
        )
        file = screenshots / f"{name}-{device}-{scheme}.png"
        tab.page.screenshot(path=file, full_page=True, animations="disabled")
        taken.append(file)

    shoot("home", "/")
    shoot("stories", "/stories/")
    shoot("story", scene.story)
    shoot("sign-in", "/sign-in")
    shoot("register", "/register")
    sign_in(tab, scene.account)
    shoot("account", "/account")
    shoot("my-stories", "/stories/mine")
    expect(tab.page.get_by_role("link", name="Notes on the Analytical Engine")).to_be_visible()
    shoot("trash", "/stories/trash")
    expect(tab.page.get_by_role("heading", name="An early draft")).to_be_visible()
    assert all(file.stat().st_size > 5000 for file in taken), taken
