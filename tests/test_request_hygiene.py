"""Request hygiene: trusted hosts, size limits, blocked user agents, clean error pages."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import make_app

MIB = 1024 * 1024
SCANNER = {"User-Agent": "sqlmap/1.7#stable (https://sqlmap.org)"}
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"}
#: Text that would reveal the implementation if it reached a client.
LEAKS = ("traceback", "werkzeug", "securityerror", "exception", 'file "', ".py", "sqlalchemy")
EVIL = "http://evil.example"


def form_post(client: FlaskClient, body: bytes | str, headers: dict[str, str]) -> TestResponse:
    """POST a urlencoded ``body`` to the contact form."""
    return client.post(
        "/contact",
        data=body,
        content_type="application/x-www-form-urlencoded",
        headers=headers,
    )


def multipart_post(client: FlaskClient, fields: int, size: int = 5) -> TestResponse:
    """POST a multipart form with ``fields`` fields of ``size`` bytes to the contact form."""
    data = {f"field{i}": "v" * size for i in range(fields)}
    return client.post("/contact", data=data, content_type="multipart/form-data")


def assert_problem(response: TestResponse, status: int) -> None:
    """``response`` is an RFC 9457 problem document for ``status``."""
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]


def assert_page(response: TestResponse, status: int) -> None:
    """``response`` is an HTML error page for ``status``."""
    assert response.status_code == status
    assert response.mimetype == "text/html"
    assert str(status) in response.text


# --- TRUSTED_HOSTS ------------------------------------------------------------------


def test_untrusted_host_gets_an_html_400(client, html):
    assert_page(client.get("/", base_url=EVIL, headers=html), 400)


def test_untrusted_host_gets_problem_json(client, json_accept):
    assert_problem(client.get("/", base_url=EVIL, headers=json_accept), 400)


def test_host_header_alone_is_checked(client):
    assert client.get("/", headers={"Host": "evil.example"}).status_code == 400


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "localhost:5000"])
def test_trusted_host_is_served(client, host):
    assert client.get("/", base_url=f"http://{host}").status_code == 200


@pytest.mark.settings(TRUSTED_HOSTS=[".example.com", "localhost"])
@pytest.mark.parametrize(
    ("host", "status"),
    [("sub.example.com", 200), ("example.com", 200), ("evilexample.com", 400), ("evil.test", 400)],
)
def test_leading_dot_allows_subdomains_only(client, host, status):
    assert client.get("/", base_url=f"http://{host}").status_code == status


def test_app_starts_when_localhost_is_not_a_trusted_host():
    app = make_app(TRUSTED_HOSTS=["example.com"])
    assert app.test_client().get("/about", base_url="http://example.com").status_code == 200


def test_untrusted_host_is_not_echoed(client, json_accept):
    response = client.get("/", base_url=EVIL, headers=json_accept)
    assert "evil.example" not in response.text
    assert "not trusted" not in response.text


def test_untrusted_host_is_not_logged_as_an_error(client, html, caplog):
    client.get("/", base_url=EVIL, headers=html)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


# --- size limits --------------------------------------------------------------------


def test_default_body_limit_gives_a_413_page(client, html):
    response = form_post(client, b"message=" + b"x" * (2 * MIB), html)
    assert_page(response, 413)
    assert "1024 KiB" in response.text


def test_default_body_limit_gives_problem_json(client, json_accept):
    response = form_post(client, b"message=" + b"x" * (2 * MIB), json_accept)
    assert_problem(response, 413)
    assert "1024 KiB" in response.get_json()["detail"]


def test_body_under_the_limit_reaches_the_form(client, html):
    response = form_post(client, "name=Ada&message=" + "x" * 2000, html)
    assert response.status_code == 400  # no CSRF token: the form is shown again
    assert "Your form has expired" in response.text


@pytest.mark.settings(MAX_CONTENT_LENGTH=1000)
def test_configured_body_limit(client, html):
    response = form_post(client, "message=" + "x" * 2000, html)
    assert_page(response, 413)


@pytest.mark.settings(MAX_CONTENT_LENGTH=10 * MIB, MAX_FORM_MEMORY_SIZE=1000)
def test_form_memory_limit_on_a_field(client):
    # Werkzeug 3.1 applies MAX_FORM_MEMORY_SIZE to multipart fields only; a
    # urlencoded body is bounded by MAX_CONTENT_LENGTH alone.
    assert multipart_post(client, 1, size=5000).status_code == 413
    assert multipart_post(client, 1, size=100).status_code == 400  # reaches the CSRF check


@pytest.mark.settings(MAX_FORM_PARTS=3)
def test_form_parts_limit(client):
    assert multipart_post(client, 10).status_code == 413


@pytest.mark.settings(MAX_FORM_PARTS=3)
def test_form_within_parts_limit_is_parsed(client):
    assert multipart_post(client, 2).status_code == 400  # reaches the CSRF check


# --- blocked user agents -------------------------------------------------------------


def security_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "bastion.security" and r.levelno == logging.WARNING
    ]


def test_scanner_gets_a_403_page_and_is_logged(client, html, caplog):
    assert_page(client.get("/", headers={**SCANNER, **html}), 403)
    warnings = security_warnings(caplog)
    assert len(warnings) == 1
    assert "sqlmap/1.7" in warnings[0]


def test_scanner_gets_problem_json(client, json_accept):
    assert_problem(client.get("/about", headers={**SCANNER, **json_accept}), 403)


def test_scanner_is_blocked_on_unknown_paths_too(client):
    assert client.get("/wp-login.php", headers=SCANNER).status_code == 403


def test_browser_is_served(client, caplog):
    assert client.get("/", headers=BROWSER).status_code == 200
    assert security_warnings(caplog) == []


@pytest.mark.settings(BLOCKED_USER_AGENTS=["^evilbot"])
@pytest.mark.parametrize(
    ("agent", "status"),
    [("EvilBot/2", 403), ("evilbot", 403), ("goodbot evilbot", 200), ("sqlmap/1.7", 200)],
)
def test_custom_patterns_are_case_insensitive_regexes(client, agent, status):
    assert client.get("/", headers={"User-Agent": agent}).status_code == status


@pytest.mark.settings(BLOCKED_USER_AGENTS=[])
def test_empty_list_blocks_nothing(client, caplog):
    assert client.get("/", headers=SCANNER).status_code == 200
    assert security_warnings(caplog) == []


# --- error responses reveal nothing ----------------------------------------------------

ERRORS: dict[str, tuple[int, Callable[[FlaskClient, dict[str, str]], TestResponse]]] = {
    "bad host": (400, lambda c, h: c.get("/", base_url=EVIL, headers=h)),
    "bad csrf": (400, lambda c, h: form_post(c, "name=Ada", h)),
    "scanner": (403, lambda c, h: c.get("/", headers={**SCANNER, **h})),
    "not found": (404, lambda c, h: c.get("/no/such/page", headers=h)),
    "method": (405, lambda c, h: c.post("/about", headers=h)),
    "too large": (413, lambda c, h: form_post(c, b"x" * (2 * MIB), h)),
}


@pytest.mark.parametrize("accept", ["text/html", "application/json"])
@pytest.mark.parametrize("case", sorted(ERRORS))
def test_error_responses_reveal_no_internals(client, case, accept):
    status, send = ERRORS[case]
    response = send(client, {"Accept": accept})
    assert response.status_code == status
    text = response.text.lower()
    for leak in LEAKS:
        assert leak not in text, f"{case}: {leak!r} in the response"


def test_405_keeps_the_allow_header(client, json_accept):
    response = client.post("/about", headers=json_accept)
    assert_problem(response, 405)
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "HEAD"}
