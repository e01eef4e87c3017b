"""Do ``POST /forgot-password`` and ``POST /register`` take longer for a taken address?

Run it with ``.venv/bin/python bench/enumeration_timing.py`` (needs Redis at
``TEST_REDIS_URL``, default ``redis://127.0.0.1:6379/15``).  For each form it
sends 400 interleaved requests for a known and an unknown address through
``app.test_client()`` (testing config, SQLite in memory), with the job queue on
Redis and no worker, and prints the median and 90th percentile of each after
50 warm-up requests.  With a queue, both answers do the same work (one job
queued); the account is looked up by the worker.  The queue's keys are
deleted afterwards.
"""

from __future__ import annotations

import re
import statistics
import sys
import time
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import app_with_tables
from tests.services import REDIS_URL
from tests.test_auth import PASSWORD, make_user

QUEUE = "bastion-bench-forgot-password"
ROUNDS = 400
WARM_UP = 50


def measure(client, path: str, fields: dict[str, str], known: str) -> dict[str, list[float]]:
    """Seconds of each POST to ``path``, for the ``known`` address and fresh unknown ones."""
    page = client.get(path).text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    if token is None:
        raise SystemExit(f"no CSRF token on {path}")
    times: dict[str, list[float]] = {"known": [], "unknown": []}
    for number in range(ROUNDS):
        for kind, address in (("known", known), ("unknown", f"nobody{number}@example.com")):
            data = {"csrf_token": token.group(1), "email": address, **fields}
            start = time.perf_counter()
            response = client.post(path, data=data)
            times[kind].append(time.perf_counter() - start)
            if response.status_code != 302:
                raise SystemExit(f"{path} answered {response.status_code}")
    return times


def main() -> None:
    """Measure and print the distributions (milliseconds)."""
    forms = {
        "/forgot-password": {},
        "/register": {"display_name": "Someone", "password": PASSWORD, "confirm": PASSWORD},
    }
    results = {}
    with app_with_tables(JOBS_REDIS_URL=REDIS_URL, JOBS_QUEUE=QUEUE) as app:
        make_user(app)
        for path, fields in forms.items():
            results[path] = measure(app.test_client(), path, fields, "ada@example.com")
    connection = redis.Redis.from_url(REDIS_URL)
    keys = list(connection.scan_iter(match=f"*{QUEUE}*", count=1000))
    if keys:
        connection.delete(*keys)
    for path, times in results.items():
        for kind, values in times.items():
            kept = sorted(values[WARM_UP:])
            print(
                f"{path:17} {kind:8} median {statistics.median(kept) * 1000:.2f} ms, "
                f"p90 {kept[int(len(kept) * 0.9)] * 1000:.2f} ms"
            )


if __name__ == "__main__":
    main()
