"""The templates' memoising url_for gives what flask.url_for gives."""

from __future__ import annotations

import pytest
from flask import url_for

from app.urls import MAX_ENTRIES


@pytest.mark.parametrize("prefix", ["", "/p"])
def test_cached_urls_match_flask(app, prefix):
    cached = app.extensions["bastion.url_cache"]
    with app.test_request_context("/", base_url=f"http://localhost{prefix}/"):
        for args in [("main.about", {}), ("static", {"filename": "favicon.svg"})]:
            endpoint, values = args
            assert cached.url_for(endpoint, **values) == url_for(endpoint, **values)
            assert cached.url_for(endpoint, **values) == url_for(endpoint, **values)
        assert cached.url_for("main.about", _external=True) == "http://localhost/p/about".replace(
            "/p", prefix
        )


def test_prefixes_are_cached_separately(app):
    cached = app.extensions["bastion.url_cache"]
    with app.test_request_context("/"):
        assert cached.url_for("main.about") == "/about"
    with app.test_request_context("/", base_url="http://localhost/p/"):
        assert cached.url_for("main.about") == "/p/about"


def test_relative_endpoints_and_unhashable_values_are_not_cached(app):
    cached = app.extensions["bastion.url_cache"]
    with app.test_request_context("/about"):
        assert cached.url_for(".about") == "/about"
        assert cached.url_for("main.about", tag=["a", "b"]) == "/about?tag=a&tag=b"
    assert not any(".about" in key or "tag" in str(key) for key in cached.entries)


def test_cache_is_bounded(app, monkeypatch):
    cached = app.extensions["bastion.url_cache"]
    monkeypatch.setattr("app.urls.MAX_ENTRIES", 2)
    with app.test_request_context("/"):
        for page in range(5):
            assert cached.url_for("main.about", page=page) == f"/about?page={page}"
    assert len(cached.entries) == 2 < MAX_ENTRIES
