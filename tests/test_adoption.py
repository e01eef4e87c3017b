"""The security layer adopted by a bare Flask app with nothing but a SECRET_KEY.

Every setting it reads has a default (``flask_bastion.defaults``), so an app
without Bastion's config classes gets the whole layer in three lines.
"""

from __future__ import annotations

import time_machine
from flask import Flask, render_template_string
from flask_compress import Compress
from flask_wtf.csrf import CSRFProtect

from flask_bastion import init_security
from flask_bastion.ratelimit import Limiter, client_key
from tests.test_ratelimit import START

HTTPS = "https://localhost"


def bare_app() -> Flask:
    app = Flask("someone_elses_app")
    app.config["SECRET_KEY"] = "3f1c0a9b7e5d4c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b"

    @app.get("/")
    def home() -> str:
        return render_template_string('<script nonce="{{ csp_nonce() }}">1</script>')

    @app.post("/notes")
    def add_note() -> str:
        return "stored"

    # The three lines an existing app adds:
    init_security(app, limiter=Limiter(client_key), csrf=CSRFProtect(), compress=Compress())
    return app


def test_a_bare_flask_app_gets_the_whole_layer():
    app = bare_app()
    client = app.test_client()
    with time_machine.travel(START, tick=False):
        page = client.get(f"{HTTPS}/")
        assert page.status_code == 200
        csp = page.headers["Content-Security-Policy"]
        assert "object-src 'none'" in csp
        assert "'unsafe-inline'" not in csp
        nonce = csp.split("'nonce-", 1)[1].split("'", 1)[0]
        assert f'nonce="{nonce}"' in page.get_data(as_text=True)
        assert page.headers["Strict-Transport-Security"].startswith("max-age=31536000")
        assert page.headers["X-Content-Type-Options"] == "nosniff"
        assert page.headers["X-Request-ID"]
        assert page.headers["X-RateLimit-Limit"] == "2"

        assert client.get("http://localhost/").status_code == 301, "HTTPS is forced"
        assert client.get(f"{HTTPS}/").status_code == 200  # 2 per second by default
        spoofed = client.get(f"{HTTPS}/", headers={"X-Forwarded-For": "203.0.113.9"})
        assert spoofed.status_code == 429, "a forged address gets no new budget"

        missing = client.get(f"{HTTPS}/nowhere", headers={"Accept": "text/html"})
        assert missing.status_code == 404
        assert missing.headers["X-Request-ID"] in missing.get_data(as_text=True)
        problem = client.get(f"{HTTPS}/nowhere", headers={"Accept": "application/json"})
        assert problem.mimetype == "application/problem+json"

        refused = client.post(f"{HTTPS}/notes", data={"text": "hi"})
        assert refused.status_code == 400, "CSRF on every POST"
        assert "stored" not in refused.get_data(as_text=True)

        scanner = client.get(f"{HTTPS}/", headers={"User-Agent": "sqlmap/1.7"})
        assert scanner.status_code == 403
