"""No user enumeration by timing: sign-in, registration, password reset and email change.

The answers are already compared word for word elsewhere (``test_auth``,
``test_password_reset``, ``test_email_change``); here their *time* is.  For
each form, requests naming an existing account and requests naming none
alternate (so drift in the machine's load hits both alike), and the medians
must lie within :func:`within_noise` of each other.

The password hash runs with a middle-weight argon2 (16 MiB, 2 passes: about
10 ms here, far above a request's own cost) so that a path that skipped
the hash for an unknown account -- the classic enumeration bug -- would stand
out; production's 64 MiB, 3 passes would only make the test slower.  Jobs go
to a queue on the real Redis that no worker reads: the request's work is
what an attacker times.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis
from flask import Flask

from tests.conftest import app_with_tables
from tests.helpers import CSRF_INPUT
from tests.services import TEST_KEY_PREFIX
from tests.test_auth import PASSWORD, make_user, sign_in

ROUNDS = 25
WARM_UP = 3
#: A middle-weight argon2 (KiB, passes): slow enough to be seen, fast enough for the suite.
ARGON2 = {"ARGON2_MEMORY_COST": 16384, "ARGON2_TIME_COST": 2, "ARGON2_PARALLELISM": 1}


@pytest.fixture(scope="module")
def timed_app(request: pytest.FixtureRequest) -> Iterator[Flask]:
    """An app with a job queue of its own on the real Redis, no worker, and real-ish argon2."""
    redis_url = request.getfixturevalue("redis_url")
    name = f"{TEST_KEY_PREFIX}timing-{uuid.uuid4().hex[:8]}"
    with app_with_tables(JOBS_REDIS_URL=redis_url, JOBS_QUEUE=name, **ARGON2) as application:
        make_user(application)
        make_user(application, email="taken@example.com", name="Tom")
        yield application
    connection = redis.Redis.from_url(redis_url)
    keys = list(connection.scan_iter(match=f"*{name}*", count=1000))
    if keys:
        connection.delete(*keys)


@pytest.fixture(scope="module")
def redis_url() -> str:
    from tests.services import REDIS_URL, require_service

    require_service("Redis", REDIS_URL)
    return REDIS_URL


def within_noise(first: float, second: float) -> bool:
    """Medians (seconds) this close are noise: 30 % of the larger, and never under 2 ms."""
    return abs(first - second) <= max(0.3 * max(first, second), 0.002)


def medians(send: Callable[[str, int], int], known: str, unknown: Callable[[int], str]):
    """Median seconds of ``send(address, n)`` for ``known`` and fresh ``unknown(n)`` addresses.

    The two kinds alternate, the first :data:`WARM_UP` rounds are dropped.
    ``send`` returns the status code, which must be the same for both.
    """
    times: dict[str, list[float]] = {"known": [], "unknown": []}
    for number in range(ROUNDS + WARM_UP):
        order = (("known", known), ("unknown", unknown(number)))
        for kind, address in order if number % 2 else reversed(order):
            start = time.perf_counter()
            status = send(address, number)
            elapsed = time.perf_counter() - start
            assert status in {200, 302, 422}, (kind, status)
            if number >= WARM_UP:
                times[kind].append(elapsed)
    return statistics.median(times["known"]), statistics.median(times["unknown"])


def form_poster(client, path: str, **fields: str) -> Callable[[str, int], int]:
    """A ``send`` that posts ``fields`` and an address to ``path`` with one CSRF token."""
    token = CSRF_INPUT.search(client.get(path).get_data(as_text=True)).group(1)
    field = "new_email" if path == "/account/email" else "email"

    def send(address: str, number: int) -> int:
        data = {"csrf_token": token, field: address, **fields}
        return client.post(path, data=data).status_code

    return send


def test_sign_in_takes_as_long_for_an_unknown_account_as_for_a_wrong_password(timed_app):
    send = form_poster(timed_app.test_client(), "/sign-in", password="not the right password")
    known, unknown = medians(send, "ada@example.com", lambda n: f"nobody{n}@example.com")
    assert within_noise(known, unknown), (known, unknown)
    assert min(known, unknown) > 0.004, "the hash runs for both (it is the slow part)"


def test_registration_takes_as_long_for_a_taken_address(timed_app):
    fields = {"display_name": "Someone", "password": PASSWORD, "confirm": PASSWORD}
    send = form_poster(timed_app.test_client(), "/register", **fields)
    known, unknown = medians(send, "taken@example.com", lambda n: f"new{n}@example.com")
    assert within_noise(known, unknown), (known, unknown)


def test_a_reset_takes_as_long_for_an_unknown_address(timed_app):
    send = form_poster(timed_app.test_client(), "/forgot-password")
    known, unknown = medians(send, "ada@example.com", lambda n: f"nobody{n}@example.com")
    assert within_noise(known, unknown), (known, unknown)


def test_an_email_change_takes_as_long_for_a_taken_address(timed_app):
    client = timed_app.test_client()
    assert sign_in(client).status_code == 302
    send = form_poster(client, "/account/email", password=PASSWORD)
    known, unknown = medians(send, "taken@example.com", lambda n: f"free{n}@example.com")
    assert within_noise(known, unknown), (known, unknown)


def test_the_noise_bound_would_see_a_skipped_hash():
    """The bound is generous, yet a 10 ms hash skipped on one side is far outside it."""
    assert within_noise(0.0130, 0.0120)
    assert not within_noise(0.0210, 0.0032)  # measured with the dummy hash taken out
