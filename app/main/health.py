"""Health endpoints for load balancers and orchestrators.

* ``/healthz``: the process is alive (no I/O).
* ``/readyz``: the database answers ``SELECT 1`` and, when rate limits are
  stored in Redis, Redis answers ``PING``; otherwise 503 naming what failed.

Both are exempt from rate limits and from the HTTPS redirect, and send
``Cache-Control: no-store``.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from werkzeug.wrappers import Response

from app.extensions import db, limiter
from app.security import no_https_redirect
from app.security.ratelimit import uses_redis

bp = Blueprint("health", __name__)
limiter.exempt(bp)
logger = logging.getLogger("bastion.health")


def _json(body: dict[str, Any], status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.cache_control.no_store = True
    return response


@bp.get("/healthz")
@no_https_redirect
def healthz() -> Response:
    """Liveness: always ``{"status": "ok"}`` while the process serves requests."""
    return _json({"status": "ok"})


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
    try:
        _check_database()
        checks["database"] = "ok"
    except Exception:
        logger.exception("readiness: database check failed")
        checks["database"] = "unreachable"
    storage = current_app.config["RATELIMIT_STORAGE_URI"]
    if uses_redis(storage):
        try:
            _check_redis(storage)
            checks["redis"] = "ok"
        except Exception:
            logger.exception("readiness: redis check failed")
            checks["redis"] = "unreachable"
    failed = sorted(name for name, state in checks.items() if state != "ok")
    if failed:
        return _json({"status": "unavailable", "failed": failed, "checks": checks}, 503)
    return _json({"status": "ok", "checks": checks})
