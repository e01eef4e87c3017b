"""Keyboard only: sign in and write a story with Tab and Enter, seeing where the focus is.

Every control the focus reaches on the way must show that it has it (WCAG
2.2 AA, 2.4.7 "Focus Visible"): a computed ``outline`` that is drawn, or a
``box-shadow`` (Bootstrap's focus ring).  Animations are reduced
(``prefers-reduced-motion``) so the ring is read once it is drawn, not
half-way through Bootstrap's transition.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import Contexts, open_tab
from tests.browser.tab import Account, Site, Tab, expect

if TYPE_CHECKING:
    from playwright.sync_api import Locator

#: Tab presses allowed to reach a control before the test gives up.
MAX_TABS = 40

FOCUS_STATE = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
  const shadow = style.boxShadow !== 'none' && style.boxShadow !== '';
  const box = el.getBoundingClientRect();
  return {
    visible: outline || shadow, drawn: box.width > 0 && box.height > 0,
    what: `${el.tagName.toLowerCase()} "${(el.labels && el.labels[0] ? el.labels[0].innerText
      : el.innerText || el.value || el.name || '').trim().slice(0, 40)}"`,
    outline: `${style.outlineStyle} ${style.outlineWidth}`, shadow: style.boxShadow,
  };
}"""


def focus_state(tab: Tab) -> dict[str, object] | None:
    """What has the focus and how it shows it (``None``: nothing focused)."""
    return tab.page.evaluate(FOCUS_STATE)


def tab_to(tab: Tab, target: Locator) -> list[str]:
    """Press Tab until ``target`` has the focus; every control passed must show its focus.

    :returns: the controls the focus went through (for the failure message).
    :raises AssertionError: when a focused control shows no focus indicator,
        or ``target`` is not reached within :data:`MAX_TABS` presses.
    """
    path = []
    for _ in range(MAX_TABS):
        tab.page.keyboard.press("Tab")
        state = focus_state(tab)
        assert state is not None, f"Tab left the page after {path}"
        path.append(str(state["what"]))
        assert state["drawn"], f"the focused {state['what']} is not on screen"
        assert state["visible"], (
            f"the focused {state['what']} shows no focus indicator "
            f"(outline {state['outline']}, box-shadow {state['shadow']}); path: {path}"
        )
        if target.evaluate("(el) => el === document.activeElement"):
            return path
    raise AssertionError(f"{target} not reached in {MAX_TABS} Tab presses: {path}")


def test_sign_in_and_write_a_story_with_the_keyboard_only(
    contexts: Contexts, site: Site, account: Account
) -> None:
    tab = open_tab(contexts, site, reduced_motion="reduce")
    page = tab.page
    keyboard = page.keyboard
    tab.goto("/")

    skip = tab_to(tab, page.get_by_role("link", name="Skip to main content"))
    assert len(skip) == 1, f"the skip link is not the first stop: {skip}"
    tab_to(tab, page.get_by_role("link", name="Sign in", exact=True))
    tab.follow(None, key="Enter")
    assert tab.path == "/sign-in"

    tab_to(tab, page.get_by_label("Email address"))
    keyboard.type(account.email)
    tab_to(tab, page.get_by_label("Password", exact=True))
    keyboard.type(account.password)
    tab_to(tab, page.get_by_role("button", name="Sign in", exact=True))
    tab.follow(None, key="Enter")
    expect(page.get_by_role("link", name=account.name, exact=True)).to_be_visible()

    tab_to(tab, page.get_by_role("link", name="My stories"))
    tab.follow(None, key="Enter")
    tab_to(tab, page.get_by_role("link", name="Write a story"))
    tab.follow(None, key="Enter")
    tab_to(tab, page.get_by_label("Title"))
    keyboard.type("Typed, never clicked")
    tab_to(tab, page.get_by_label("Story (Markdown)"))
    keyboard.type("Every key was a key.")
    keyboard.press("Enter")  # a new paragraph: Enter in the text area types a line break
    keyboard.press("Enter")
    keyboard.type("No mouse was harmed.")
    tab_to(tab, page.get_by_role("button", name="Save story"))
    tab.follow(None, key="Enter")

    expect(tab.flash()).to_contain_text("Your story has been saved.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Typed, never clicked")
    expect(page.get_by_role("paragraph").filter(has_text="No mouse was harmed.")).to_be_visible()


def test_a_control_without_a_focus_ring_is_caught(tab: Tab) -> None:
    # The check above can fail: a button whose focus style was removed (a
    # local page, not the app's) stops the walk.
    tab.page.set_content(
        '<a href="#top">ringed</a>'
        '<button style="outline: none; box-shadow: none">ringless</button><a href="#end">end</a>'
    )
    with pytest.raises(AssertionError, match='button "ringless" shows no focus indicator'):
        tab_to(tab, tab.page.get_by_role("link", name="end"))
