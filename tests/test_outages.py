"""A database outage on the real PostgreSQL: 503 pages, one log line each, recovery.

The app talks to PostgreSQL through a loopback TCP proxy that the test cuts
and reopens on the same port, so the shared server is never touched.
"""

from __future__ import annotations

import json
import logging

import psycopg
import pytest
from sqlalchemy import make_url

from app import outages
from app.config import ProductionConfig
from app.extensions import db
from tests.conftest import make_app
from tests.helpers import problem
from tests.services import TCPProxy
from tests.test_auth import make_user, sign_in

pytestmark = pytest.mark.postgres


class Outage:
    """An app whose PostgreSQL connection goes through a proxy that can be cut."""

    def __init__(self, postgres_url: str) -> None:
        url = make_url(postgres_url)
        self.target = (url.host or "127.0.0.1", url.port or 5432)
        self.proxy = TCPProxy(*self.target)
        self.port = self.proxy.port
        proxied = url.set(host="127.0.0.1", port=self.port)
        self.app = make_app(
            SQLALCHEMY_DATABASE_URI=proxied.render_as_string(hide_password=False),
            # As in production: connections that died while idle are replaced.
            SQLALCHEMY_ENGINE_OPTIONS=ProductionConfig.SQLALCHEMY_ENGINE_OPTIONS,
        )

    def cut(self) -> None:
        self.proxy.stop()

    def restore(self) -> None:
        self.proxy = TCPProxy(*self.target, port=self.port)


@pytest.fixture
def outage(postgres_url, monkeypatch):
    # A new outage: the traceback interval starts afresh whatever ran before in this process.
    monkeypatch.setattr(outages, "_last_traceback", -outages.TRACEBACK_INTERVAL)
    state = Outage(postgres_url)
    with state.app.app_context():
        db.create_all()
    yield state
    state.proxy.stop()
    state.restore()
    with state.app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()
    state.proxy.stop()


def bastion_lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("bastion")]


def test_an_outage_gives_503_pages_with_headers_and_one_log_line_each(outage, caplog, html):
    client = outage.app.test_client()
    make_user(outage.app)
    assert sign_in(client).status_code == 302
    assert client.get("/stories/", headers=html).status_code == 200

    outage.cut()
    caplog.clear()
    first = client.get("/stories/", headers=html)
    assert first.status_code == 503
    page = first.get_data(as_text=True)
    assert "temporarily unavailable" in page
    assert first.headers["X-Request-ID"] in page, "the page shows the request id"
    assert "psycopg" not in page
    assert "OperationalError" not in page
    assert "nonce-" in first.headers["Content-Security-Policy"]
    assert first.headers["X-Content-Type-Options"] == "nosniff"
    assert first.headers["Retry-After"] == "5"
    records = bastion_lines(caplog)
    # The request's own line, plus the one traceback of this outage.
    assert [r.name for r in records] == ["bastion.database", "bastion.request"]
    assert records[0].exc_info is not None
    line = json.loads(records[1].getMessage())
    assert line["status"] == 503
    assert line["error"] == "database unavailable (OperationalError)"

    caplog.clear()
    for path in ("/stories/", "/account", "/stories/1"):
        assert client.get(path, headers=html).status_code == 503
    records = bastion_lines(caplog)
    assert len(records) == 3, "one log line per failed request, no more tracebacks"
    assert not any(r.exc_info for r in caplog.records)

    api = client.get("/stories/", headers={"Accept": "application/json"})
    assert problem(api)["status"] == 503

    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["failed"] == ["database"]


def test_the_app_recovers_by_itself_when_the_database_is_back(outage, html):
    client = outage.app.test_client()
    make_user(outage.app)
    assert sign_in(client).status_code == 302
    outage.cut()
    assert client.get("/account", headers=html).status_code == 503
    outage.restore()
    response = client.get("/account", headers=html)
    assert response.status_code == 200, "the pool replaced its dead connections"
    assert "Ada" in response.get_data(as_text=True), "still signed in"
    assert client.get("/readyz").status_code == 200


def test_pages_without_queries_still_serve_signed_out_during_an_outage(outage, caplog, html):
    client = outage.app.test_client()
    make_user(outage.app)
    assert sign_in(client).status_code == 302
    outage.cut()
    caplog.clear()
    response = client.get("/about", headers=html)
    assert response.status_code == 200
    assert "Sign in" in response.get_data(as_text=True), "treated as signed out, never more"
    [line] = bastion_lines(caplog)
    assert "user not loaded: database unavailable" in line.getMessage()


def test_a_connection_lost_after_the_view_keeps_the_response(outage, caplog):
    """The database stops between the view's last query and the end of the request."""
    from sqlalchemy import select

    from app.models.user import User

    app = outage.app

    @app.get("/test-only/query-then-outage")
    def query_then_outage():
        db.session.scalars(select(User)).all()  # a transaction is open
        outage.cut()
        return "made"

    client = app.test_client()
    caplog.clear()
    response = client.get("/test-only/query-then-outage")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "made"
    [line] = bastion_lines(caplog)
    assert "database connection lost while closing" in line.getMessage()
    outage.restore()
    assert client.get("/readyz").status_code == 200


# --- pooled connections that died while idle ------------------------------------------


def terminate_backends(app) -> int:
    """``pg_terminate_backend`` every other connection to the app's database; how many."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as admin:
        # The timeout (ms) makes each call wait until the backend has exited, as
        # after a restart: the connections are dead, not dying.
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


def test_terminated_backends_are_replaced_without_a_failed_request(production_pg_app, html):
    """Pooled connections whose backends were terminated (a database restart, say)
    cost no request: :func:`app.outages.discard_dead_connection` replaces them at checkout."""
    app = production_pg_app
    with app.app_context():
        # Three idle connections in the pool, all about to die.
        held = [db.engine.connect() for _ in range(3)]
        for connection in held:
            connection.close()
        assert db.engine.pool.checkedin() == 3
    make_user(app)
    signed_in = app.test_client()
    assert sign_in(signed_in).status_code == 302
    assert signed_in.get("/account", headers=html).status_code == 200
    assert terminate_backends(app) >= 3

    anonymous = app.test_client()
    for _ in range(5):  # more requests than the pool held dead connections
        response = signed_in.get("/account", headers=html)
        assert response.status_code == 200
        assert "Ada" in response.get_data(as_text=True), "still signed in"
        assert anonymous.get("/stories/", headers=html).status_code == 200
