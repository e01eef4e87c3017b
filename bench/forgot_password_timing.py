"""Does ``POST /forgot-password`` take longer for an address that has an account?

Run it with ``.venv/bin/python bench/forgot_password_timing.py`` (needs Redis at
``TEST_REDIS_URL``, default ``redis://127.0.0.1:6379/15``).  It sends 400
interleaved requests for a known and an unknown address through
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
from tests.test_auth import make_user

QUEUE = "bastion-bench-forgot-password"
ROUNDS = 400
WARM_UP = 50


def main() -> None:
    """Measure and print the two distributions (milliseconds)."""
    times: dict[str, list[float]] = {"known": [], "unknown": []}
    with app_with_tables(JOBS_REDIS_URL=REDIS_URL, JOBS_QUEUE=QUEUE) as app:
        make_user(app)
        client = app.test_client()
        page = client.get("/forgot-password").text
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
        if token is None:
            raise SystemExit("no CSRF token on /forgot-password")
        for _ in range(ROUNDS):
            for kind, address in (("known", "ada@example.com"), ("unknown", "nobody@example.com")):
                start = time.perf_counter()
                response = client.post(
                    "/forgot-password", data={"csrf_token": token.group(1), "email": address}
                )
                times[kind].append(time.perf_counter() - start)
                if response.status_code != 302:
                    raise SystemExit(f"/forgot-password answered {response.status_code}")
    connection = redis.Redis.from_url(REDIS_URL)
    keys = list(connection.scan_iter(match=f"*{QUEUE}*", count=1000))
    if keys:
        connection.delete(*keys)
    for kind, values in times.items():
        kept = sorted(values[WARM_UP:])
        print(
            f"{kind:8} median {statistics.median(kept) * 1000:.2f} ms, "
            f"p90 {kept[int(len(kept) * 0.9)] * 1000:.2f} ms"
        )


if __name__ == "__main__":
    main()
