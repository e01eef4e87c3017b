"""Background jobs on RQ (PyPI ``rq``) and Redis: mail leaves the request, a worker sends it.

The queue lives in the Redis that ``JOBS_REDIS_URL`` names; left empty, the
rate limits' Redis (``RATELIMIT_STORAGE_URI``) is used.  When neither is a
``redis://`` or ``rediss://`` URL (``memory://``: development without Redis,
and the test suite), there is no queue: :func:`enqueue` runs the job in this
process before it returns, and a failure is logged, never shown to the visitor.
The same happens when the queue's Redis is unreachable: the mail is sent in
the request rather than lost, and the answer doesn't change.

A job that raises is retried after each of ``JOBS_RETRY_INTERVALS`` seconds
(``rq.Retry``; the worker's scheduler requeues it), then kept in RQ's failed
job registry for ``JOBS_FAILED_TTL`` seconds, where ``flask jobs list``,
``flask jobs retry`` and ``flask jobs purge`` reach it.  A job that succeeds
is deleted at once (``result_ttl=0``): a mail's links are not kept in Redis.
"""

from __future__ import annotations

import email
import email.policy
import importlib
import logging
import uuid
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, has_app_context

from flask_bastion.counters import redis_url, uses_redis

logger = logging.getLogger("bastion.jobs")

#: The application a worker started by ``rq worker`` (not ``flask worker``) builds once.
_worker_app: Flask | None = None


def queue_url(config: Any) -> str | None:
    """The ``redis://`` URL of the job queue from a config mapping, or ``None`` (no queue).

    :param config: a Flask config (``JOBS_REDIS_URL``, ``RATELIMIT_STORAGE_URI``).
    """
    configured = str(config.get("JOBS_REDIS_URL") or "").strip()
    candidate = configured or str(config.get("RATELIMIT_STORAGE_URI") or "")
    return redis_url(candidate) if uses_redis(candidate) else None


def get_queue(app: Flask | None = None):  # type: ignore[no-untyped-def]
    """The ``rq.Queue`` named ``JOBS_QUEUE`` on the queue's Redis.

    :raises RuntimeError: when no Redis is configured (jobs run in process).
    """
    import redis
    from rq import Queue

    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    url = queue_url(app.config)
    if url is None:
        raise RuntimeError(
            "no job queue: set JOBS_REDIS_URL (or RATELIMIT_STORAGE_URI) to a redis:// URL"
        )
    connection = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
    return Queue(app.config["JOBS_QUEUE"], connection=connection)


def retry_intervals(config: Any) -> list[int]:
    """``JOBS_RETRY_INTERVALS`` as whole seconds (a list, or comma-separated text)."""
    raw = config.get("JOBS_RETRY_INTERVALS") or []
    items = raw.split(",") if isinstance(raw, str) else raw
    return [int(str(item).strip()) for item in items if str(item).strip()]


def enqueue(function: str, *args: Any) -> str | None:
    """Run ``function`` (a dotted path) with ``args`` in the worker, or now without a queue.

    :param function: ``"module.name"`` of a job function of this package.
    :param args: JSON-able or picklable arguments (stored in Redis until the job ends).
    :returns: the RQ job id, or ``None`` when the job ran in this process:
        without a queue, and when the queue's Redis is unreachable (logged; the
        request answers as usual instead of failing or dropping the mail).
        A job that raises in process is logged, never raised.
    """
    import redis
    from rq import Retry

    config = current_app.config
    if queue_url(config) is not None:
        intervals = retry_intervals(config)
        try:
            queue = get_queue()
            job = queue.enqueue(
                function,
                *args,
                job_id=f"{queue.name}-{uuid.uuid4().hex}",
                retry=Retry(max=len(intervals), interval=intervals) if intervals else None,
                result_ttl=0,
                failure_ttl=int(config["JOBS_FAILED_TTL"]),
                job_timeout=int(config["JOBS_TIMEOUT"]),
            )
        except redis.RedisError as error:
            # Never a different answer (nor a lost mail) because Redis is down.
            logger.warning("job queue unreachable (%s): running %s in process", error, function)
        else:
            logger.info("job %s queued as %s", function, job.id)
            return str(job.id)
    try:
        _resolve(function)(*args)
    except Exception:  # a mail that fails must not fail (or reveal anything in) the request
        logger.exception("job %s failed in process", function)
    return None


def _resolve(function: str) -> Callable[..., Any]:
    module, _, name = function.rpartition(".")
    if not module.startswith("app."):
        raise ValueError(f"not a job of this application: {function!r}")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def job_app() -> Flask:
    """The current app (``flask worker``, or in process), or one built once for ``rq worker``."""
    global _worker_app
    if has_app_context():
        return current_app._get_current_object()  # type: ignore[attr-defined,no-any-return]
    if _worker_app is None:
        from app import create_app

        _worker_app = create_app()
    return _worker_app


def deliver_mail(raw: str) -> None:
    """Job: deliver the message ``raw`` (RFC 5322 text) with :func:`app.mail.deliver`.

    :raises smtplib.SMTPException, OSError: so that RQ retries the job.
    """
    from app.mail import deliver

    message = email.message_from_string(raw, policy=email.policy.default)
    app = job_app()
    with app.app_context():
        deliver(message, app)  # type: ignore[arg-type]
    logger.info("mail %s delivered to %s", message["Message-ID"], message["To"])
