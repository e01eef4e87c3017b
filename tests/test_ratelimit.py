"""Rate limits: 2/second and 60/minute per client, Redis or memory, fallback."""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
import uuid
from urllib.parse import urlsplit

import pytest
import redis
import time_machine

from tests.helpers import problem
from tests.services import TEST_KEY_PREFIX, TCPProxy

START = dt.datetime(2030, 1, 1, 12, 0, 0, tzinfo=dt.UTC)
limited = pytest.mark.settings(RATELIMIT_ENABLED=True)


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def statuses(client, count: int, path: str = "/about", **kwargs) -> list[int]:
    return [client.get(path, **kwargs).status_code for _ in range(count)]


@limited
def test_two_per_second_then_429_with_retry_after(client, clock, html):
    assert statuses(client, 2) == [200, 200]
    response = client.get("/about", headers=html)
    assert response.status_code == 429
    # Flask-Limiter rounds the reset up to the next whole second.
    retry_after = int(response.headers["Retry-After"])
    assert retry_after in (1, 2)
    unit = "second" if retry_after == 1 else "seconds"
    assert f"Please try again in {retry_after} {unit}." in response.get_data(as_text=True)
    clock.shift(1)
    assert statuses(client, 1) == [200]


@limited
def test_sixty_per_minute(client, clock):
    served = 0
    for _ in range(30):
        served += statuses(client, 2).count(200)
        clock.shift(1)
    assert served == 60
    response = client.get("/about")
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    clock.shift(60)
    assert statuses(client, 1) == [200]


@limited
def test_rate_limit_headers_are_sent(client, clock):
    response = client.get("/about")
    assert response.headers["X-RateLimit-Limit"] == "2"
    assert response.headers["X-RateLimit-Remaining"] == "1"
    assert "X-RateLimit-Reset" in response.headers
    # The IETF draft's fields: the policy (2 a second) and what is left of it.
    assert response.headers["RateLimit-Policy"] == '"limit";q=2;w=1'
    assert response.headers["RateLimit"] == '"limit";r=1;t=1'


@limited
def test_429_as_problem_json(client, clock, json_accept):
    statuses(client, 2)
    body = problem(client.get("/about", headers=json_accept))
    assert body["status"] == 429
    assert "try again in" in body["detail"]


@limited
def test_limits_are_per_client_address(client, clock):
    assert statuses(client, 3)[-1] == 429
    other = {"environ_base": {"REMOTE_ADDR": "192.0.2.7"}}
    assert statuses(client, 1, **other) == [200]


@limited
def test_spoofed_forwarded_for_does_not_get_a_new_budget(client, clock):
    assert statuses(client, 3)[-1] == 429
    spoofed = {"headers": {"X-Forwarded-For": "203.0.113.9"}}
    assert statuses(client, 1, **spoofed) == [429]


@limited
def test_static_files_and_health_checks_are_exempt(client, clock):
    assert set(statuses(client, 10, "/healthz")) == {200}
    assert set(statuses(client, 10, "/static/favicon.svg")) == {200}
    assert "X-RateLimit-Limit" not in client.get("/healthz").headers


def redis_settings(url: str) -> dict:
    return {
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": url,
        "RATELIMIT_KEY_PREFIX": f"{TEST_KEY_PREFIX}{uuid.uuid4().hex}",
        "RATELIMIT_DEFAULT": "3 per hour",
    }


def test_limits_are_stored_in_the_real_redis(redis_url):
    from tests.conftest import make_app

    settings = redis_settings(redis_url)
    client = make_app(**settings).test_client()
    assert statuses(client, 3) == [200, 200, 200]
    keys = redis.Redis.from_url(redis_url).keys(f"*{settings['RATELIMIT_KEY_PREFIX']}*")
    assert keys, "the counter lives in Redis"
    # A second instance (another gunicorn worker or host) shares the count.
    other = make_app(**settings).test_client()
    response = other.get("/about")
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 3000
    redis.Redis.from_url(redis_url).delete(*keys)


def test_readiness_reports_redis(redis_url):
    from tests.conftest import make_app

    client = make_app(**redis_settings(redis_url)).test_client()
    assert client.get("/readyz").get_json()["checks"]["redis"] == "ok"


def test_falls_back_to_memory_when_redis_fails_mid_flight(redis_url, caplog):
    from tests.conftest import make_app

    target = urlsplit(redis_url)
    proxy = TCPProxy(target.hostname, target.port)
    try:
        url = f"redis://127.0.0.1:{proxy.port}{target.path}"
        client = make_app(**redis_settings(url)).test_client()
        assert statuses(client, 1) == [200]
        proxy.stop()
        with caplog.at_level(logging.WARNING, logger="bastion.security"):
            # Still served (never a 500), still limited in memory, logged once.
            after = statuses(client, 5)
        assert after == [200, 200, 200, 429, 429]
        warnings = [r for r in caplog.records if "storage unreachable" in r.getMessage()]
        assert len(warnings) == 1
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.get_json()["failed"] == ["redis"]
    finally:
        proxy.stop()


def test_limits_return_to_redis_within_a_second_of_it_answering(redis_url, caplog, monkeypatch):
    from flask_bastion.counters import FallbackCounters
    from tests.conftest import make_app

    now = [1000.0]
    monkeypatch.setattr(FallbackCounters, "now", lambda self: now[0])
    target = urlsplit(redis_url)
    proxy = TCPProxy(target.hostname, target.port)
    port = proxy.port
    settings = redis_settings(f"redis://127.0.0.1:{port}{target.path}")
    try:
        app = make_app(**settings)
        client = app.test_client()
        storage = app.extensions["bastion.limiter"].counters
        assert isinstance(storage, FallbackCounters)
        assert statuses(client, 1) == [200]
        proxy.stop()
        assert statuses(client, 1) == [200]
        assert storage.using_fallback
        proxy = TCPProxy(target.hostname, target.port, port=port)  # Redis is back
        now[0] += 0.5
        assert statuses(client, 1) == [200]
        assert storage.using_fallback, "not retried before retry_interval"
        now[0] += 0.6
        with caplog.at_level(logging.INFO, logger="bastion.security"):
            # Back in Redis, where the count before the outage still stands:
            # 1 (before) + 1 (this one) + 1 = 3 per hour, then 429.
            assert statuses(client, 3) == [200, 200, 429]
        assert not storage.using_fallback
        assert any("storage recovered" in r.getMessage() for r in caplog.records)
    finally:
        proxy.stop()
        keys = redis.Redis.from_url(redis_url).keys(f"*{settings['RATELIMIT_KEY_PREFIX']}*")
        if keys:
            redis.Redis.from_url(redis_url).delete(*keys)


def test_fallback_counters_count_in_memory_while_redis_is_down():
    from flask_bastion.counters import FallbackCounters, Hit, RedisCounters

    with socket_closed_port() as port:
        counters = FallbackCounters(
            RedisCounters(f"redis://127.0.0.1:{port}/0", socket_connect_timeout=0.2)
        )
        assert not counters.check()
        hits = [Hit("a", 60, 1), Hit("b", 1, 1), Hit("a", 60, 0)]
        first = counters.hit(hits)
        assert [count for count, _ in first] == [1, 1, 1]
        assert [count for count, _ in counters.hit(hits)] == [2, 2, 2]
        assert counters.using_fallback
        assert 55 < first[0][1] - time.time() <= 60, "reset time of the window"


@limited
def test_retry_after_is_sent_on_429_only(client, clock):
    ok = client.get("/about")
    assert ok.status_code == 200
    assert "Retry-After" not in ok.headers
    assert "X-RateLimit-Remaining" in ok.headers
    redirect = client.get("/stories/new")
    assert redirect.status_code in (302, 303)
    assert "Retry-After" not in redirect.headers
    assert client.get("/about").status_code == 200  # default limits count per route
    limited = client.get("/about")
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1


@pytest.mark.settings(SESSION_PROTECTION="basic")
def test_a_user_loader_failure_makes_the_key_the_address(app, caplog):
    """Flask-Limiter takes any error in the key function for a storage failure."""
    from flask import session

    from app.auth.login import load_user
    from app.extensions import login_manager
    from flask_bastion.ratelimit import client_key

    def broken_loader(user_id):
        raise RuntimeError("database down")

    login_manager.user_loader(broken_loader)
    try:
        with app.test_request_context("/about", environ_base={"REMOTE_ADDR": "192.0.2.8"}):
            session["_user_id"] = "1:0"
            with caplog.at_level(logging.WARNING):
                assert client_key() == "192.0.2.8"
        assert any("using the address" in r.getMessage() for r in caplog.records)
    finally:
        login_manager.user_loader(load_user)


def test_unreachable_redis_from_the_start_still_serves(caplog):
    from tests.conftest import make_app

    with socket_closed_port() as port:
        client = make_app(**redis_settings(f"redis://127.0.0.1:{port}/0")).test_client()
        with caplog.at_level(logging.WARNING, logger="bastion.security"):
            assert statuses(client, 2) == [200, 200]
    assert any("storage unreachable" in r.getMessage() for r in caplog.records)


class socket_closed_port:
    """A loopback port with nothing listening on it."""

    def __enter__(self) -> int:
        import socket

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        return self.port

    def __exit__(self, *exc: object) -> None:
        return None


def test_memory_storage_outside_development_is_warned_about(caplog):
    from tests.conftest import make_app

    make_app(TESTING=False, RATELIMIT_ENABLED=True)
    assert any("each gunicorn worker counts on its own" in r.getMessage() for r in caplog.records)


def test_two_limits_cost_one_redis_round_trip_per_request(redis_url, monkeypatch, clock):
    """One round trip for every limit of a request, rate-limit headers included."""
    from tests.conftest import make_app

    settings = {**redis_settings(redis_url), "RATELIMIT_DEFAULT": "100 per second; 1000 per minute"}
    client = make_app(**settings).test_client()
    assert client.get("/about").status_code == 200  # scripts loaded, connection made
    commands: list[str] = []
    original = redis.Redis.execute_command

    def counting(self, *args, **options):
        commands.append(str(args[0]))
        return original(self, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", counting)
    for _ in range(5):
        response = client.get("/about")
        assert response.headers["X-RateLimit-Limit"] == "100"
    assert len(commands) == 5, commands
    assert set(commands) == {"EVALSHA"}
    remaining = [int(client.get("/about").headers["X-RateLimit-Remaining"]) for _ in range(2)]
    assert remaining[0] - remaining[1] == 1, "the headers still count every request"
    commands.clear()
    client.get("/healthz")
    assert commands == [], "health checks cost no Redis round trip"


def test_failed_sign_ins_are_counted_per_account_in_redis(redis_url, monkeypatch):
    """``deduct_when``: read in the request's one round trip, added in a second only on failure."""
    from app.extensions import db
    from tests.conftest import make_app
    from tests.test_auth import PASSWORD, make_user, sign_in

    settings = {**redis_settings(redis_url), "RATELIMIT_DEFAULT": "1000 per second"}
    app = make_app(**settings)
    with app.app_context():
        db.create_all()
    make_user(app)
    commands: list[str] = []
    original = redis.Redis.execute_command

    def counting(self, *args, **options):
        commands.append(str(args[0]))
        return original(self, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", counting)
    results = []
    for n in range(6):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"198.51.100.{n}"
        client.get("/sign-in")  # the form and its token
        commands.clear()
        results.append((sign_in(client, password="wrong wrong wrong").status_code, len(commands)))
    # The sign-in helper GETs the form, then POSTs: 1 round trip for the GET, and
    # 1 + 1 for a failed POST (the deduction).  The refused 6th deducts nothing.
    assert results == [(422, 3)] * 5 + [(429, 2)]
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "198.51.100.99"
    assert sign_in(client, password=PASSWORD).status_code == 429, "the account is throttled"
    keys = redis.Redis.from_url(redis_url).keys(f"*{settings['RATELIMIT_KEY_PREFIX']}*")
    ttls = [redis.Redis.from_url(redis_url).ttl(key) for key in keys]
    assert ttls
    # A one-second window's key may have under half a second left (TTL rounds it to 0)
    # or be gone (-2) by the time TTL asks on a loaded machine; -1 (no expiry) is the bug.
    assert all(0 <= ttl <= 3600 for ttl in ttls if ttl != -2), f"every counter expires: {ttls}"
    redis.Redis.from_url(redis_url).delete(*keys)


def test_without_the_fallback_a_redis_outage_is_a_503_not_a_500(caplog):
    from tests.conftest import make_app

    with socket_closed_port() as port:
        settings = {
            **redis_settings(f"redis://127.0.0.1:{port}/0"),
            "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": False,
            "RATELIMIT_STORAGE_OPTIONS": {"socket_connect_timeout": 0.2},
        }
        client = make_app(**settings).test_client()
        with caplog.at_level(logging.ERROR, logger="bastion.security"):
            response = client.get("/about", headers={"Accept": "text/html"})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert "temporarily unavailable" in response.get_data(as_text=True)
    assert any("rate-limit storage failed" in r.getMessage() for r in caplog.records)
    assert client.get("/healthz").status_code == 200, "exempt routes don't need Redis"


@limited
def test_options_answered_by_flask_is_not_counted(client, clock):
    # A CORS preflight (or a scanner's) gets Flask's automatic answer and
    # leaves the budget of the request it announces alone.
    for _ in range(5):
        response = client.options("/about", headers={"Access-Control-Request-Method": "GET"})
        assert response.status_code == 200
        assert "GET" in response.headers["Allow"]
        assert "X-RateLimit-Remaining" not in response.headers
    assert statuses(client, 3) == [200, 200, 429]


def test_options_handled_by_a_view_is_counted(clock):
    from flask import Flask

    from flask_bastion import Bastion

    app = Flask(__name__)
    app.config.update(SECRET_KEY="k" * 32, TESTING=True, FORCE_HTTPS=False)

    @app.route("/thing", methods=["GET", "OPTIONS"])
    def thing() -> str:
        return "ran"

    Bastion(app)
    client = app.test_client()
    answers = [client.options("/thing") for _ in range(3)]
    assert [r.status_code for r in answers] == [200, 200, 429]
    assert answers[0].get_data(as_text=True) == "ran"


@pytest.mark.settings(RATELIMIT_ENABLED=True, RATELIMIT_DEFAULT="1000 per second")
def test_account_forms_posted_by_nobody_are_refused_not_500(app, client):
    """The account pages' own limits count per signed-in account; a post without a
    session (a stale tab, a scanner) is counted by address and refused, never a 500."""
    posts = [
        re.sub(r"<[^>]+>", "1", rule.rule)
        for rule in app.url_map.iter_rules()
        if "POST" in rule.methods and rule.rule.startswith("/account")
    ]
    assert len(posts) >= 10
    for path in posts:
        response = client.post(path)
        assert response.status_code in (302, 400, 401, 404), (path, response.status_code)
