"""A memoising ``url_for`` for templates.

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

MAX_ENTRIES = 2048


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
