"""A second's memory of the pages anonymous visitors read: the busiest lists skip the database.

Every anonymous visitor of ``/stories/`` gets the same rows.  Reading them
(a round trip to PostgreSQL and twenty ORM objects) was half of that page's
time, so a :class:`PageCache` keeps each page a list view read for an
anonymous visitor for ``LIST_CACHE_SECONDS`` (default 1 second), keyed by
the view and its URL values and ``?cursor=`` (the path prefix is part of
the key as well).  The technique is nginx's "microcaching": under load, one
query serves every visitor of that second; a quiet site sees no difference.

Freshness:

* any commit in this process (a story written, edited, deleted, an account
  renamed) empties every cache of the process at once, so a writer never
  sees their own change missing;
* another worker or instance may serve a page up to ``LIST_CACHE_SECONDS``
  old; ``0`` turns the cache off.

What is kept:

* the rows (whatever the view's ``load_page`` read), for anonymous visitors;
* the rendered HTML as well, for anonymous visitors without a session
  (no session cookie, no remember-me cookie: a first visit, a crawler, a
  link followed from elsewhere), when rendering wrote nothing to the
  session.  Such a page holds nothing of the visitor but the CSP nonce, so
  the kept HTML is served with the nonce it was rendered with replaced by
  this request's (:meth:`PageCache.get_html`).  A visitor with a session
  may have flash messages or a CSRF token on the page: theirs is rendered
  for them from the kept rows.

Signed-in visitors, whose lists depend on who they are, always read the
database.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

#: Pages kept at most per app (the oldest go first).
MAX_ENTRIES = 256

_caches: weakref.WeakSet[PageCache] = weakref.WeakSet()


class PageCache:
    """Pages of one app's lists, each kept ``seconds`` (see the module docstring).

    :param seconds: how long a page is served from memory (0: never kept).
    :param max_entries: pages kept at most.
    """

    def __init__(self, seconds: float, max_entries: int = MAX_ENTRIES) -> None:
        self.seconds = float(seconds)
        self.max_entries = max_entries
        self.entries: dict[tuple[Any, ...], tuple[float, Any]] = {}
        _caches.add(self)

    @staticmethod
    def now() -> float:
        """The clock the entries' ages are measured on (seconds, monotonic)."""
        return time.monotonic()

    def get(self, key: tuple[Any, ...]) -> Any | None:
        """The page kept under ``key`` if it is younger than ``seconds``, else ``None``."""
        entry = self.entries.get(key)
        if entry is None:
            return None
        stored, page = entry
        if self.now() - stored >= self.seconds:
            self.entries.pop(key, None)
            return None
        return page

    def put(self, key: tuple[Any, ...], page: Any) -> None:
        """Keep ``page`` under ``key`` (nothing when ``seconds`` is 0)."""
        if self.seconds <= 0:
            return
        if len(self.entries) >= self.max_entries:
            self.entries.pop(next(iter(self.entries)), None)
        self.entries[key] = (self.now(), page)

    def get_html(self, key: tuple[Any, ...], nonce: str) -> bytes | None:
        """The page kept under ``key`` (UTF-8), its CSP nonce replaced by ``nonce``; or ``None``.

        The kept nonce (192 random bits) occurs in the HTML only where the
        template printed it: user text is escaped, and a nonce is not known
        before the page is rendered.  The page is kept encoded and cut at its
        nonces, so a hit only joins bytes (no encoding, no search).
        """
        parts: tuple[bytes, ...] | None = self.get((*key, "html"))
        if parts is None:
            return None
        return nonce.encode("ascii").join(parts)

    def put_html(self, key: tuple[Any, ...], html: str, nonce: str | None) -> None:
        """Keep ``html``, rendered with the CSP ``nonce`` (``None``: it printed none)."""
        body = html.encode("utf-8")
        parts = tuple(body.split(nonce.encode("ascii"))) if nonce else (body,)
        self.put((*key, "html"), parts)

    def clear(self) -> None:
        """Forget every page."""
        self.entries.clear()


def init_page_cache(app: Flask) -> PageCache:
    """Give ``app`` the :class:`PageCache` of its list views (``LIST_CACHE_SECONDS``)."""
    cache = PageCache(app.config.get("LIST_CACHE_SECONDS", 0))
    app.extensions["bastion.page_cache"] = cache
    return cache


#: ``Session.info`` key set inside :func:`pages_unchanged`.
KEEP_PAGES = "bastion.keep_pages"


@contextmanager
def pages_unchanged(session: Session) -> Iterator[None]:
    """Commits of ``session`` inside this block change nothing a list page shows
    (bookkeeping such as a sign-in session's ``last_seen_at``): they leave the caches."""
    session.info[KEEP_PAGES] = True
    try:
        yield
    finally:
        session.info.pop(KEEP_PAGES, None)


def clear_all(session: Session) -> None:
    """``after_commit`` of every session: empty every :class:`PageCache` of the process,
    except for a commit inside :func:`pages_unchanged`."""
    if session.info.get(KEEP_PAGES):
        return
    for cache in list(_caches):
        cache.clear()


if not event.contains(Session, "after_commit", clear_all):
    event.listen(Session, "after_commit", clear_all)
