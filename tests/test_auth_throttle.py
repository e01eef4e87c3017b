"""Sign-in throttling: per client address and per account, time controlled."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from tests.test_auth import PASSWORD, make_user, sign_in

START = dt.datetime(2030, 3, 1, 8, 0, 0, tzinfo=dt.UTC)
throttled = pytest.mark.settings(RATELIMIT_ENABLED=True, RATELIMIT_DEFAULT="1000 per second")


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def from_address(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


@throttled
def test_five_failures_per_account_then_429_from_any_address(app, clock):
    make_user(app)
    statuses = [
        sign_in(from_address(app, f"198.51.100.{n}"), password="wrong wrong wrong").status_code
        for n in range(6)
    ]
    assert statuses == [422] * 5 + [429]
    # Even the right password waits: the account is throttled, not the address.
    blocked = sign_in(from_address(app, "198.51.100.99"))
    assert blocked.status_code == 429
    assert "try again in" in blocked.get_data(as_text=True)
    assert int(blocked.headers["Retry-After"]) <= 61
    clock.shift(61)
    assert sign_in(from_address(app, "198.51.100.99")).status_code == 302


@throttled
def test_five_attempts_per_address_whatever_the_account(app, clock):
    client = from_address(app, "203.0.113.5")
    statuses = [
        sign_in(client, email=f"user{n}@example.com", password="wrong wrong wrong").status_code
        for n in range(6)
    ]
    assert statuses == [422] * 5 + [429]
    assert sign_in(from_address(app, "203.0.113.6"), email="x@example.com").status_code == 422


@throttled
def test_hourly_limit_per_account(app, clock):
    make_user(app)
    statuses = []
    for minute in range(5):
        for n in range(5):
            client = from_address(app, f"192.0.2.{minute * 10 + n}")
            statuses.append(sign_in(client, password="wrong wrong wrong").status_code)
        clock.shift(61)
    assert statuses[:20] == [422] * 20
    assert statuses[20:] == [429] * 5


@throttled
def test_successful_sign_ins_do_not_count_against_the_account(app, clock):
    make_user(app)
    for n in range(8):
        client = from_address(app, f"192.0.2.{n}")
        assert sign_in(client, password=PASSWORD).status_code == 302


@throttled
def test_the_form_page_itself_is_not_throttled(app, clock):
    client = from_address(app, "203.0.113.7")
    for _ in range(5):
        sign_in(client, email="a@example.com", password="wrong wrong wrong")
    assert client.get("/sign-in").status_code == 200


@throttled
def test_signed_in_users_are_rate_limited_per_account(app, clock):
    make_user(app)
    make_user(app, email="bob@example.com", name="Bob")
    ada, bob = from_address(app, "10.0.0.1"), from_address(app, "10.0.0.1")
    sign_in(ada)
    sign_in(bob, email="bob@example.com")
    ada_left = int(ada.get("/about").headers["X-RateLimit-Remaining"])
    bob_left = int(bob.get("/about").headers["X-RateLimit-Remaining"])
    assert ada_left == bob_left, "each account has its own budget behind one address"
