"""The OpenAPI document and the docs page: complete, local, under the strict CSP."""

from __future__ import annotations

import base64
import hashlib
import re

#: Scripts and stylesheets (not the icon link, which names the site's own favicon).
TAG = re.compile(r'<(script|link)\b(?![^>]*rel="icon")[^>]*>')


def test_the_document_covers_every_operation_error_and_scheme(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    operations = {
        (path, method)
        for path, item in doc["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert operations == {
        ("/api/v1/stories", "get"),
        ("/api/v1/stories", "post"),
        ("/api/v1/stories/{id}", "get"),
        ("/api/v1/stories/{id}", "patch"),
        ("/api/v1/stories/{id}", "delete"),
        ("/api/v1/stories/{id}/restore", "post"),
        ("/api/v1/users", "get"),
        ("/api/v1/users/{id}", "get"),
        ("/api/v1/users/{id}", "patch"),
    }
    assert set(doc["components"]["securitySchemes"]) == {"cookie", "bearer"}
    responses = doc["components"]["responses"]
    for name in ("UNPROCESSABLE_ENTITY", "PRECONDITION_FAILED", "PRECONDITION_REQUIRED"):
        assert list(responses[name]["content"]) == ["application/problem+json"], name
    patch = doc["paths"]["/api/v1/stories/{id}"]["patch"]
    assert {"400", "401", "403", "404", "412", "415", "422", "428"} <= set(patch["responses"])
    listing = doc["paths"]["/api/v1/stories"]["get"]
    names = {p["name"] for p in listing["parameters"] if "name" in p}
    assert {"cursor", "limit", "sort", "author", "published", "created_after"} <= names
    assert "Link" in listing["responses"]["200"]["headers"]


def test_docs_page_loads_only_local_files_with_sri_and_nonce(client):
    page = client.get("/api/v1/docs/")
    assert page.status_code == 200
    csp = page.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    html = page.get_data(as_text=True)
    assert "style=" not in html
    tags = TAG.findall(html)
    assert sorted(tags) == ["link", "script", "script", "script"]
    # Its own icon link: without one, browsers ask for /favicon.ico outside a path prefix.
    assert '<link rel="icon" href="/static/favicon.svg"' in html
    for tag in TAG.finditer(html):
        text = tag.group(0)
        url = re.search(r'(?:src|href)="([^"]+)"', text).group(1)
        assert url.startswith("/api/v1/docs/files/"), url
        served = client.get(url)
        assert served.status_code == 200
        digest = base64.b64encode(hashlib.sha384(served.get_data()).digest()).decode()
        assert f'integrity="sha384-{digest}"' in text
        if tag.group(1) == "script":
            assert f'nonce="{nonce}"' in text
    assert client.get("/api/v1/docs/files/../../config.py").status_code == 404
    assert client.get("/api/v1/docs/files/index.html").status_code == 404
