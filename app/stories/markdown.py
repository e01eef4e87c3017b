"""Markdown to safe HTML: markdown-it-py, then nh3 on an allowlist.

Two layers.  markdown-it-py (CommonMark) runs with raw HTML off, so ``<script>``
in a story is shown as text, and it refuses ``javascript:``, ``vbscript:``,
``file:`` and ``data:`` link targets.  nh3 (the Rust ``ammonia`` sanitiser)
then keeps only the tags and attributes listed here and only ``http``,
``https`` and ``mailto`` URLs, and gives every link
``rel="noopener nofollow ugc"``.  A third layer is the CSP: no inline script
can run even if both were bypassed.
"""

from __future__ import annotations

import html
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

ALLOWED_TAGS = frozenset(
    {
        "a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6",
        "hr", "li", "ol", "p", "pre", "s", "strong", "table", "tbody", "td", "th", "thead",
        "tr", "ul",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
#: Attributes the sanitiser sets, whatever the source says: a code block that scrolls
#: sideways must be reachable by keyboard (WCAG 2.2 SC 2.1.1; axe "scrollable-region-focusable").
SET_ATTRIBUTES = {"pre": {"tabindex": "0"}}
LINK_REL = "noopener nofollow ugc"

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_markdown.enable("table").enable("strikethrough")


def sanitize_html(html: str) -> str:
    """Keep only the allowlisted tags, attributes and URL schemes of ``html``."""
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        set_tag_attribute_values={tag: dict(values) for tag, values in SET_ATTRIBUTES.items()},
        strip_comments=True,
    )


@lru_cache(maxsize=128)
def render_markdown(source: str) -> Markup:
    """Render Markdown ``source`` to sanitised HTML, safe to put in a page.

    Cached by source text (a story page re-renders nothing until it changes).
    """
    env: dict[str, object] = {}  # reference-style link definitions, from parse to render
    tokens = _markdown.parse(source, env)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = demote_heading(token.tag)
    # Markup() is safe here: the HTML is nh3's allowlisted output.
    html = _markdown.renderer.render(tokens, _markdown.options, env)
    return Markup(sanitize_html(html))  # noqa: S704  # nosec B704


def demote_heading(tag: str) -> str:
    """``h1`` -> ``h2`` ... ``h5`` -> ``h6``, ``h6`` stays: a story's ``# heading`` sits
    below the page's one ``h1``, its title (WCAG 2.2 SC 1.3.1, one top-level heading)."""
    return f"h{min(int(tag[1]) + 1, 6)}"


#: Characters of an excerpt, and of Markdown source read to make one.
EXCERPT_LENGTH = 200
EXCERPT_SOURCE_CHARS = 8 * EXCERPT_LENGTH


def excerpt(source: str, length: int = EXCERPT_LENGTH) -> str:
    """Plain-text start of a Markdown ``source`` for lists (escaped by Jinja).

    Only the first ``8 * length`` characters are rendered, and results are
    cached: a list page costs the same whatever the stories' lengths.
    """
    return _excerpt(source[: length * 8], length)


@lru_cache(maxsize=1024)
def _excerpt(source: str, length: int) -> str:
    text = html.unescape(nh3.clean(_markdown.render(source), tags=set()))
    text = " ".join(text.split())
    if len(text) <= length:
        return text
    return text[: length - 1].rsplit(" ", 1)[0] + "…"
