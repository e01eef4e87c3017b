"""Faults under load: Redis, PostgreSQL or one gunicorn instance goes away and comes back.

Each test runs a stream of requests in a thread (bounded in count and time),
each from a new client address so the default rate limit (2 per second per
client and page) never answers for the fault, breaks one service while the
stream runs, and checks what the clients got, what the logs say and what the
services hold afterwards.  Each test leaves the stack healthy again.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from tests.deployment.client import Response
from tests.deployment.processes import Instance, wait_for
from tests.deployment.stack import PREFIX, Stack

#: A log record starts with a timestamp (the app's format or gunicorn's).
RECORD_RE = re.compile(r"^(?:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} |\[\d{4}-\d\d-\d\d )")
RECOVERY_SECONDS = 5.0
REDIS_OUTAGE_SECONDS = 7.0


@dataclass
class Outcome:
    """One request of a stream: when it started, what came back (or what went wrong)."""

    started: float
    source: str
    response: Response | None = None
    error: str = ""
    label: str = ""

    @property
    def status(self) -> int:
        """The status code, 0 for a request that got no answer."""
        return self.response.status if self.response else 0


@dataclass
class Stream:
    """Run ``action(source)`` again and again in a thread, each time from a new address."""

    stack: Stack
    action: Callable[[str], Outcome]
    interval: float = 0.05
    max_requests: int = 1000
    max_seconds: float = 60.0
    outcomes: list[Outcome] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            if len(self.outcomes) >= self.max_requests:
                break
            source = self.stack.new_address()
            started = time.monotonic()
            try:
                outcome = self.action(source)
            except Exception as error:  # no answer at all: record it, go on
                outcome = Outcome(started, source, error=repr(error))
            outcome.started = started
            self.outcomes.append(outcome)
            self._stop.wait(self.interval)

    def between(self, start: float, end: float) -> list[Outcome]:
        """The outcomes of requests started in ``[start, end)`` (monotonic seconds)."""
        return [outcome for outcome in self.outcomes if start <= outcome.started < end]

    @contextlib.contextmanager
    def running(self) -> Iterator[Stream]:
        """Run the stream for the ``with`` block (and stop it even if the block fails)."""
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(30)


def get(stack: Stack, path: str) -> Callable[[str], Outcome]:
    """An action: GET ``path`` through nginx."""

    def action(source: str) -> Outcome:
        response = stack.client(source=source).get(path, timeout=20)
        return Outcome(0.0, source, response)

    return action


def readyz(stack: Stack) -> tuple[int, dict]:
    """Status and JSON body of ``/readyz`` through nginx."""
    response = stack.client().get(f"{PREFIX}/readyz", timeout=10)
    return response.status, json.loads(response.text or "{}")


def wait_until_ready(stack: Stack, timeout: float = 30.0) -> None:
    """Wait until every instance (and nginx in front) reports ready."""
    for instance in stack.instances:
        if not instance.running:
            stack.start_instance(instance)
    wait_for(
        lambda: all(
            stack.direct(instance)
            .get(f"{PREFIX}/readyz", headers={"X-Forwarded-Proto": "https"}, timeout=5)
            .status
            == 200
            for instance in stack.instances
        ),
        timeout,
        "every instance ready",
    )
    wait_for(lambda: readyz(stack)[0] == 200, timeout, "/readyz through nginx")


@pytest.fixture
def healthy(stack: Stack) -> Iterator[Stack]:
    """The stack, ready before the test and made ready again after it."""
    wait_until_ready(stack)
    try:
        yield stack
    finally:
        if not stack.redis.process.running:
            stack.redis.start()
        with contextlib.suppress(Exception):
            stack.postgres.start()
        wait_until_ready(stack)


def describe(outcomes: list[Outcome]) -> str:
    """``status x count`` of a list of outcomes, for assertion messages."""
    counts: dict[str, int] = {}
    for outcome in outcomes:
        key = str(outcome.status) if outcome.response else f"error {outcome.error[:80]}"
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{key} x{count}" for key, count in sorted(counts.items()))


def log_records(text: str) -> list[str]:
    """The log records of a log text, each with its continuation (traceback) lines."""
    records: list[str] = []
    for line in text.splitlines():
        if RECORD_RE.match(line) or not records:
            records.append(line)
        else:
            records[-1] += "\n" + line
    return records


def worker_count(stack: Stack) -> int:
    """How many gunicorn worker processes serve the app in total."""
    return sum(len(instance.worker_pids()) for instance in stack.instances)


# --- (a) Redis goes away --------------------------------------------------------
def test_redis_outage_no_5xx_readyz_names_redis_and_limits_return(healthy: Stack) -> None:
    stack = healthy
    redis = stack.redis
    stream = Stream(stack, get(stack, f"{PREFIX}/about"), interval=0.05, max_seconds=40)
    with stream.running():
        time.sleep(1.0)
        redis.stop()
        stopped = time.monotonic()
        wait_for(lambda: readyz(stack)[0] == 503, 5, "/readyz 503 while Redis is down")
        status, body = readyz(stack)
        assert status == 503
        assert "redis" in body.get("failed", []), body
        assert body.get("checks", {}).get("database") == "ok", body
        # Long enough that Flask-Limiter's own backoff (checks 2, 4, 8 s apart)
        # would next look at Redis about 7 s after it is back.
        time.sleep(max(0.0, stopped + REDIS_OUTAGE_SECONDS - time.monotonic()))
        redis.start()
        restarted = time.monotonic()
        # The first request counted in Redis again, from the stream.
        wait_for(lambda: bool(redis.keys("*LIMITER*")), 10, "a rate-limit key in Redis")
        first_key_after = time.monotonic() - restarted
        # From 5 s after the restart, every request is counted in Redis again.
        time.sleep(max(0.0, restarted + RECOVERY_SECONDS - time.monotonic()))
        probes = [stack.client() for _ in range(16)]
        for probe in probes:
            assert probe.get(f"{PREFIX}/about").status == 200
    during = stream.between(stopped, restarted)
    assert len(during) >= 10, describe(stream.outcomes)
    bad = [o for o in stream.outcomes if not o.response or o.status >= 500]
    assert not bad, f"while Redis was down or coming back: {describe(bad)}"
    keys = redis.keys("*LIMITER*")
    uncounted = [p.source for p in probes if not any(f"/{p.source}/" in key for key in keys)]
    assert not uncounted, (
        f"{len(uncounted)} of {len(probes)} requests made {RECOVERY_SECONDS} s after Redis "
        f"came back were not counted in Redis (first key after {first_key_after:.1f} s): "
        "the rate limits were still in memory"
    )
    wait_for(lambda: readyz(stack)[0] == 200, 5, "/readyz 200 after Redis is back")


# --- (b) the database goes away for ~10 s ------------------------------------------
def test_database_outage_gives_503_pages_with_headers_and_quiet_logs(healthy: Stack) -> None:
    stack = healthy
    offsets = stack.log_offsets()
    stream = Stream(stack, get(stack, f"{PREFIX}/stories/"), interval=0.1, max_seconds=40)
    readiness: list[tuple[int, dict]] = []
    with stream.running():
        time.sleep(1.0)
        stack.postgres.stop("fast")
        stopped = time.monotonic()
        while time.monotonic() - stopped < 10.0:
            readiness.append(readyz(stack))
            time.sleep(1.0)
        stack.postgres.start()
        started = time.monotonic()
        wait_for(
            lambda: any(o.status == 200 for o in stream.between(started + 0.5, 1e12)),
            RECOVERY_SECONDS + 5,
            "a page from the database again",
        )
    failed = [o for o in stream.outcomes if o.status != 200]
    assert len(failed) >= 20, describe(stream.outcomes)
    assert {o.status for o in failed} == {503}, describe(failed)
    for outcome in failed:
        response = outcome.response
        assert response is not None
        assert (response.header("Content-Type") or "").startswith("text/html"), response.headers
        assert response.header("Strict-Transport-Security"), response.headers
        assert response.header("Content-Security-Policy"), response.headers
        assert response.header("X-Content-Type-Options") == "nosniff", response.headers
        request_id = response.header("X-Request-ID") or ""
        assert request_id
        assert request_id in response.text, "the page shows its request id"
    assert all(status == 503 and "database" in body.get("failed", []) for status, body in readiness)

    # Logs: one line per failed request, a traceback at most once per worker and outage.
    text = "".join(i.log_since(offsets[i.name]) for i in stack.instances)
    records = log_records(text)
    requests = [r for r in records if " bastion.request " in r.splitlines()[0]]
    failed_ids = {o.response.header("X-Request-ID") for o in failed if o.response}
    for request_id in failed_ids:
        assert sum(request_id in r for r in requests) == 1, request_id
    others = [r for r in records if " bastion.request " not in r.splitlines()[0]]
    workers = worker_count(stack)
    with_traceback = [r for r in records if "\nTraceback (most recent call last)" in r]
    assert len(with_traceback) <= workers, (
        f"{len(with_traceback)} tracebacks for {len(failed)} failed requests and "
        f"{len(readiness)} /readyz probes (at most one per worker and outage: {workers}):\n"
        + "\n".join(r.splitlines()[0] for r in with_traceback)[:3000]
    )
    assert len(others) <= 3 * workers, (
        f"{len(others)} log records besides the request lines for {len(failed)} failed "
        f"requests:\n" + "\n".join(r.splitlines()[0] for r in others[:20])
    )
    # The rate limits stayed in Redis: the clients of the outage are counted there.
    keys = stack.redis.keys("*LIMITER*")
    outage_sources = [o.source for o in failed]
    uncounted = [s for s in outage_sources if not any(f"/{s}/" in key for key in keys)]
    assert not uncounted, f"{len(uncounted)} of {len(outage_sources)} not counted in Redis"


# --- (c) PostgreSQL restarts under writes --------------------------------------------
def test_postgres_restart_under_writes_loses_no_acknowledged_write(healthy: Stack) -> None:
    stack = healthy
    run = secrets.token_hex(4)

    def write(source: str) -> Outcome:
        text = f"restart-{run}-{secrets.token_hex(6)}"
        response = stack.client(source=source).post_form(
            f"{PREFIX}/contact", {"name": "Ada", "email": "ada@example.com", "message": text}
        )
        return Outcome(0.0, source, response, label=text)

    stream = Stream(stack, write, interval=0.02, max_seconds=40)
    readiness: list[tuple[float, int]] = []
    with stream.running():
        time.sleep(1.5)
        stack.postgres.stop("fast")
        stopped = time.monotonic()
        time.sleep(1.0)
        readiness.append((time.monotonic(), readyz(stack)[0]))
        stack.postgres.start()
        restarted = time.monotonic()
        ready_after = wait_for(lambda: readyz(stack)[0] == 200, 15, "/readyz 200 after restart")
        time.sleep(max(0.0, restarted + RECOVERY_SECONDS + 2.0 - time.monotonic()))
    assert [status for _, status in readiness] == [503], "/readyz did not show the outage"
    assert ready_after <= RECOVERY_SECONDS, f"/readyz 200 only {ready_after:.1f} s after restart"

    statuses = {o.status for o in stream.outcomes}
    assert statuses <= {302, 503}, describe(stream.outcomes)
    assert any(o.status == 503 for o in stream.between(stopped, restarted)), describe(
        stream.outcomes
    )
    late = stream.between(restarted + RECOVERY_SECONDS, 1e12)
    assert late, "no write was tried after the recovery time"
    assert all(o.status == 302 for o in late), (
        f"writes {RECOVERY_SECONDS} s after the restart: {describe(late)}"
    )
    acknowledged = {o.label for o in stream.outcomes if o.status == 302}
    assert len(acknowledged) >= 10, describe(stream.outcomes)
    stored = {
        row[0]
        for row in stack.postgres.query(
            "SELECT message FROM contact_message WHERE message LIKE %s", [f"restart-{run}-%"]
        )
    }
    assert acknowledged <= stored, f"lost {len(acknowledged - stored)} acknowledged writes"


# --- (d) one gunicorn instance dies ---------------------------------------------------
def test_one_instance_killed_nginx_serves_every_get_from_the_other(healthy: Stack) -> None:
    stack = healthy
    survivor, victim = stack.instances
    offsets = stack.log_offsets()
    stream = Stream(stack, get(stack, f"{PREFIX}/stories/"), interval=0.02, max_seconds=30)
    try:
        with stream.running():
            time.sleep(1.0)
            victim.kill()
            killed = time.monotonic()
            time.sleep(3.0)
        after = stream.between(killed, 1e12)
        assert len(after) >= 20, describe(stream.outcomes)
        bad = [o for o in stream.outcomes if o.status != 200]
        assert not bad, f"requests failed when {victim.name} died: {describe(bad)}"
        served = {stack.which_instance(o.response.header("X-Request-ID") or "", offsets)
                  for o in after[5:] if o.response}  # fmt: skip
        assert served == {survivor.name}, served
    finally:
        stack.start_instance(victim)
        back_in_rotation(stack, victim)


def back_in_rotation(stack: Stack, instance: Instance) -> None:
    """Wait until nginx sends requests to ``instance`` again (after its fail_timeout)."""

    def served_by_it() -> bool:
        offsets = stack.log_offsets()
        response = stack.client().get(f"{PREFIX}/healthz", timeout=5)
        return stack.which_instance(response.header("X-Request-ID") or "", offsets) == instance.name

    wait_for(served_by_it, 20, f"nginx sending requests to {instance.name} again", interval=0.2)
