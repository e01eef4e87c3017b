"""Flask-Bastion adopted by a bare Flask app with nothing but a SECRET_KEY.

Every setting it reads has a default (``flask_bastion.defaults``), so an app
without Bastion's config classes gets the whole layer in two lines (an
import and ``Bastion(app)``).
"""

from __future__ import annotations

from pathlib import Path

import time_machine
from flask import Flask, render_template_string

from flask_bastion import Bastion, before_error_response, configured, exempt, limit
from tests.test_ratelimit import START

HTTPS = "https://localhost"


def bare_app(**options) -> Flask:
    app = Flask("someone_elses_app", **options)
    app.config["SECRET_KEY"] = "3f1c0a9b7e5d4c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b"

    @app.get("/")
    def home() -> str:
        return render_template_string('<script nonce="{{ csp_nonce() }}">1</script>')

    @app.post("/notes")
    def add_note() -> str:
        return "stored"

    @app.get("/search")
    @limit("1 per minute")
    def search() -> str:
        return "results"

    @app.get("/export")
    @limit(configured("EXPORT_RATE_LIMIT"))
    def export() -> str:
        return "exported"

    @app.get("/ping")
    @exempt
    def ping() -> str:
        return "pong"

    # What an existing app adds (and the import):
    Bastion(app)
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


def test_route_limits_and_exemptions_in_a_bare_app():
    client = bare_app().test_client()
    with time_machine.travel(START, tick=False):
        assert client.get(f"{HTTPS}/search").status_code == 200
        refused = client.get(f"{HTTPS}/search")
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) > 1, "the per-minute limit decides"
        assert {client.get(f"{HTTPS}/ping").status_code for _ in range(5)} == {200}


def test_a_limit_can_follow_a_setting():
    app = bare_app()
    app.config["EXPORT_RATE_LIMIT"] = "1 per minute"
    client = app.test_client()
    with time_machine.travel(START, tick=False) as clock:
        assert client.get(f"{HTTPS}/export").status_code == 200
        assert client.get(f"{HTTPS}/export").status_code == 429
        app.config["EXPORT_RATE_LIMIT"] = "3 per minute"  # read again on each request
        clock.shift(1)
        assert client.get(f"{HTTPS}/export").status_code == 200


def test_the_extension_brings_its_error_page_and_the_app_can_replace_it(tmp_path: Path):
    client = bare_app().test_client()
    own = client.get(f"{HTTPS}/nowhere", headers={"Accept": "text/html"})
    page = own.get_data(as_text=True)
    assert "<h1>Not Found <small>(error 404)</small></h1>" in page
    assert own.headers["X-Request-ID"] in page

    (tmp_path / "bastion").mkdir()
    (tmp_path / "bastion" / "error.html").write_text("Ours: {{ status }} {{ request_id }}")
    client = bare_app(template_folder=str(tmp_path)).test_client()
    replaced = client.get(f"{HTTPS}/nowhere", headers={"Accept": "text/html"})
    assert replaced.get_data(as_text=True) == f"Ours: 404 {replaced.headers['X-Request-ID']}"


def test_one_extension_object_serves_two_apps_with_their_own_settings():
    bastion = Bastion()
    strict, lenient = Flask("strict"), Flask("lenient")
    for app, default in ((strict, "1 per minute"), (lenient, "100 per minute")):
        app.config.update(SECRET_KEY="k" * 64, RATELIMIT_DEFAULT=default, FORCE_HTTPS=False)
        app.add_url_rule("/", "home", lambda: "home")
        bastion.init_app(app)
    with time_machine.travel(START, tick=False):
        assert [strict.test_client().get("/").status_code for _ in range(2)] == [200, 429]
        assert [lenient.test_client().get("/").status_code for _ in range(2)] == [200, 200]
    assert strict.extensions["bastion"] is lenient.extensions["bastion"] is bastion


def test_path_prefix_and_request_log_in_a_bare_app(caplog):
    app = Flask("prefixed")
    app.config.update(SECRET_KEY="p" * 64, PATH_PREFIX="/app", FORCE_HTTPS=False)

    @app.get("/where")
    def where() -> str:
        from flask import url_for

        return url_for("where")

    Bastion(app)
    client = app.test_client()
    with caplog.at_level("INFO", logger="bastion.request"):
        response = client.get("/app/where", headers={"X-Request-ID": "adopted-0001"})
    assert response.get_data(as_text=True) == "/app/where"
    assert response.headers["X-Request-ID"] == "adopted-0001"
    [line] = [r.getMessage() for r in caplog.records if r.name == "bastion.request"]
    assert '"request_id":"adopted-0001"' in line
    assert '"path":"/app/where"' in line
    assert client.get("/appwhere").status_code == 404, "/appwhere is not under /app"
    # A proxy that strips the prefix sends /where: the app still builds /app/ URLs.
    assert client.get("/where").get_data(as_text=True) == "/app/where"


def test_hooks_run_before_every_error_response_and_a_failing_page_falls_back(
    tmp_path: Path, caplog
):
    """``before_error_response``: how an app rolls back its database before an error page."""

    class TemplateBoom(Exception):
        """Not one of the errors a template usually raises (a database error, say)."""

    def explode() -> str:
        raise TemplateBoom("the page's query failed")

    (tmp_path / "bastion").mkdir()
    (tmp_path / "bastion" / "error.html").write_text("{{ explode() }}")
    app = bare_app(template_folder=str(tmp_path))
    app.jinja_env.globals["explode"] = explode
    seen: list[int] = []

    def broken_hook(status: int) -> None:
        raise RuntimeError("hook failed")

    before_error_response(app, seen.append)
    before_error_response(app, broken_hook)
    client = app.test_client()
    page = client.get(f"{HTTPS}/nowhere", headers={"Accept": "text/html"})
    problem = client.get(f"{HTTPS}/nowhere", headers={"Accept": "application/json"})
    assert seen == [404, 404], "the hooks run for pages and problem+json alike"
    assert page.status_code == 404
    assert "<h1>Not Found</h1>" in page.get_data(as_text=True), "the built-in page"
    assert problem.get_json()["status"] == 404
    assert "before_error_response hook" in caplog.text
    assert "error template failed" in caplog.text
