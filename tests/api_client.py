"""An API test client: signed in through the pages, JSON in and out, CSRF header on writes."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import csrf_token
from tests.test_auth import sign_in


class ApiClient:
    """A Flask test client for ``/api/v1``; ``who`` signs in as ``<who>@example.com``.

    Writes carry the session's CSRF token in ``X-CSRFToken`` (Bastion's CSRF
    check stays on for cookie-authenticated writes) unless ``csrf=False``.
    """

    def __init__(self, app: Flask, who: str | None = None) -> None:
        self.client: FlaskClient = app.test_client()
        if who is not None:
            assert sign_in(self.client, email=f"{who}@example.com").status_code == 302
        self.token = csrf_token(self.client)

    def get(self, path: str, **kwargs: Any):
        return self.client.get(f"/api/v1{path}", **kwargs)

    def write(
        self,
        method: str,
        path: str,
        json: Any = None,
        *,
        headers: dict[str, str] | None = None,
        csrf: bool = True,
        **kwargs: Any,
    ):
        all_headers = {"X-CSRFToken": self.token} if csrf else {}
        all_headers.update(headers or {})
        return self.client.open(
            f"/api/v1{path}", method=method, json=json, headers=all_headers, **kwargs
        )

    def post(self, path: str, json: Any = None, **kwargs: Any):
        return self.write("POST", path, json, **kwargs)

    def patch(self, path: str, json: Any = None, **kwargs: Any):
        return self.write("PATCH", path, json, **kwargs)

    def delete(self, path: str, **kwargs: Any):
        return self.write("DELETE", path, **kwargs)

    def etag(self, path: str) -> str:
        response = self.get(path)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.headers["ETag"]
