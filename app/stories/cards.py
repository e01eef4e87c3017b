"""Story cards on list pages, rendered once and reused while nothing they show changes.

A list page shows twenty cards; rendering them (two links, two dates, the
escaped title, author and excerpt) was about a third of the page's time.  A
card is a pure function of the values it shows, so :class:`CardCache` keys
each rendered card by exactly those values: the path prefix its links
start with, the story's id, title, published flag, creation time and the
start of its body (all the excerpt reads), and the author's id and display
name.  An edit, a rename or another prefix makes a new key, so a stale card
is never shown and nothing needs invalidating; the oldest entries are
dropped past ``max_entries``.  The cache lives in each worker process
(``app.extensions["bastion.story_cards"]``) and holds no per-user data: a
card shows nothing that depends on who is looking (the "Draft" badge
follows the story's flag, and only its author and admins see drafts).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, request
from markupsafe import Markup

from app.stories.markdown import EXCERPT_SOURCE_CHARS

#: The template of one card (a ``story`` variable).
CARD_TEMPLATE = "stories/_card.html"


class CardCache:
    """Rendered story cards of one application, by the values they show.

    :param max_entries: cards kept at most (about 1 KiB each); the oldest go first.
    """

    def __init__(self, max_entries: int = 2048) -> None:
        self.max_entries = max_entries
        self.entries: dict[tuple[Any, ...], Markup] = {}

    @staticmethod
    def key(story: Any) -> tuple[Any, ...]:
        """Everything a card of ``story`` shows (its author loaded with it)."""
        author = story.author
        return (
            request.script_root,
            story.id,
            story.title,
            story.published,
            story.created_at,
            story.body[:EXCERPT_SOURCE_CHARS],
            author.id,
            author.display_name,
        )

    def render(self, story: Any) -> Markup:
        """The card of ``story`` as HTML (template global ``story_card``).

        :raises jinja2.TemplateError: when the card template fails to render.
        """
        key = self.key(story)
        card = self.entries.get(key)
        if card is None:
            template = current_app.jinja_env.get_template(CARD_TEMPLATE)
            # Markup() is safe: the template autoescapes every value it shows.
            card = Markup(template.render(story=story))  # noqa: S704  # nosec B704
            if len(self.entries) >= self.max_entries:
                del self.entries[next(iter(self.entries))]
            self.entries[key] = card
        return card


def init_story_cards(app: Flask) -> CardCache:
    """Give ``app``'s templates ``story_card(story)``, backed by a new :class:`CardCache`."""
    cache = CardCache()
    app.jinja_env.globals["story_card"] = cache.render
    app.extensions["bastion.story_cards"] = cache
    return cache
