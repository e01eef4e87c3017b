"""Liveness and readiness endpoints."""

from __future__ import annotations

import pytest


def test_healthz_is_ok_and_not_cached(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert "no-store" in response.headers["Cache-Control"]


def test_readyz_is_ok_with_a_reachable_database(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"] == {"database": "ok"}


def test_readyz_names_the_failing_database(caplog):
    from tests.conftest import make_app

    app = make_app(
        SQLALCHEMY_DATABASE_URI="sqlite:////nonexistent-dir/bastion.db",
        SQLALCHEMY_ENGINE_OPTIONS={},
    )
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["failed"] == ["database"]
    assert "nonexistent" not in response.get_data(as_text=True), "no database error text"
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("bastion")]
    assert len(lines) == 1, "one log line per failed probe"
    assert '"error":"readiness: database unreachable (OperationalError)"' in lines[0]
    assert not any(r.exc_info for r in caplog.records), "no traceback per probe"


@pytest.mark.settings(RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0", RATELIMIT_ENABLED=True)
def test_readyz_names_unreachable_redis(client):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["failed"] == ["redis"]
