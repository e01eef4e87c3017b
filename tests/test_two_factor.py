"""Two-factor sign-in with TOTP: set-up and sign-in, on SQLite and PostgreSQL, time controlled.

What a user would notice: turning it on takes a code from the app and shows
ten recovery codes once; afterwards a password alone no longer signs in; a
code works once, within 30 seconds of clock skew; a recovery code works once;
turning it off takes the password and a code; an administrator under
``REQUIRE_2FA_FOR_ADMINS`` can't reach anything before setting it up.
"""

from __future__ import annotations

import datetime as dt
import re
import time

import pyotp
import pytest
import time_machine
from sqlalchemy import select

from app.auth.two_factor import decrypt_secret, qr_data_uri
from app.extensions import db
from app.models.two_factor import RecoveryCode, TwoFactor
from app.models.user_session import SecurityEvent
from tests.helpers import post_form
from tests.test_auth import make_user, sign_in, sign_out, signed_in

#: On a 30-second step boundary.
START = dt.datetime(2030, 3, 1, 8, 0, 0, tzinfo=dt.UTC)
PAGE = "/account/two-factor"
CODE_STEP = "/sign-in/two-factor"
RECOVERY = re.compile(r"<li>([a-z2-7]{4}(?:-[a-z2-7]{4}){3})</li>")


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def code(secret: str, skew: float = 0) -> str:
    """What an authenticator app whose clock is ``skew`` seconds off shows now."""
    return pyotp.TOTP(secret).at(time.time() + skew)


def turn_on(client) -> tuple[str, list[str]]:
    """Turn two-factor on through the pages; the secret (as shown) and the recovery codes."""
    assert post_form(client, f"{PAGE}/start", PAGE).status_code == 302
    page = client.get(PAGE).get_data(as_text=True)
    secret = re.search(r'id="two-factor-secret"[^>]*>([^<]+)<', page).group(1).replace(" ", "")
    assert 'src="data:image/svg+xml' in page
    response = post_form(client, f"{PAGE}/confirm", PAGE, code=code(secret))
    assert response.status_code == 200
    return secret, RECOVERY.findall(response.get_data(as_text=True))


def enrolled(app, client, clock) -> tuple[str, list[str]]:
    """Ada, signed in, turns two-factor on, signs out; the clock moves 5 minutes on."""
    make_user(app)
    sign_in(client)
    secret, codes = turn_on(client)
    sign_out(client)
    clock.shift(300)
    return secret, codes


def second_step(client, value: str, query: str = ""):
    return post_form(client, f"{CODE_STEP}{query}", CODE_STEP, code=value)


def kinds(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(SecurityEvent.kind).order_by(SecurityEvent.id)))


# --- set-up -----------------------------------------------------------------------------


def test_set_up_needs_a_right_code_then_shows_ten_codes_once(any_db, clock):
    app, client = any_db, any_db.test_client()
    make_user(app)
    sign_in(client)
    assert "Turn on two-factor" in client.get("/account").get_data(as_text=True)
    post_form(client, f"{PAGE}/start", PAGE)
    page = client.get(PAGE)
    assert page.headers["Cache-Control"] == "no-store"
    secret = re.search(r'id="two-factor-secret"[^>]*>([^<]+)<', page.get_data(as_text=True))
    secret = secret.group(1).replace(" ", "")
    assert len(secret) == 32  # 160 bits of base32
    # The QR code is the one of the otpauth URI an authenticator app expects (Key Uri Format).
    uri = f"otpauth://totp/Bastion:ada%40example.com?secret={secret}&issuer=Bastion"
    assert pyotp.parse_uri(uri).secret == secret
    assert f'src="{qr_data_uri(uri)[0]}"' in page.get_data(as_text=True)

    wrong = post_form(client, f"{PAGE}/confirm", PAGE, code=code(secret, 120))
    assert wrong.status_code == 422
    assert "That code is not right" in wrong.get_data(as_text=True)
    assert "two_factor_enabled" not in kinds(app)

    secret_now, codes = secret, None
    response = post_form(client, f"{PAGE}/confirm", PAGE, code=code(secret_now))
    assert response.headers["Cache-Control"] == "no-store"
    codes = RECOVERY.findall(response.get_data(as_text=True))
    assert len(set(codes)) == 10
    assert "shown only this once" in response.get_data(as_text=True)
    manage = client.get(PAGE).get_data(as_text=True)
    assert "is <strong>on</strong>" in manage
    assert "10 unused recovery codes" in manage
    assert not RECOVERY.findall(manage)
    assert secret not in manage
    assert "two_factor_enabled" in kinds(app)
    with app.app_context():  # neither the secret nor a recovery code is stored as such
        stored = db.session.scalar(select(TwoFactor.secret))
        hashes = set(db.session.scalars(select(RecoveryCode.code_hash)))
    assert secret not in stored
    assert decrypt_secret_in(app, stored) == secret
    assert not {c for c in codes} & hashes
    assert all(len(h) == 64 for h in hashes)


def decrypt_secret_in(app, token: str) -> str:
    with app.test_request_context():
        return decrypt_secret(token)


def test_starting_again_replaces_an_unfinished_set_up(app, client, clock):
    make_user(app)
    sign_in(client)
    post_form(client, f"{PAGE}/start", PAGE)
    first = client.get(PAGE).get_data(as_text=True)
    post_form(client, f"{PAGE}/start", PAGE)
    second = client.get(PAGE).get_data(as_text=True)
    pattern = r'id="two-factor-secret"[^>]*>([^<]+)<'
    assert re.search(pattern, first).group(1) != re.search(pattern, second).group(1)
    assert "Two-factor sign-in is <strong>off</strong>" not in second


# --- signing in -------------------------------------------------------------------------


def test_the_password_alone_no_longer_signs_in(any_db, clock):
    app, client = any_db, any_db.test_client()
    secret, _ = enrolled(app, client, clock)
    response = sign_in(client, remember="y", query="?next=/stories/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith(f"{CODE_STEP}?next=/stories/")
    assert not signed_in(client)
    assert client.get_cookie("remember_token") is None
    done = second_step(client, code(secret), "?next=/stories/")
    assert done.status_code == 302
    assert done.headers["Location"] == "/stories/"
    assert signed_in(client)
    assert client.get_cookie("remember_token") is not None  # the choice carried over
    assert kinds(app)[-1] == "sign_in"
    with app.app_context():
        detail = db.session.scalar(select(SecurityEvent.detail).order_by(SecurityEvent.id.desc()))
    assert detail == "with two-factor, kept signed in"


def test_a_wrong_code_is_refused_and_logged(any_db, clock):
    app, client = any_db, any_db.test_client()
    enrolled(app, client, clock)
    sign_in(client)
    response = second_step(client, "000000")
    assert response.status_code == 422
    assert "That code is not right" in response.get_data(as_text=True)
    assert not signed_in(client)
    assert kinds(app)[-1] == "two_factor_failed"


def test_a_code_can_not_be_used_twice(any_db, clock):
    app, client = any_db, any_db.test_client()
    secret, _ = enrolled(app, client, clock)
    sign_in(client)
    used = code(secret)
    assert second_step(client, used).status_code == 302
    sign_out(client)
    clock.shift(10)  # the same step: the app still shows the same code
    sign_in(client)
    assert second_step(client, used).status_code == 422
    assert not signed_in(client)
    clock.shift(30)
    assert second_step(client, code(secret)).status_code == 302


@pytest.mark.parametrize(("skew", "accepted"), [(-30, True), (30, True), (-90, False), (90, False)])
def test_clock_skew_of_one_step_is_accepted_three_are_not(app, client, clock, skew, accepted):
    secret, _ = enrolled(app, client, clock)
    sign_in(client)
    response = second_step(client, code(secret, skew))
    assert (response.status_code == 302) is accepted
    assert signed_in(client) is accepted


def test_a_recovery_code_works_once(any_db, clock):
    app, client = any_db, any_db.test_client()
    _, codes = enrolled(app, client, clock)
    sign_in(client)
    assert second_step(client, codes[0].upper().replace("-", " ")).status_code == 302
    assert kinds(app)[-2:] == ["recovery_code_used", "sign_in"]
    assert "You used a recovery code; 9 left." in client.get("/account").get_data(as_text=True)
    assert "9 unused recovery codes" in client.get(PAGE).get_data(as_text=True)
    sign_out(client)
    sign_in(client)
    assert second_step(client, codes[0]).status_code == 422
    assert second_step(client, codes[1]).status_code == 302


def test_the_pending_step_expires_after_five_minutes(app, client, clock):
    secret, _ = enrolled(app, client, clock)
    sign_in(client)
    clock.shift(301)
    response = post_form(client, CODE_STEP, "/sign-in", code=code(secret))
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")
    assert not signed_in(client)
    assert client.get(CODE_STEP).status_code == 302  # nothing pending any more


def test_the_code_step_without_a_password_goes_back_to_sign_in(client):
    response = client.get(CODE_STEP)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")


def test_a_password_change_ends_a_pending_step(app, client, clock):
    _secret, _ = enrolled(app, client, clock)
    sign_in(client)
    with app.app_context():
        from app.models.user import User

        db.session.scalar(select(User)).session_version += 1
        db.session.commit()
    second_step_page = client.get(CODE_STEP)
    assert second_step_page.status_code == 302


def test_unknown_email_and_wrong_password_still_look_the_same(app, client, clock):
    enrolled(app, client, clock)
    wrong = sign_in(client, password="not the password at all")
    unknown = sign_in(client, email="nobody@example.com")
    assert wrong.status_code == unknown.status_code == 422
    assert "Incorrect email or password." in wrong.get_data(as_text=True)
    assert "Incorrect email or password." in unknown.get_data(as_text=True)


throttled = pytest.mark.settings(RATELIMIT_ENABLED=True, RATELIMIT_DEFAULT="1000 per second")


@throttled
def test_wrong_codes_are_limited_per_account_from_any_address(app, client, clock):
    secret, _ = enrolled(app, client, clock)
    sign_in(client)
    statuses = []
    for n in range(6):
        client.environ_base["REMOTE_ADDR"] = f"198.51.100.{n}"
        statuses.append(second_step(client, "000000").status_code)
    assert statuses == [422] * 5 + [429]
    assert second_step(client, code(secret)).status_code == 429
    assert kinds(app).count("two_factor_failed") == 5


def test_two_requests_racing_with_one_code_can_not_both_win(any_db, clock):
    from app.auth.two_factor import verify_totp

    app, client = any_db, any_db.test_client()
    secret, _ = enrolled(app, client, clock)
    typed = code(secret)
    with app.app_context():
        slow = db.session.get(TwoFactor, 1)  # read before the other request commits
        assert slow.last_step is not None
        slow_step = slow.last_step
        with app.app_context():  # another request, its own database session
            fast = db.session.get(TwoFactor, 1)
            assert verify_totp(fast, typed)
            db.session.commit()
        assert slow.last_step == slow_step  # this one's copy is stale
        assert not verify_totp(slow, typed)
        db.session.commit()
