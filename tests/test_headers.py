"""Security headers, CSP with nonces, cookie flags (flask_bastion/headers.py)."""

from __future__ import annotations

import re

import pytest

HTTPS = {"base_url": "https://localhost"}


def csp_directives(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def nonce_of(response) -> str:
    sources = csp_directives(response)["script-src"]
    nonces = [s for s in sources if s.startswith("'nonce-")]
    assert len(nonces) == 1
    return nonces[0][len("'nonce-") : -1]


def test_csp_has_every_strict_directive(client):
    directives = csp_directives(client.get("/"))
    assert directives["default-src"] == ["'none'"]
    assert directives["script-src"][0] == "'self'"
    assert directives["font-src"] == ["'self'"]
    assert directives["connect-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"]
    assert directives["form-action"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'self'"]
    assert directives["img-src"] == ["'self'", "data:"]
    assert directives["style-src"] == ["'self'"]


def test_csp_never_allows_unsafe_sources(client):
    for path in ("/", "/contact", "/missing", "/healthz"):
        header = client.get(path).headers["Content-Security-Policy"]
        assert "unsafe-inline" not in header
        assert "unsafe-eval" not in header


def test_nonce_is_long_unique_per_response_and_on_every_script(client):
    nonces = set()
    for _ in range(5):
        response = client.get("/")
        nonce = nonce_of(response)
        # >= 128 bits: 32 URL-safe base64 characters carry 192.
        assert len(nonce) >= 22
        assert re.fullmatch(r"[A-Za-z0-9_-]+", nonce)
        scripts = re.findall(r"<script\b[^>]*>", response.get_data(as_text=True))
        assert scripts, "the page loads its scripts"
        for tag in scripts:
            assert f'nonce="{nonce}"' in tag
        nonces.add(nonce)
    assert len(nonces) == 5


def test_a_response_without_a_template_script_gets_the_policy_without_a_nonce(client):
    health = client.get("/healthz")
    directives = csp_directives(health)
    assert directives["script-src"] == ["'self'"], "no nonce where nothing asked for one"
    assert directives == {**csp_directives(client.get("/")), "script-src": ["'self'"]}


@pytest.mark.settings(CSP_REPORT_URI="https://reports.example/csp")
def test_csp_report_uri_is_appended(client):
    assert csp_directives(client.get("/"))["report-uri"] == ["https://reports.example/csp"]


def test_content_security_policy_puts_the_nonce_in_each_chosen_directive():
    from flask_bastion.headers import ContentSecurityPolicy

    policy = ContentSecurityPolicy(
        {"default-src": "'self'", "script-src": "'self'", "style-src": ["'self'", "data:"]},
        nonce_in=("script-src", "style-src"),
    )
    assert policy.header(None) == "default-src 'self'; script-src 'self'; style-src 'self' data:"
    assert policy.header("abc") == (
        "default-src 'self'; script-src 'self' 'nonce-abc'; style-src 'self' data: 'nonce-abc'"
    )
    assert ContentSecurityPolicy({"img-src": "'self'"}).header("abc") == "img-src 'self'"


def test_templates_have_no_inline_handlers_styles_or_scripts(client):
    for path in ("/", "/about", "/privacy", "/cookies", "/contact", "/missing"):
        page = client.get(path).get_data(as_text=True)
        assert not re.search(r"\son[a-z]+\s*=", page), path
        assert not re.search(r"\sstyle\s*=", page), path
        assert "<style" not in page, path
        for tag_body in re.findall(r"<script\b[^>]*>(.*?)</script>", page, re.S):
            assert tag_body.strip() == "", f"inline script on {path}"


def test_other_security_headers(client):
    response = client.get("/")
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response.headers["Cross-Origin-Resource-Policy"] == "same-origin"
    assert response.headers["X-XSS-Protection"] == "0"
    policy = response.headers["Permissions-Policy"]
    for feature in ("camera=()", "microphone=()", "geolocation=()", "payment=()", "usb=()"):
        assert feature in policy


def test_headers_are_on_error_pages_too(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "Content-Security-Policy" in response.headers
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_hsts_on_https_for_one_year_with_subdomains(client):
    response = client.get("/", **HTTPS)
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_no_hsts_over_plain_http(client):
    # RFC 6797 section 7.2: HSTS must not be sent over insecure transport.
    assert "Strict-Transport-Security" not in client.get("/").headers


@pytest.mark.settings(HSTS_PRELOAD=True, HSTS_MAX_AGE=63072000)
def test_hsts_preload_is_configurable(client):
    value = client.get("/", **HTTPS).headers["Strict-Transport-Security"]
    assert value == "max-age=63072000; includeSubDomains; preload"


@pytest.mark.settings(CSP_REPORT_URI="/csp-report")
def test_csp_report_uri(client):
    assert csp_directives(client.get("/"))["report-uri"] == ["/csp-report"]


def session_cookie(response) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, "the response sets the session cookie"
    return cookies[0]


def test_session_cookie_is_secure_httponly_samesite_lax(client):
    # The contact form stores the CSRF token in the session.
    cookie = session_cookie(client.get("/contact", **HTTPS))
    assert "; Secure" in cookie
    assert "; HttpOnly" in cookie
    assert "; SameSite=Lax" in cookie


@pytest.mark.settings(SESSION_COOKIE_SECURE=False)
def test_session_cookie_secure_flag_follows_config_for_local_http(client):
    cookie = session_cookie(client.get("/contact"))
    assert "Secure" not in cookie
    assert "HttpOnly" in cookie


def test_unsafe_csp_refuses_to_start():
    from app.config import ConfigError, TestingConfig
    from tests.conftest import make_app

    policy = {**TestingConfig.CONTENT_SECURITY_POLICY, "script-src": "'self' 'unsafe-inline'"}
    with pytest.raises(ConfigError, match="unsafe"):
        make_app(CONTENT_SECURITY_POLICY=policy)


def test_cross_origin_resource_policy_is_on_pages_json_static_files_and_errors(client):
    for path in ("/", "/healthz", "/static/favicon.svg", "/no-such-page"):
        response = client.get(path)
        assert response.headers["Cross-Origin-Resource-Policy"] == "same-origin", path


@pytest.mark.settings(CROSS_ORIGIN_RESOURCE_POLICY=None)
def test_cross_origin_resource_policy_none_sends_no_header(client):
    assert "Cross-Origin-Resource-Policy" not in client.get("/").headers


@pytest.mark.settings(CROSS_ORIGIN_RESOURCE_POLICY="cross-origin")
def test_cross_origin_resource_policy_can_be_relaxed(client):
    assert client.get("/").headers["Cross-Origin-Resource-Policy"] == "cross-origin"


def test_a_malformed_cross_origin_resource_policy_refuses_to_start():
    from flask import Flask

    from flask_bastion import Bastion

    app = Flask(__name__)
    app.config.update(SECRET_KEY="k" * 32, CROSS_ORIGIN_RESOURCE_POLICY="same-orign")
    with pytest.raises(ValueError, match="CROSS_ORIGIN_RESOURCE_POLICY"):
        Bastion(app)


@pytest.mark.parametrize(
    ("before", "name", "after"),
    [
        ([], "Cookie", ["Cookie"]),
        (["Accept-Encoding"], "Cookie", ["Accept-Encoding, Cookie"]),
        (["Accept-Encoding, cookie"], "Cookie", ["Accept-Encoding, cookie"]),
        (["Origin", "Accept-Encoding"], "accept-encoding", ["Origin", "Accept-Encoding"]),
        (["Origin", "Accept-Language"], "Cookie", ["Origin, Accept-Language, Cookie"]),
        (["*"], "Cookie", ["*"]),
        (["Cookies"], "Cookie", ["Cookies, Cookie"]),
    ],
)
def test_add_vary_lists_a_request_header_once(before, name, after):
    """RFC 9110, 12.5.5: names compared without case; ``*`` covers all; no duplicates."""
    from werkzeug.datastructures import Headers

    from flask_bastion.headers import add_vary

    headers = Headers([("Content-Type", "text/plain")] + [("Vary", value) for value in before])
    add_vary(headers, name)
    assert headers.getlist("Vary") == after
    assert headers["Content-Type"] == "text/plain"
