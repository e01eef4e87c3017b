"""``flask worker`` and ``flask jobs list|retry|purge`` (RQ's failed-job registry).

``flask worker`` runs an RQ worker on ``JOBS_QUEUE`` in the app's settings,
with RQ's scheduler (it requeues the retries ``JOBS_RETRY_INTERVALS`` spaces
out).  Each job runs in a forked child that inherits the app context, so a job
reads ``current_app`` like a view.  ``flask jobs`` acts on the jobs that failed
for good (every retry used): list them with their last error line, put them
back on the queue, or delete them.
"""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from app.jobs import get_queue, queue_url


def _queue():  # type: ignore[no-untyped-def]
    if queue_url(current_app.config) is None:
        raise click.ClickException(
            "no job queue: JOBS_REDIS_URL (or RATELIMIT_STORAGE_URI) is not a redis:// URL, "
            "so jobs run inside the web process"
        )
    return get_queue()


@click.command("worker")
@click.option("--burst", is_flag=True, help="Run the queued jobs, then exit.")
@with_appcontext
def worker(burst: bool) -> None:
    """Run the background-job worker (mail) on the app's queue."""
    from rq import Worker

    queue = _queue()
    click.echo(f"worker on queue {queue.name!r}", err=True)
    Worker([queue], connection=queue.connection).work(burst=burst, with_scheduler=True)


@click.group("jobs")
def jobs() -> None:
    """Background jobs that failed for good (RQ's failed-job registry)."""


def _last_line(text: str | None) -> str:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1].strip()[:160] if lines else ""


@jobs.command("list")
@with_appcontext
def list_failed() -> None:
    """One line per failed job: id, function, when it was queued, its last error."""
    from rq.job import Job

    queue = _queue()
    ids = queue.failed_job_registry.get_job_ids()
    for job in Job.fetch_many(ids, connection=queue.connection):
        if job is None:
            continue
        queued = job.enqueued_at.isoformat(timespec="seconds") if job.enqueued_at else "?"
        result = job.latest_result()
        error = _last_line(result.exc_string if result is not None else None)
        click.echo(f"{job.id}\t{job.func_name}\t{queued}\t{error}")
    click.echo(f"{len(ids)} failed job(s)", err=True)


@jobs.command("retry")
@click.argument("job_ids", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Retry every failed job.")
@with_appcontext
def retry(job_ids: tuple[str, ...], every: bool) -> None:
    """Put failed jobs (JOB_IDS, or --all) back on the queue."""
    queue = _queue()
    registry = queue.failed_job_registry
    ids = registry.get_job_ids() if every else list(job_ids)
    if not ids:
        raise click.UsageError("name job ids, or use --all")
    known = set(registry.get_job_ids())
    for job_id in ids:
        if job_id not in known:
            raise click.ClickException(f"no failed job {job_id!r}")
        registry.requeue(job_id)
    click.echo(f"{len(ids)} job(s) queued again")


@jobs.command("purge")
@with_appcontext
def purge() -> None:
    """Delete every failed job (and its data) from Redis."""
    queue = _queue()
    registry = queue.failed_job_registry
    ids = registry.get_job_ids()
    for job_id in ids:
        registry.remove(job_id, delete_job=True)
    click.echo(f"{len(ids)} failed job(s) deleted")
