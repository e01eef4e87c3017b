"""The request log: one JSON line per request, ``X-Request-ID``, no secrets."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest
from flask import Flask

HEX32 = re.compile(r"^[0-9a-f]{32}$")
FIELDS = {
    "event",
    "request_id",
    "method",
    "path",
    "query",
    "status",
    "duration_ms",
    "client",
    "user_agent",
}
PREFIX = "/some-service/v1"


def request_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "bastion.request"]


def logged(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The request log lines captured so far, parsed."""
    return [json.loads(r.getMessage()) for r in request_records(caplog)]


def only_line(caplog: pytest.LogCaptureFixture) -> dict[str, Any]:
    lines = logged(caplog)
    assert len(lines) == 1, lines
    return lines[0]


def get_with_id(client, request_id: str):  # type: ignore[no-untyped-def]
    """GET / with a raw ``X-Request-ID`` (set in the environ, as a server would)."""
    return client.get("/", environ_overrides={"HTTP_X_REQUEST_ID": request_id})


def add_boom(app: Flask) -> None:
    def boom() -> str:
        raise RuntimeError("boom-secret")

    app.add_url_rule("/_boom", "boom", boom)


# --- the line and the header ----------------------------------------------------------


def test_one_json_line_with_every_field(client, caplog):
    response = client.get("/about?page=2", headers={"User-Agent": "TestAgent/1.0"})
    line = only_line(caplog)
    assert set(line) == FIELDS
    assert line["event"] == "request"
    assert line["method"] == "GET"
    assert line["path"] == "/about"
    assert line["query"] == "page=2"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float)
    assert line["duration_ms"] >= 0
    assert line["client"] == "127.0.0.1"
    assert line["user_agent"] == "TestAgent/1.0"
    assert HEX32.match(line["request_id"])
    assert response.headers["X-Request-ID"] == line["request_id"]
    (record,) = request_records(caplog)
    assert record.levelno == logging.INFO
    assert record.pathname.endswith("request_log.py")  # %(pathname)s names the middleware
    assert record.funcName == "_log"
    assert record.lineno > 1


def test_each_request_gets_its_own_line_and_id(client, caplog):
    ids = {client.get(path).headers["X-Request-ID"] for path in ("/", "/about", "/privacy")}
    lines = logged(caplog)
    assert [line["path"] for line in lines] == ["/", "/about", "/privacy"]
    assert {line["request_id"] for line in lines} == ids
    assert len(ids) == 3


def test_long_user_agent_is_truncated(client, caplog):
    client.get("/", headers={"User-Agent": "A" * 1000})
    assert only_line(caplog)["user_agent"] == "A" * 256


@pytest.mark.settings(REQUEST_LOG=False)
def test_log_can_be_switched_off_but_the_id_stays(client, caplog):
    assert HEX32.match(client.get("/").headers["X-Request-ID"])
    assert logged(caplog) == []


# --- client-supplied X-Request-ID ---------------------------------------------------------


@pytest.mark.parametrize("supplied", ["abc12345-req", "trace:1/2+3=4@edge.example", "a" * 128])
def test_well_formed_request_id_is_echoed_and_logged(client, caplog, supplied):
    response = get_with_id(client, supplied)
    assert response.headers["X-Request-ID"] == supplied
    assert only_line(caplog)["request_id"] == supplied


MALFORMED_IDS = ["x", "short", "bad id\n", "abc 12345", "a" * 300, "<b>x</b>", "a\r\nSet-Cookie:x"]


@pytest.mark.parametrize("supplied", MALFORMED_IDS)
def test_malformed_request_id_is_replaced(client, caplog, supplied):
    response = get_with_id(client, supplied)
    replaced = response.headers["X-Request-ID"]
    assert HEX32.match(replaced)
    assert only_line(caplog)["request_id"] == replaced
    assert "Set-Cookie" not in response.headers


def test_request_id_with_a_trailing_newline_is_replaced(client, caplog):
    response = get_with_id(client, "abc12345\n")
    assert HEX32.match(response.headers["X-Request-ID"])


def test_error_body_quotes_the_logged_request_id(client, json_accept, caplog):
    response = client.get("/no/such/page", headers=json_accept)
    request_id = only_line(caplog)["request_id"]
    assert response.headers["X-Request-ID"] == request_id
    assert response.get_json()["request_id"] == request_id


# --- secrets are never logged -------------------------------------------------------------


def test_secret_query_values_are_redacted(client, caplog):
    client.get("/?token=s3cr3t&page=2&password=hunter2&api_key=k3y")
    query = only_line(caplog)["query"]
    redacted = "%5Bredacted%5D"
    assert query == f"token={redacted}&page=2&password={redacted}&api_key={redacted}"
    for secret in ("s3cr3t", "hunter2", "k3y"):
        assert secret not in caplog.text


def test_cookies_authorization_and_body_are_not_logged(client, caplog):
    headers = {
        "Cookie": "tracking=cookie-secret-1; session=cookie-secret-2",
        "Authorization": "Bearer auth-secret-3",
    }
    client.post(
        "/contact",
        data={"name": "Ada", "email": "ada@example.com", "password": "body-secret-4"},
        headers=headers,
    )
    assert only_line(caplog)["status"] == 400  # no CSRF token
    for secret in ("cookie-secret-1", "cookie-secret-2", "auth-secret-3", "body-secret-4"):
        assert secret not in caplog.text


# --- every outcome is logged --------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/no/such/page", 404), ("POST", "/about", 405), ("DELETE", "/", 405)],
)
def test_client_errors_are_logged_at_info(client, caplog, method, path, status):
    client.open(path, method=method)
    (record,) = request_records(caplog)
    assert record.levelno == logging.INFO
    line = json.loads(record.getMessage())
    assert (line["method"], line["path"], line["status"]) == (method, path, status)


def test_blocked_user_agent_is_logged_with_403(client, caplog):
    client.get("/", headers={"User-Agent": "nikto/2.5"})
    line = only_line(caplog)
    assert line["status"] == 403
    assert line["user_agent"] == "nikto/2.5"


@pytest.mark.own_app
@pytest.mark.settings(PROPAGATE_EXCEPTIONS=False)
@pytest.mark.parametrize("accept", ["text/html", "application/json"])
def test_server_error_is_logged_at_error_without_leaking(app, caplog, accept):
    add_boom(app)
    response = app.test_client().get("/_boom", headers={"Accept": accept})
    assert response.status_code == 500
    (record,) = request_records(caplog)
    assert record.levelno == logging.ERROR
    line = json.loads(record.getMessage())
    assert line["status"] == 500
    assert line["path"] == "/_boom"
    assert "boom-secret" not in response.text
    assert "RuntimeError" not in response.text
    assert response.headers["X-Request-ID"] == line["request_id"]
    assert line["request_id"] in response.text


@pytest.mark.own_app
@pytest.mark.settings(PROPAGATE_EXCEPTIONS=False)
def test_server_error_traceback_carries_the_request_id(app, caplog):
    add_boom(app)
    request_id = app.test_client().get("/_boom").headers["X-Request-ID"]
    errors = [r for r in caplog.records if r.name == "bastion.errors"]
    assert len(errors) == 1
    assert request_id in errors[0].getMessage()
    assert errors[0].exc_info is not None


# --- PATH_PREFIX ------------------------------------------------------------------------


@pytest.mark.settings(PATH_PREFIX=PREFIX)
@pytest.mark.parametrize("path", [f"{PREFIX}/about", "/about"])
def test_logged_path_includes_the_prefix(client, caplog, path):
    assert client.get(path).status_code == 200
    assert only_line(caplog)["path"] == f"{PREFIX}/about"
