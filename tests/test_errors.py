"""Error pages: HTML for browsers, problem+json for API clients, never a trace."""

from __future__ import annotations

import pytest
from flask import abort

from tests.helpers import problem

#: These tests add routes to their app (tests/conftest.py, ``app``).
pytestmark = pytest.mark.own_app

LEAKS = ("Traceback", 'File "', "werkzeug", "sqlalchemy", "RuntimeError", "secret-detail")


def add_failing_routes(app):
    def bad_request():
        abort(400)

    def forbidden():
        abort(403)

    def custom_message():
        abort(400, "The page number must be a whole number.")

    def crash():
        raise RuntimeError("secret-detail from the database")

    app.add_url_rule("/t/400", view_func=bad_request)
    app.add_url_rule("/t/403", view_func=forbidden)
    app.add_url_rule("/t/custom", view_func=custom_message)
    app.add_url_rule("/t/500", view_func=crash)


@pytest.fixture
def failing(app):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    add_failing_routes(app)
    return app.test_client()


def big_body(app) -> bytes:
    return b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1)


CASES = [
    ("get", "/t/400", 400, "Bad Request"),
    ("get", "/t/403", 403, "Forbidden"),
    ("get", "/no/such/page", 404, "Not Found"),
    ("post", "/about", 405, "Method Not Allowed"),
    ("get", "/t/500", 500, "Internal Server Error"),
]


@pytest.mark.parametrize(("method", "path", "status", "title"), CASES)
def test_html_error_pages(failing, html, method, path, status, title):
    response = getattr(failing, method)(path, headers=html)
    page = response.get_data(as_text=True)
    assert response.status_code == status
    assert response.mimetype == "text/html"
    assert f"{title} <span" in page
    assert response.headers["X-Request-ID"] in page
    assert 'href="/"' in page, "a way back home"
    for leak in LEAKS:
        assert leak not in page


@pytest.mark.parametrize(("method", "path", "status", "title"), CASES)
def test_problem_json_errors(failing, json_accept, method, path, status, title):
    response = getattr(failing, method)(path, headers=json_accept)
    body = problem(response)
    assert response.status_code == status
    assert body["title"] == title
    assert body["instance"] == path
    for leak in LEAKS:
        assert leak not in response.get_data(as_text=True)


def test_problem_json_also_for_accept_problem_json(client):
    response = client.get("/nope", headers={"Accept": "application/problem+json"})
    assert problem(response)["status"] == 404


def test_browser_accept_with_json_fallback_gets_html(client):
    response = client.get("/nope", headers={"Accept": "text/html, application/json;q=0.9"})
    assert response.mimetype == "text/html"


def test_405_is_a_405_with_allow_header(client, html):
    response = client.post("/", headers=html)
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


def test_413_in_html_and_json(app, client, html, json_accept):
    page = client.post("/contact", data=big_body(app), headers=html)
    assert page.status_code == 413
    assert "too large" in page.get_data(as_text=True)
    assert "1024 KiB" in page.get_data(as_text=True)
    body = problem(client.post("/contact", data=big_body(app), headers=json_accept))
    assert body["status"] == 413


def test_custom_abort_message_is_shown(failing, html):
    page = failing.get("/t/custom", headers=html).get_data(as_text=True)
    assert "The page number must be a whole number." in page


def test_500_is_logged_with_the_request_id(failing, caplog):
    response = failing.get("/t/500")
    records = [r for r in caplog.records if r.name == "bastion.errors"]
    assert records
    assert response.headers["X-Request-ID"] in records[0].getMessage()
    assert records[0].exc_info[0] is RuntimeError


@pytest.mark.settings(BASTION_ERROR_TEMPLATE="errors/missing.html")
def test_missing_error_template_falls_back_to_a_builtin_page(failing, html):
    response = failing.post("/", headers=html)
    assert response.status_code == 405
    assert "<h1>Method Not Allowed</h1>" in response.get_data(as_text=True)


def test_error_page_escapes_reflected_input(client, html):
    response = client.get("/<script>alert(1)</script>", headers=html)
    assert response.status_code == 404
    assert "<script>alert(1)" not in response.get_data(as_text=True)
