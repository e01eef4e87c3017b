"""URL pieces: the ``<id:...>`` converter for row ids, and a memoising ``url_for``.

Row ids in URLs are ``<id:name>`` (:class:`IdConverter`): 1 to 2**31 - 1,
plain ASCII digits without leading zeros.  Anything else is a 404 from the
router, before a view or the database sees it: PostgreSQL's ``integer``
stops at 2**31 - 1 (a larger bound parameter is ``NumericValueOutOfRange``,
a 500) and SQLite's driver at 2**63 - 1 (``OverflowError``), issue 9.

The memoising ``url_for``:

Every page builds the same dozen links (navbar, footer, assets).  A relative
URL depends only on the endpoint, its arguments and ``request.script_root``
(the path prefix), so :func:`cached_url_for` remembers it per
``(script_root, endpoint, arguments)`` and skips Werkzeug's URL building
(about 6 µs a link, measured with ``bench/profile_request.py``).

Calls it can't cache safely fall through to :func:`flask.url_for`:
``_external``/``_scheme``/``_anchor``/``_method`` options, blueprint-relative
endpoints (``.name``) and, once the cache holds ``MAX_ENTRIES`` URLs, any
new one.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request, url_for
from werkzeug.routing import IntegerConverter, Map

MAX_ENTRIES = 2048
#: The largest id a URL may name: PostgreSQL's ``integer`` (the models' primary keys).
MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """``<id:name>``: a row id from 1 to :data:`MAX_ID`, else the rule does not match (404).

    Werkzeug's ``int`` converter matches any run of Unicode digits (``\\d+``:
    ``/stories/99999999999999999999`` and ``/stories/٣`` reach the view); this
    one matches 1 to 10 ASCII digits without a leading zero, so every row has
    one URL, and checks the upper bound (Werkzeug's ``max``).
    """

    regex = r"[1-9][0-9]{0,9}"

    def __init__(self, map: Map, *args: object, **kwargs: object) -> None:
        super().__init__(map, min=1, max=MAX_ID)


def init_url_converters(app: Flask) -> None:
    """Register ``<id:...>`` (:class:`IdConverter`) on ``app``; call it before any rule uses it."""
    app.url_map.converters["id"] = IdConverter


class URLCache:
    """Per-application cache of relative URLs (see the module docstring)."""

    def __init__(self) -> None:
        self.entries: dict[tuple[Any, ...], str] = {}

    def url_for(self, endpoint: str, **values: Any) -> str:
        """Same contract as :func:`flask.url_for`; cached for plain relative links.

        :raises werkzeug.routing.BuildError: for an unknown endpoint.
        """
        if not values:
            key: tuple[Any, ...] = (request.script_root, endpoint)
        elif any(name.startswith("_") for name in values):
            return url_for(endpoint, **values)
        else:
            key = (request.script_root, endpoint, *sorted(values.items()))
            try:
                hash(key)
            except TypeError:  # an unhashable argument (a list)
                return url_for(endpoint, **values)
        if endpoint.startswith("."):
            return url_for(endpoint, **values)
        cached = self.entries.get(key)
        if cached is None:
            cached = url_for(endpoint, **values)
            if len(self.entries) < MAX_ENTRIES:
                self.entries[key] = cached
        return cached


def init_url_cache(app: Flask) -> URLCache:
    """Replace the templates' ``url_for`` with a :class:`URLCache` of ``app``."""
    cache = URLCache()
    app.jinja_env.globals["url_for"] = cache.url_for
    app.extensions["bastion.url_cache"] = cache
    return cache
