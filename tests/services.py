"""Reach the real PostgreSQL and Redis, or skip (fail under CI) with a reason."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import pytest

POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def under_ci() -> bool:
    """True when the suite runs under CI (``CI=true``): a missing service is a failure."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def port_open(url: str, timeout: float = 0.5) -> bool:
    """True if something accepts TCP connections at the host and port of ``url``."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port), timeout):
            return True
    except OSError:
        return False


def require_service(name: str, url: str) -> None:
    """Skip the test (or fail it under CI) when the service at ``url`` is unreachable."""
    if port_open(url):
        return
    parts = urlsplit(url)
    reason = f"{name} is not reachable at {parts.hostname}:{parts.port}"
    if under_ci():
        pytest.fail(f"{reason} (CI=true: a missing service is a failure)")
    pytest.skip(f"{reason}; start it to run this test")
