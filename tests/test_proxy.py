"""Reverse-proxy handling: ``X-Forwarded-*`` headers, the HTTPS redirect and ``PATH_PREFIX``."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask, jsonify, redirect, request, url_for

from tests.conftest import make_app

#: These tests add routes to their app (tests/conftest.py, ``app``).
pytestmark = pytest.mark.own_app

SPOOFED = {
    "X-Forwarded-For": "203.0.113.9",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "example.com",
    "X-Forwarded-Port": "8443",
    "X-Forwarded-Prefix": "/prefix",
}
TRUST_ALL = {
    "PROXY_FIX_X_FOR": 1,
    "PROXY_FIX_X_PROTO": 1,
    "PROXY_FIX_X_HOST": 1,
    "PROXY_FIX_X_PREFIX": 1,
    "TRUSTED_HOSTS": ["localhost", "example.com"],
}
FORWARDED = {
    "X-Forwarded-For": "1.2.3.4, 5.6.7.8",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "example.com",
    "X-Forwarded-Prefix": "/prefix",
}
PREFIX = "/some-service/v1"
HSTS = "max-age=31536000; includeSubDomains"


def add_probe(app: Flask) -> None:
    """Add ``/_probe`` (what the app sees) and ``/_bounce`` (a redirect home)."""

    def probe() -> Any:
        return jsonify(
            remote_addr=request.remote_addr,
            scheme=request.scheme,
            host=request.host,
            script_root=request.script_root,
            forwarded={name: request.headers.get(name) for name in SPOOFED},
            about=url_for("main.about"),
            about_external=url_for("main.about", _external=True),
        )

    app.add_url_rule("/_probe", "probe", probe)
    app.add_url_rule("/_bounce", "bounce", lambda: redirect(url_for("main.home")))


def seen(app: Flask, headers: dict[str, str]) -> dict[str, Any]:
    """GET ``/_probe`` with ``headers``; return what the app saw."""
    add_probe(app)
    response = app.test_client().get("/_probe", headers=headers)
    assert response.status_code == 200
    return response.get_json()


# --- default: trust nothing ------------------------------------------------------


def test_default_ignores_every_forwarded_header(app):
    view = seen(app, SPOOFED)
    assert view["remote_addr"] == "127.0.0.1"
    assert view["scheme"] == "http"
    assert view["host"] == "localhost"
    assert view["script_root"] == ""
    assert view["about_external"] == "http://localhost/about"


def test_default_removes_untrusted_headers_from_the_request(app):
    assert seen(app, SPOOFED)["forwarded"] == dict.fromkeys(SPOOFED)


def test_default_request_log_records_the_socket_address(app, caplog):
    app.test_client().get("/", headers=SPOOFED)
    lines = [r.getMessage() for r in caplog.records if r.name == "bastion.request"]
    assert len(lines) == 1
    assert '"client":"127.0.0.1"' in lines[0]
    assert "203.0.113.9" not in caplog.text


def test_spoofed_proto_does_not_switch_on_hsts(client):
    response = client.get("/", headers={"X-Forwarded-Proto": "https"})
    assert response.status_code == 200
    assert "Strict-Transport-Security" not in response.headers


# --- trusted proxy ----------------------------------------------------------------


@pytest.mark.settings(**TRUST_ALL)
def test_trusted_proxy_headers_are_applied(app):
    view = seen(app, FORWARDED)
    assert view["remote_addr"] == "5.6.7.8"
    assert view["scheme"] == "https"
    assert view["host"] == "example.com"
    assert view["script_root"] == "/prefix"
    assert view["about"] == "/prefix/about"
    assert view["about_external"] == "https://example.com/prefix/about"


@pytest.mark.settings(**TRUST_ALL)
def test_trusted_proxy_keeps_trusted_but_drops_untrusted_port(app):
    forwarded = seen(app, {**FORWARDED, "X-Forwarded-Port": "8443"})["forwarded"]
    assert forwarded["X-Forwarded-Host"] == "example.com"
    assert forwarded["X-Forwarded-Port"] is None


@pytest.mark.settings(**TRUST_ALL)
def test_trusted_proxy_logs_the_real_client(app, caplog):
    app.test_client().get("/", headers=FORWARDED)
    assert '"client":"5.6.7.8"' in caplog.text


@pytest.mark.settings(**TRUST_ALL)
def test_untrusted_forwarded_host_is_refused(app, json_accept):
    headers = {**FORWARDED, **json_accept, "X-Forwarded-Host": "evil.example"}
    response = app.test_client().get("/", headers=headers)
    assert response.status_code == 400
    assert response.get_json()["status"] == 400


@pytest.mark.settings(**TRUST_ALL)
def test_redirect_carries_the_forwarded_prefix(app):
    add_probe(app)
    response = app.test_client().get("/_bounce", headers=FORWARDED)
    assert response.status_code == 302
    assert response.headers["Location"] in {"/prefix/", "https://example.com/prefix/"}


# --- HTTPS redirect (only outside testing mode) ---------------------------------------


@pytest.fixture
def live_app(app: Flask) -> Flask:
    """The app with ``TESTING=False`` (the HTTPS redirect is off in testing mode)."""
    assert not app.testing
    return app


@pytest.mark.settings(FORCE_HTTPS=True, TESTING=False)
def test_plain_http_is_redirected_to_https(live_app):
    response = live_app.test_client().get("/")
    assert response.status_code == 301
    assert response.headers["Location"] == "https://localhost/"


@pytest.mark.settings(FORCE_HTTPS=True, TESTING=False)
def test_spoofed_proto_does_not_bypass_the_https_redirect(live_app):
    response = live_app.test_client().get("/", headers={"X-Forwarded-Proto": "https"})
    assert response.status_code == 301
    assert response.headers["Location"] == "https://localhost/"


@pytest.mark.settings(FORCE_HTTPS=True, TESTING=False, PROXY_FIX_X_PROTO=1)
def test_trusted_https_proto_is_served_with_hsts(live_app):
    response = live_app.test_client().get("/", headers={"X-Forwarded-Proto": "https"})
    assert response.status_code == 200
    assert response.headers["Strict-Transport-Security"] == HSTS


@pytest.mark.settings(FORCE_HTTPS=True, TESTING=False)
def test_health_check_is_exempt_from_the_https_redirect(live_app):
    response = live_app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


# --- PATH_PREFIX ----------------------------------------------------------------


def stylesheets(page: bytes) -> list[str]:
    return re.findall(r'<link rel="stylesheet" href="([^"]+)"', page.decode())


@pytest.mark.settings(PATH_PREFIX=PREFIX)
def test_prefixed_page_links_carry_the_prefix(client):
    response = client.get(f"{PREFIX}/about")
    assert response.status_code == 200
    sheets = stylesheets(response.data)
    assert sheets
    assert all(href.startswith(f"{PREFIX}/static/dist/") for href in sheets)
    assert f'href="{PREFIX}/privacy"' in response.text
    assert 'href="/privacy"' not in response.text


@pytest.mark.settings(PATH_PREFIX=PREFIX)
def test_prefixed_static_files_are_served(client):
    for href in stylesheets(client.get(f"{PREFIX}/").data):
        response = client.get(href)
        assert response.status_code == 200, href
        assert response.mimetype == "text/css"
        response.close()


@pytest.mark.settings(PATH_PREFIX=PREFIX)
def test_prefix_already_stripped_by_the_proxy(app):
    view = seen(app, {})
    assert view["about"] == f"{PREFIX}/about"
    assert view["about_external"] == f"http://localhost{PREFIX}/about"
    assert app.test_client().get("/about").status_code == 200


@pytest.mark.settings(PATH_PREFIX=PREFIX)
def test_cookies_carry_the_prefix_as_their_path(app):
    client = app.test_client()
    page = client.get(f"{PREFIX}/contact")
    cookie = next(c for c in page.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert f"Path={PREFIX}" in cookie
    assert app.config["REMEMBER_COOKIE_PATH"] == PREFIX


@pytest.mark.settings(PATH_PREFIX=PREFIX)
def test_bare_prefix_is_the_home_page(client):
    response = client.get(PREFIX)
    assert response.status_code == 200
    assert "Welcome to Bastion" in response.text


@pytest.mark.settings(PATH_PREFIX=PREFIX)
def test_prefix_only_matches_at_a_segment_boundary(client):
    assert client.get(f"{PREFIX}about").status_code == 404


@pytest.mark.settings(PATH_PREFIX=f"{PREFIX}/")
def test_prefix_trailing_slash_is_normalised(app):
    assert seen(app, {})["about"] == f"{PREFIX}/about"


@pytest.mark.parametrize("prefix", ["/a/../b", "/app?x=1", "/app#top", "/a%2e%2e"])
def test_unsafe_prefix_refuses_to_start(prefix):
    from app.config import ConfigError

    with pytest.raises(ConfigError, match="PATH_PREFIX must be a plain path"):
        make_app(PATH_PREFIX=prefix)
