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


BUILD_IN_A_FRESH_FOLDER = """
import sys
from pathlib import Path
from flask import Flask
from app.assets import init_assets

static = Path(sys.argv[1])
app = Flask("built", static_folder=str(static))
app.config.update(
    ASSETS_AUTO_BUILD=False, ASSETS_DEBUG=False, ASSETS_URL_EXPIRE=False, ASSETS_CACHE=False,
    ASSETS_MANIFEST="precompressed-json:dist/manifest.json", ASSETS_BUILD_ON_START=True,
    STATIC_IMMUTABLE_MAX_AGE=60,
)
registry = init_assets(app)
print(registry.resolve("vendor_js").filename)
"""


def test_processes_building_the_same_folder_at_once_all_start(tmp_path):
    """The test workers (and any servers) started on a clean clone build together.

    CI once failed here: two pytest-xdist workers built ``dist/`` at the same
    time, and one renamed the other's half-written ``.gz`` away.
    """
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    static = tmp_path / "static"
    shutil.copytree(Path("app/static/src"), static / "src")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", BUILD_IN_A_FRESH_FOLDER, str(static)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    results = [(proc.wait(timeout=60), *proc.communicate()) for proc in procs]
    for code, _out, err in results:
        assert code == 0, err[-2000:]
    names = {out.strip() for _code, out, _err in results}
    assert len(names) == 1, names
    built = static / names.pop()
    assert built.with_name(built.name + ".gz").is_file()
    assert built.with_name(built.name + ".br").is_file()
    assert not list((static / "dist").glob("*.tmp")), "no half-written file left behind"
