"""Bundled, hashed, minified assets with SRI and a one-year immutable cache."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from app.assets import AssetsNotBuiltError
from tests.conftest import make_app

PRODUCTION = {
    "BASTION_CONFIG": "production",
    "SECRET_KEY": "p" * 64,
    "TRUSTED_HOSTS": ["localhost"],
    "FORCE_HTTPS": False,
}
ASSET_TAG = re.compile(
    r'<(?:link rel="stylesheet" href|script src)="(?P<url>[^"]+)" '
    r'integrity="(?P<sri>[^"]+)" crossorigin="anonymous"'
)


def asset_tags(page: str) -> list[tuple[str, str]]:
    return [(m["url"], m["sri"]) for m in ASSET_TAG.finditer(page)]


def test_every_script_and_stylesheet_has_sri_and_crossorigin(client):
    page = client.get("/").get_data(as_text=True)
    tags = asset_tags(page)
    assert len(tags) == 5  # vendor + custom, CSS + JS, and the CSS for no JavaScript
    assert page.count("<script") == 2
    assert page.count(" defer></script>") == 2, "scripts never hold up the first paint"
    assert page.count('rel="stylesheet"') == 3


def test_sri_hashes_match_the_served_files(client):
    for url, sri in asset_tags(client.get("/").get_data(as_text=True)):
        served = client.get(url)
        assert served.status_code == 200, url
        digest = base64.b64encode(hashlib.sha384(served.data).digest()).decode()
        assert sri == f"sha384-{digest}", url


def test_bundles_are_local_hashed_and_minified(client):
    urls = [url for url, _ in asset_tags(client.get("/").get_data(as_text=True))]
    for url in urls:
        assert url.startswith("/static/dist/"), "served by the app itself, not a CDN"
        assert re.search(r"/(vendor|custom|nojs)-[0-9a-f]{8,}\.min\.(css|js)$", url)
    css = client.get(next(u for u in urls if "/vendor-" in u and u.endswith(".css")))
    assert b"Bootstrap v5.3" in css.data
    assert b"/blob/main/LICENSE" in css.data, "its MIT notice is kept"
    assert b"sourceMappingURL" not in css.data
    custom_css = client.get(next(u for u in urls if "/custom-" in u and u.endswith(".css")))
    assert b"\n  " not in custom_css.data, "minified: no indentation left"
    assert b".skip-link" in custom_css.data


def test_hashed_files_are_cached_for_a_year_and_immutable(client):
    url = asset_tags(client.get("/").get_data(as_text=True))[0][0]
    cache = client.get(url).headers["Cache-Control"]
    assert "public" in cache
    assert "max-age=31536000" in cache
    assert "immutable" in cache


def test_unhashed_static_files_are_not_cached_for_long(client):
    response = client.get("/static/favicon.svg")
    assert response.status_code == 200
    assert "immutable" not in response.headers.get("Cache-Control", "")


def test_production_resolves_assets_once_at_start():
    app = make_app(**PRODUCTION)
    registry = app.extensions["bastion.assets"]
    assert registry.live is False
    client = app.test_client()
    first = client.get("/").get_data(as_text=True)

    # Break the bundle environment: a per-request lookup would now fail.
    def fail(*args, **kwargs):
        raise AssertionError("assets resolved during a request")

    app.extensions["bastion.assets"].env = None
    app.extensions["bastion.assets"].build = fail
    second = client.get("/").get_data(as_text=True)
    assert asset_tags(first) == asset_tags(second)


def test_production_refuses_to_start_without_built_assets():
    with pytest.raises(AssetsNotBuiltError, match="flask assets build"):
        make_app(**PRODUCTION, ASSETS_MANIFEST="json:dist/no-such-manifest.json")


@pytest.mark.parametrize("prefix", ["", "/some-service/v1"])
def test_fast_asset_urls_equal_url_for(prefix):
    app = make_app(PATH_PREFIX=prefix)
    registry = app.extensions["bastion.assets"]
    with app.test_request_context("/", base_url=f"http://localhost{prefix}/"):
        for name in ("vendor_css", "custom_css", "nojs_css", "vendor_js", "custom_js"):
            assert registry.url_cached(name) == registry.url(name)
            assert registry.url_cached(name).startswith(f"{prefix}/static/dist/")
