"""Bastion in production config on throw-away PostgreSQL and Redis data, for benchmarks.

:func:`production_setup` is a context manager that gives a benchmark the
environment users deploy with, and removes everything it made afterwards:

* a new database ``bastion_bench_<hex>`` on the PostgreSQL server at
  ``TEST_POSTGRES_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``),
  migrated with ``flask db upgrade``, with one account (``flask users create``)
  and ``stories`` published stories; dropped ``WITH (FORCE)`` at the end;
* rate limits in Redis (``TEST_REDIS_URL``, default ``redis://127.0.0.1:6379``,
  and the database number the caller picks) under a key prefix of its own,
  ``bench-<hex>``; every key with that prefix is deleted at the end;
* the production environment: ``BASTION_CONFIG=production``, a random
  ``SECRET_KEY``, ``TRUSTED_HOSTS``, ``DATABASE_URL``,
  ``RATELIMIT_STORAGE_URI``, the two default limits still on but raised
  (:data:`BENCH_RATE_LIMIT`) so that the load never trips them,
  ``PROXY_FIX_X_FOR=1`` and ``PROXY_FIX_X_PROTO=1`` as behind the documented
  nginx (clients send :data:`PROXY_HEADERS`, as nginx does); ``FORCE_HTTPS``
  keeps its production default (on), which the forwarded scheme satisfies;
* ``flask assets build`` first, as the README's production steps say.

Nothing else of the environment reaches the app but ``PATH``, ``HOME`` and
the locale (no stray ``FLASK_DEBUG`` or ``RATELIMIT_ENABLED``).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.story_list_scale import (  # noqa: E402 - the throwaway database is shared
    BenchError,
    throwaway_database,
)
from tests.deployment.processes import VENV_BIN, StackError, run  # noqa: E402

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
#: The default's two limits (per second, per minute), far above any load here.
BENCH_RATE_LIMIT = "100000 per second; 6000000 per minute"
#: What nginx adds to every proxied request (deploy/nginx/bastion.conf; its
#: ``$request_id`` is 32 hex digits, the same one for every request here).
PROXY_HEADERS = {
    "X-Forwarded-Proto": "https",
    "X-Forwarded-For": "127.0.0.1",
    "X-Request-ID": "5f0c6e1d2b3a49788a9e0f1d2c3b4a59",
}
#: What a browser asks for.
ACCEPT_ENCODING = "br, gzip"
BENCH_EMAIL = "bench@example.com"
BENCH_PASSWORD = "quiet-lantern-harbour-9f3a"  # noqa: S105 - throw-away account, throw-away database


@dataclass
class Setup:
    """What :func:`production_setup` made."""

    env: dict[str, str]
    database: str
    redis_url: str
    key_prefix: str
    stories: int

    def describe(self) -> list[str]:
        """The settings, one per line, for the report (the secret key left out)."""
        shown = (
            "BASTION_CONFIG",
            "TRUSTED_HOSTS",
            "DATABASE_URL",
            "RATELIMIT_STORAGE_URI",
            "RATELIMIT_DEFAULT",
            "RATELIMIT_KEY_PREFIX",
            "PROXY_FIX_X_FOR",
            "PROXY_FIX_X_PROTO",
        )
        lines = [f"{name}={self.env[name]}" for name in shown]
        lines.append("SECRET_KEY=<random, 64 hex digits>; FORCE_HTTPS, REQUEST_LOG: defaults (on)")
        lines.append(f"data: 1 account, {self.stories} published stories")
        return lines


def redis_client(url: str) -> Any:
    """A ``redis.Redis`` for ``url`` with short timeouts."""
    import redis

    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=3)


def delete_keys(url: str, prefix: str) -> int:
    """Delete every key of the Redis database ``url`` that contains ``prefix``; return how many."""
    client = redis_client(url)
    deleted = 0
    batch = []
    for key in client.scan_iter(match=f"*{prefix}*", count=1000):
        batch.append(key)
        if len(batch) >= 500:
            deleted += client.delete(*batch)
            batch = []
    if batch:
        deleted += client.delete(*batch)
    return deleted


def app_environment(database_url: str, redis_url: str, key_prefix: str) -> dict[str, str]:
    """The production environment of the app for a benchmark."""
    kept = ("PATH", "HOME", "LANG", "LC_ALL", "TZ")
    env = {name: os.environ[name] for name in kept if name in os.environ}
    env.update(
        {
            "FLASK_APP": "app",
            "BASTION_CONFIG": "production",
            "SECRET_KEY": secrets.token_hex(32),
            "TRUSTED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": database_url,
            "RATELIMIT_STORAGE_URI": redis_url,
            "RATELIMIT_DEFAULT": BENCH_RATE_LIMIT,
            "RATELIMIT_KEY_PREFIX": key_prefix,
            "PROXY_FIX_X_FOR": "1",
            "PROXY_FIX_X_PROTO": "1",
        }
    )
    return env


def flask(env: dict[str, str], *args: str, input_text: str | None = None) -> str:
    """Run ``flask ARGS`` with ``env``; its output.  :raises BenchError: if it fails."""
    try:
        done = run([str(VENV_BIN / "flask"), *args], env=env, input_text=input_text, timeout=300)
    except (StackError, OSError) as error:
        raise BenchError(f"flask {' '.join(args)}: {error}") from None
    return done.stdout


def seed(dsn: str, env: dict[str, str], stories: int) -> None:
    """One account (through ``flask users create``) and ``stories`` published stories."""
    import psycopg

    flask(env, "users", "create", BENCH_EMAIL, "--name", "Bench Writer", "--password-stdin",
          input_text=BENCH_PASSWORD + "\n")  # fmt: skip
    now = datetime.now(UTC)
    with psycopg.connect(dsn) as connection:
        (author,) = connection.execute(
            "SELECT id FROM user_account WHERE email = %s", (BENCH_EMAIL,)
        ).fetchone()
        rows = []
        for number in range(stories):
            created = now - timedelta(hours=stories - number)
            body = f"Story {number} of the benchmark.\n\n" + "Some *Markdown* text. " * 40
            rows.append((f"Benchmark story {number}", body, True, author, created, created))
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO story (title, body, published, author_id, created_at, updated_at)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                rows,
            )
        connection.execute("ANALYZE")


@contextlib.contextmanager
def production_setup(
    *, redis_db: int, stories: int = 20, log: Callable[[str], None] = print
) -> Iterator[Setup]:
    """Prepare Bastion in production config on its own database and Redis key prefix.

    :param redis_db: the Redis database number for the rate-limit counters.
    :param stories: how many published stories to create.
    :param log: called with a line per step.
    :raises BenchError: when PostgreSQL or Redis does not answer, or a step fails.
    """
    prefix = f"bench-{secrets.token_hex(6)}"
    redis_url = f"{REDIS_URL.rstrip('/')}/{redis_db}"
    try:
        redis_client(redis_url).ping()
    except Exception as error:
        raise BenchError(f"Redis does not answer at {redis_url}: {error}") from None
    try:
        with throwaway_database() as (database_url, dsn):
            name = database_url.rsplit("/", 1)[-1]
            env = app_environment(database_url, redis_url, prefix)
            log(f"database {name}: flask assets build, flask db upgrade, seed ...")
            flask(env, "assets", "build")
            flask(env, "db", "upgrade")
            seed(dsn, env, stories)
            yield Setup(
                env=env, database=name, redis_url=redis_url, key_prefix=prefix, stories=stories
            )
    finally:
        try:
            deleted = delete_keys(redis_url, prefix)
        except Exception as error:
            print(f"warning: could not delete Redis keys {prefix}*: {error}", file=sys.stderr)
            deleted = 0
        log(f"cleaned up: deleted {deleted} Redis keys *{prefix}*")
