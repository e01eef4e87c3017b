"""Small helpers shared by the tests."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

CSRF_INPUT = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_token(client: FlaskClient, path: str = "/contact") -> str:
    """GET ``path`` and return the CSRF token of its form."""
    page = client.get(path).get_data(as_text=True)
    match = CSRF_INPUT.search(page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def post_form(client: FlaskClient, path: str, form_path: str | None = None, **data: str):
    """POST ``data`` to ``path`` with a CSRF token taken from the form at ``form_path``.

    ``form_path`` defaults to ``path`` without its query string.
    """
    data["csrf_token"] = csrf_token(client, form_path or path.split("?", 1)[0])
    return client.post(path, data=data)


def contact_form(**fields: str) -> dict[str, str]:
    """A valid contact form, with ``fields`` replacing the defaults."""
    form = {
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "message": "Hello there, this is a message long enough to pass.",
    }
    form.update(fields)
    return form


def problem(response) -> dict:
    """Assert ``response`` is an RFC 9457 problem document and return it."""
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert body["status"] == response.status_code
    assert body["type"] == "about:blank"
    assert body["title"]
    assert body["detail"]
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body
