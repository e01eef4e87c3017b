"""Two gunicorn instances behind nginx share sessions and rate limits, and nothing else."""

from __future__ import annotations

import time

from tests.deployment.client import Client, Response
from tests.deployment.conftest import Account, sign_in
from tests.deployment.stack import PREFIX, Stack

SPOOFED = ("203.0.113.7", "198.51.100.23", "192.0.2.200")


def as_nginx(client: Client) -> dict[str, str]:
    """The forwarded headers nginx would send for ``client`` (to talk to an instance directly)."""
    return {"X-Forwarded-For": client.source, "X-Forwarded-Proto": "https"}


def test_a_session_from_one_instance_is_valid_on_the_other(stack: Stack, account: Account) -> None:
    browser = stack.client()
    location = sign_in(browser, account, next_path="/account")
    assert location.endswith(f"{PREFIX}/account"), location
    assert "session" in browser.cookies
    # Each instance on its own, with what nginx would forward for this browser.
    for instance in stack.instances:
        direct = stack.direct(instance, source=browser.source)
        direct.cookies = dict(browser.cookies)
        page = direct.get(f"{PREFIX}/account", headers=as_nginx(direct))
        assert page.status == 200, (instance.name, page.status, page.text[:300])
        assert account.email in page.text, instance.name
    # And through nginx's round robin: both instances answer, always signed in.
    offsets = stack.log_offsets()
    served = set()
    for path in ("/stories/mine", "/stories/mine", "/stories/trash", "/stories/trash"):
        page = browser.get(PREFIX + path)
        assert page.status == 200, (path, page.status)
        assert "Sign out" in page.text or account.name in page.text, path
        served.add(stack.which_instance(page.header("X-Request-ID") or "", offsets))
    assert served == {instance.name for instance in stack.instances}, served


def test_a_session_signed_out_on_one_instance_is_refused_by_both(
    stack: Stack, account: Account
) -> None:
    """ASVS 3.3.1 across processes: the revocation lives in the shared database.

    The copied session cookie only works from the owner's address ("strong"
    session protection); the remember-me cookie alone works from anywhere, so
    its checks come from fresh addresses (each route allows 2 requests a
    second per address).
    """
    browser = stack.client()
    signed_in = browser.post_form(
        f"{PREFIX}/sign-in",
        {"email": account.email, "password": account.password, "remember": "y"},
    )
    assert signed_in.status == 302, signed_in.text[:300]
    copied = dict(browser.cookies)  # what a thief would have copied
    assert {"session", "remember_token"} <= copied.keys(), copied.keys()
    remember_only = {"remember_token": copied["remember_token"]}

    def account_page(instance, cookies: dict[str, str], source: str) -> Response:
        direct = stack.direct(instance, source=source)
        direct.cookies = dict(cookies)
        return direct.get(f"{PREFIX}/account", headers=as_nginx(direct))

    before = [account_page(i, remember_only, stack.new_address()) for i in stack.instances]
    assert [page.status for page in before] == [200] * len(stack.instances)
    offsets = stack.log_offsets()
    out = browser.post_form(f"{PREFIX}/sign-out", {}, form_path=f"{PREFIX}/contact")
    assert out.status == 302, out.text[:300]
    assert stack.which_instance(out.header("X-Request-ID") or "", offsets)
    for instance in stack.instances:  # the one that signed out, and the other
        for cookies, source in ((copied, browser.source), (remember_only, stack.new_address())):
            page = account_page(instance, cookies, source)
            assert page.status == 302, (instance.name, sorted(cookies), page.status)
            assert "/sign-in" in (page.header("Location") or ""), page.header("Location")


def three_quick_requests(stack: Stack, headers_list: list[dict[str, str]]) -> tuple[Client, list]:
    """Three requests for one page from one new address within one second (retried if slow)."""
    for _attempt in range(3):
        client = stack.client()
        started = time.monotonic()
        responses = [client.get(f"{PREFIX}/about", headers=headers) for headers in headers_list]
        if time.monotonic() - started < 0.8:  # all three in the same 1-second window
            return client, responses
    raise AssertionError("three requests took more than 0.8 s, three times")


def test_the_rate_limit_is_shared_by_the_instances(stack: Stack) -> None:
    offsets = stack.log_offsets()
    client, responses = three_quick_requests(stack, [{}, {}, {}])
    # Default limit: 2 per second -- counted once for the site, not per instance.
    assert [response.status for response in responses] == [200, 200, 429]
    assert responses[2].header("Retry-After") == "1", responses[2].headers
    served = [stack.which_instance(r.header("X-Request-ID") or "", offsets) for r in responses]
    assert served[0] != served[1], f"round robin expected, got {served}"
    # The counters live in Redis, under the client's address.
    keys = stack.redis.keys(f"*/{client.source}/*")
    minute = [key for key in keys if key.endswith("/1/minute")]
    assert minute, keys
    assert int(stack.redis.client().get(minute[0])) >= 2


def test_a_client_sent_x_forwarded_for_changes_neither_log_nor_limit(stack: Stack) -> None:
    offsets = stack.log_offsets()
    client, responses = three_quick_requests(
        stack, [{"X-Forwarded-For": spoofed} for spoofed in SPOOFED]
    )
    assert [response.status for response in responses] == [200, 200, 429]
    records = {
        record["request_id"]: record
        for instance in stack.instances
        for record in instance.request_records(offsets[instance.name])
    }
    for response in responses:
        record = records[response.header("X-Request-ID") or ""]
        assert record["client"] == client.source, record
    redis_keys = stack.redis.keys("*")
    assert any(client.source in key for key in redis_keys)
    assert not [key for key in redis_keys if any(spoofed in key for spoofed in SPOOFED)]
    for instance in stack.instances:
        assert not any(spoofed in instance.log_since(offsets[instance.name]) for spoofed in SPOOFED)
