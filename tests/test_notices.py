"""Security notices by mail: a sign-in from a new device, two-factor turned off.

What a user would notice: a sign-in from a browser the account hasn't used
mails the owner what, where and when, with a link to sign that session out;
signing in again from the same browser doesn't; the very first sign-in
after confirming the address doesn't either; turning two-factor off (on the
account page or by the site's team from the shell) is told by mail.  A mail
that fails never fails the sign-in.
"""

from __future__ import annotations

import datetime as dt
import re
from datetime import timedelta

import pytest
import time_machine
from flask import Flask

from app.auth.new_device import DEVICE_COOKIE
from app.models.base import utcnow
from tests.helpers import CSRF_INPUT, post_form
from tests.mail_server import free_port, smtp_server
from tests.test_auth import (
    PASSWORD,
    change_password,
    confirm,
    link_in,
    make_user,
    outbox,
    register,
    sign_in,
    sign_out,
    signed_in,
)
from tests.test_mail_jobs import queued_app, run_worker  # noqa: F401  (a fixture)
from tests.test_two_factor import PAGE, START, code, enrolled, second_step

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
SUBJECT = "[Bastion] New sign-in to your account"


def device(app: Flask, user_agent: str = FIREFOX, address: str = "192.0.2.7"):
    """A browser of its own: a test client with a ``User-Agent`` and a client address."""
    client = app.test_client()
    client.environ_base.update(HTTP_USER_AGENT=user_agent, REMOTE_ADDR=address)
    return client


def notices(app: Flask, to: str = "ada@example.com") -> list:
    return [m for m in outbox(app) if m["Subject"] == SUBJECT and m["To"] == to]


def known_cookie(client):
    return client.get_cookie(DEVICE_COOKIE)


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def _empty_outbox(request):
    """``any_db``'s app lives for the whole module: each test starts with no mail."""
    if "any_db" in request.fixturenames:
        outbox(request.getfixturevalue("any_db")).clear()


# --- a new device ------------------------------------------------------------------------


def test_a_new_device_gets_the_owner_a_mail_with_a_way_to_sign_it_out(any_db, clock):
    app = any_db
    make_user(app)
    laptop = device(app, "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Safari/605.1.15")
    assert sign_in(laptop).status_code == 302
    assert notices(app) == [], "the first sign-in after confirming the address"
    clock.shift(3600)
    stranger = device(app)
    assert sign_in(stranger).headers["Location"] == "/account"
    [notice] = notices(app)
    body = notice.get_content()
    assert "Device:  Firefox on Linux" in body
    assert "Address: 192.0.2.7" in body
    assert "Time:    2030-03-01 09:00 UTC" in body
    sessions = link_in(notice, "/account")
    assert sessions == "/account#sessions"
    # The owner follows the link on the laptop and signs the stranger out.
    page = laptop.get(sessions).get_data(as_text=True)
    assert "Firefox on Linux" in page
    assert "192.0.2.7" in page
    forms = re.findall(r'/account/sessions/(\d+)/revoke.*?visually-hidden"> ([^<]+)<', page, re.S)
    [session_id] = [number for number, label in forms if label == "Firefox on Linux"]
    revoke = post_form(laptop, f"/account/sessions/{session_id}/revoke", "/account")
    assert revoke.status_code == 302
    assert not signed_in(stranger)
    assert signed_in(laptop)


def test_the_same_browser_signing_in_again_is_not_new(any_db, clock):
    app = any_db
    make_user(app, email_confirmed_at=utcnow() - timedelta(days=30))  # an old account
    laptop = device(app)
    sign_in(laptop)
    assert len(notices(app)) == 1, "an old account's browser without the cookie is new"
    for _ in range(3):
        sign_out(laptop)
        clock.shift(86400)
        assert sign_in(laptop, remember="y").status_code == 302
    assert len(notices(app)) == 1
    cookie = known_cookie(laptop)
    assert cookie.http_only
    assert cookie.same_site == "Lax"
    assert cookie.expires is not None
    assert cookie.expires > dt.datetime.now(dt.UTC) + timedelta(days=364)
    assert "ada" not in cookie.value
    assert cookie.value.split(".")[0] != "1"


def test_a_browser_is_known_per_account(any_db):
    app = any_db
    make_user(app)
    make_user(app, email="bob@example.com", name="Bob")
    for email in ("ada@example.com", "bob@example.com"):  # each account's first sign-in
        sign_in(app.test_client(), email=email)
    shared = device(app)
    sign_in(shared)
    sign_out(shared)
    sign_in(shared, email="bob@example.com")
    assert len(notices(app)) == 1
    assert len(notices(app, "bob@example.com")) == 1
    sign_out(shared)
    sign_in(shared)  # Ada again: the cookie now holds both accounts
    sign_out(shared)
    sign_in(shared, email="bob@example.com")
    assert len(notices(app)) == 1
    assert len(notices(app, "bob@example.com")) == 1


def test_a_forged_or_expired_mark_is_a_new_device(any_db, clock):
    app = any_db
    make_user(app)
    sign_in(app.test_client())  # the first sign-in
    laptop = device(app)
    sign_in(laptop)
    sign_out(laptop)
    assert len(notices(app)) == 1
    value = known_cookie(laptop).value
    forged = device(app)
    forged.set_cookie(DEVICE_COOKIE, value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    sign_in(forged)
    assert len(notices(app)) == 2, "a tampered cookie vouches for nothing"
    clock.shift(timedelta(days=366))
    sign_in(laptop)
    assert len(notices(app)) == 3, "a mark older than KNOWN_DEVICE_MAX_AGE has lapsed"


def test_a_registration_confirmed_on_one_device_and_used_on_another(any_db):
    """No mail for the first sign-in; the first one from yet another browser is new."""
    app = any_db
    register(app.test_client())
    phone = device(app, "Mozilla/5.0 (Linux; Android 14) Chrome/126.0 Mobile Safari/537.36")
    assert confirm(phone, outbox(app)[0]).status_code == 302
    desktop = device(app, address="203.0.113.5")
    assert sign_in(desktop).status_code == 302
    assert notices(app) == [], "the very first sign-in"
    assert sign_in(phone).status_code == 302
    assert notices(app) == [], "the browser that confirmed the address reads its mail"
    tablet = device(app, "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) Safari/604.1")
    sign_in(tablet)
    [notice] = notices(app)
    assert "Device:  Safari on iOS" in notice.get_content()


def test_a_purged_history_does_not_make_an_old_account_new(any_db):
    app = any_db
    make_user(app, email_confirmed_at=utcnow() - timedelta(days=4))  # no session on record
    sign_in(device(app))
    assert len(notices(app)) == 1


def test_the_two_factor_step_is_where_the_sign_in_happens(any_db, clock):
    app, laptop = any_db, any_db.test_client()
    secret, codes = enrolled(app, laptop, clock)
    phone = device(app)
    assert sign_in(phone).headers["Location"].startswith("/sign-in/two-factor")
    assert notices(app) == [], "nobody is signed in after the password alone"
    assert second_step(phone, code(secret)).status_code == 302
    assert len(notices(app)) == 1
    tablet = device(app, address="198.51.100.4")
    sign_in(tablet)
    assert second_step(tablet, codes[0]).status_code == 302  # a recovery code
    assert len(notices(app)) == 2
    clock.shift(30)
    sign_out(laptop)
    sign_in(laptop)
    second_step(laptop, code(secret))
    assert len(notices(app)) == 2, "the laptop signed in before"


def test_a_password_change_signs_in_again_without_a_notice(any_db):
    app = any_db
    make_user(app, email_confirmed_at=utcnow() - timedelta(days=30))
    laptop = device(app)
    sign_in(laptop)
    laptop.delete_cookie(DEVICE_COOKIE)  # e.g. signed in before notices existed
    assert change_password(laptop).status_code == 302
    subjects = [m["Subject"] for m in outbox(app)]
    assert subjects == [SUBJECT, "[Bastion] Your password was changed"]
    assert known_cookie(laptop) is not None, "marked again"


def test_a_failing_notice_never_fails_the_sign_in(app, caplog):
    make_user(app)
    sign_in(app.test_client())
    app.config["MAIL_URL"] = f"smtp://127.0.0.1:{free_port()}?starttls=0"  # nobody listens
    laptop = device(app)
    assert sign_in(laptop).headers["Location"] == "/account"
    assert signed_in(laptop)
    assert "job app.jobs.deliver_mail failed in process" in caplog.text


def test_a_notice_that_cant_be_built_is_logged_and_the_sign_in_goes_on(app, caplog):
    make_user(app)
    sign_in(app.test_client())
    app.config["MAIL_FROM"] = None  # the message can't be built
    laptop = device(app)
    assert sign_in(laptop).headers["Location"] == "/account"
    assert "new-device notice for account 1 not sent" in caplog.text


@pytest.mark.settings(SESSION_COOKIE_SECURE=True, PREFERRED_URL_SCHEME="https")
def test_the_cookie_is_secure_when_the_session_cookie_is(app):
    make_user(app)
    client, base = app.test_client(), "https://localhost"
    page = client.get("/sign-in", base_url=base).get_data(as_text=True)
    fields = {"csrf_token": CSRF_INPUT.search(page).group(1), "password": PASSWORD}
    response = client.post(
        "/sign-in",
        base_url=base,
        data={**fields, "email": "ada@example.com"},
        headers={"Referer": f"{base}/sign-in"},
    )
    assert response.status_code == 302
    [header] = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(DEVICE_COOKIE)]
    assert "Secure" in header
    assert "HttpOnly" in header
    assert "SameSite=Lax" in header
    assert "Path=/" in header
    assert "Max-Age=31536000" in header


def test_the_worker_delivers_the_notice_through_smtp(queued_app):  # noqa: F811
    app = queued_app
    make_user(app)
    sign_in(app.test_client())
    with smtp_server() as (inbox, port):
        app.config["MAIL_URL"] = f"smtp://127.0.0.1:{port}?starttls=0"
        laptop = device(app)
        assert sign_in(laptop).status_code == 302
        assert inbox.messages == [], "the sign-in only queues it"
        run_worker(app)
    [notice] = inbox.messages
    assert notice["Subject"] == SUBJECT
    assert "Firefox on Linux" in notice.get_content()


# --- two-factor turned off -----------------------------------------------------------------


def test_turning_two_factor_off_on_the_account_page_is_told_by_mail(any_db, clock):
    app, client = any_db, any_db.test_client()
    secret, _ = enrolled(app, client, clock)
    sign_in(client)
    second_step(client, code(secret))
    clock.shift(30)
    off = post_form(client, f"{PAGE}/disable", PAGE, password=PASSWORD, code=code(secret))
    assert off.status_code == 302
    [notice] = [m for m in outbox(app) if "Two-factor" in m["Subject"]]
    assert notice["Subject"] == "[Bastion] Two-factor sign-in was turned off"
    assert notice["To"] == "ada@example.com"
    body = notice.get_content()
    assert "Your password alone now signs in." in body
    assert "http://localhost/forgot-password" in body
    assert "site's team" not in body


def test_the_command_line_tells_the_owner_too(app, client, clock):
    _secret, _ = enrolled(app, client, clock)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "two-factor-off", "ada@example.com"])
    assert result.exit_code == 0, result.output
    assert "A notice was mailed to ada@example.com." in result.output
    [notice] = [m for m in outbox(app) if "Two-factor" in m["Subject"]]
    body = notice.get_content()
    assert "by the site's team" in body
    assert "every device was signed out" in body
    assert "http" not in body, "no SERVER_NAME: no link can be built from the shell"


def test_the_command_line_notice_has_links_with_server_name(app, client, clock):
    _secret, _ = enrolled(app, client, clock)
    app.config.update(SERVER_NAME="bastion.example.com", PREFERRED_URL_SCHEME="https")
    result = app.test_cli_runner().invoke(args=["users", "two-factor-off", "ada@example.com"])
    assert result.exit_code == 0, result.output
    [notice] = [m for m in outbox(app) if "Two-factor" in m["Subject"]]
    body = notice.get_content()
    assert "https://bastion.example.com/forgot-password" in body
    assert "https://bastion.example.com/contact" in body


def test_the_command_line_warns_when_the_notice_cant_be_sent(app, client, clock):
    _secret, _ = enrolled(app, client, clock)
    app.config["MAIL_FROM"] = None
    result = app.test_cli_runner().invoke(args=["users", "two-factor-off", "ada@example.com"])
    assert result.exit_code == 0, result.output
    assert "turned off for ada@example.com" in result.output
    assert "warning: the notice to ada@example.com was not sent" in result.output
