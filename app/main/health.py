"""Health endpoints for load balancers and orchestrators.

* ``/healthz``: the process is alive (no I/O).
* ``/readyz``: the database answers ``SELECT 1`` and, when rate limits are
  stored in Redis, Redis answers ``PING``; otherwise 503 naming what failed.

Both are exempt from rate limits and from the HTTPS redirect, and send
``Cache-Control: no-store``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import text

from app.extensions import db
from flask_bastion import exempt, no_https_redirect
from flask_bastion.counters import redis_url, uses_redis
from flask_bastion.request_log import LOG_ERROR_ENVIRON_KEY

bp = Blueprint("health", __name__)
exempt(bp)


def _json(body: dict[str, Any], status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


#: ``/healthz``'s body: what ``jsonify({"status": "ok"})`` writes, made once.
HEALTHY = b'{"status":"ok"}\n'


@bp.get("/healthz")
@no_https_redirect
def healthz() -> Response:
    """Liveness: always ``{"status": "ok"}`` while the process serves requests.

    The body is a constant (load balancers ask several times a second), so no
    JSON is encoded per request.
    """
    return Response(HEALTHY, content_type="application/json", headers={"Cache-Control": "no-store"})


def _check_database() -> None:
    with db.engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def _check_redis(url: str) -> None:
    import redis

    client = current_app.extensions.get("bastion.redis_health")
    if client is None:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        current_app.extensions["bastion.redis_health"] = client
    client.ping()


@bp.get("/readyz")
@no_https_redirect
def readyz() -> Response:
    """Readiness: 200 when every dependency answers, else 503 naming the failures."""
    checks: dict[str, str] = {}
    reasons: list[str] = []
    try:
        _check_database()
        checks["database"] = "ok"
    except Exception as error:
        checks["database"] = "unreachable"
        reasons.append(f"database unreachable ({type(error).__name__})")
    storage = current_app.config["RATELIMIT_STORAGE_URI"]
    if uses_redis(storage):
        try:
            _check_redis(redis_url(storage))
            checks["redis"] = "ok"
        except Exception as error:
            checks["redis"] = "unreachable"
            reasons.append(f"redis unreachable ({type(error).__name__})")
    failed = sorted(name for name, state in checks.items() if state != "ok")
    if failed:
        # One line per failed probe (the request's own log line), no traceback:
        # an orchestrator probes every few seconds during an outage.
        request.environ[LOG_ERROR_ENVIRON_KEY] = "readiness: " + "; ".join(reasons)
        return _json({"status": "unavailable", "failed": failed, "checks": checks}, 503)
    return _json({"status": "ok", "checks": checks})
