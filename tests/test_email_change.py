"""Changing the email address: a link to the new address, the old one told, no enumeration.

What a user would notice: the account page's "Change email address" asks for
the new address and the password and always answers "check the new address's
inbox"; the change happens only when the link is followed and its button
pressed; the old address gets a notice; a link works once, for its account,
within ``EMAIL_CHANGE_MAX_AGE``; an address that another account took first
gives a clear message, never a 500 (SQLite and PostgreSQL).
"""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
import time_machine

from app.auth.email_change import ADDRESS_TAKEN, CHANGE_SENT, mask_email
from app.models.base import utcnow
from tests.helpers import post_form
from tests.mail_server import smtp_server
from tests.test_auth import (
    NEW_PASSWORD,
    PASSWORD,
    change_password,
    link_in,
    load,
    make_user,
    outbox,
    sign_in,
    sign_out,
)
from tests.test_mail_jobs import queued_app, run_worker  # noqa: F401  (a fixture)

FORM = "/account/email"
CONFIRM = "/account/email/confirm/"


def ask(client, new_email="nina@example.com", password=PASSWORD):
    return post_form(client, FORM, new_email=new_email, password=password)


def press(client, path):
    """Press the button of the page a change link opens.

    The CSRF token comes from another form: a dead link's page has none.
    """
    return post_form(client, path, "/forgot-password")


def mails_to(app, address) -> list:
    return [message for message in outbox(app) if message["To"] == address]


def change_link(app, address="nina@example.com") -> str:
    return link_in(mails_to(app, address)[-1], CONFIRM)


def alerts(page: str) -> list[str]:
    """The text of the page's flashed messages."""
    found = re.findall(r'role="alert">\s*(.*?)\s*<button', page, flags=re.S)
    return [html.unescape(re.sub(r"\s+", " ", text)) for text in found]


def signed_in_as(app, email) -> tuple:
    make_user(app, email=email, name=email.split("@")[0].title())
    client = app.test_client()
    assert sign_in(client, email=email).status_code == 302
    return client


@pytest.fixture(autouse=True)
def _empty_outbox(request):
    """``any_db``'s app lives for the whole module: each test starts with no mail."""
    if "any_db" in request.fixturenames:
        outbox(request.getfixturevalue("any_db")).clear()


def test_the_account_page_links_to_the_form(any_db):
    client = signed_in_as(any_db, "ada@example.com")
    page = client.get("/account").get_data(as_text=True)
    assert f'href="{FORM}"' in page
    form = client.get(FORM).get_data(as_text=True)
    assert "ada@example.com" in form
    assert 'autocomplete="current-password"' in form


def test_following_the_link_moves_the_account_and_tells_the_old_address(any_db):
    app = any_db
    client = signed_in_as(app, "ada@example.com")
    response = ask(client, "  Nina@Example.COM ")
    assert response.status_code == 302
    assert response.headers["Location"] == "/account"
    assert CHANGE_SENT in alerts(client.get("/account").get_data(as_text=True))
    [message] = mails_to(app, "nina@example.com")
    assert message["Subject"] == "[Bastion] Confirm your new email address"
    assert "within 24 hours" in message.get_content()
    path = change_link(app)
    # A GET (a mail scanner following the link) shows a button and changes nothing.
    page = client.get(path)
    assert page.status_code == 200
    assert "nina@example.com" in page.get_data(as_text=True)
    assert load(app).email == "ada@example.com"
    moved = press(client, path)
    assert moved.status_code == 302
    assert moved.headers["Location"] == "/account"
    account = client.get("/account").get_data(as_text=True)
    assert "Your email address is now nina@example.com." in alerts(account)
    assert "Email address changed" in account
    assert "from a***@example.com to n***@example.com" in account
    assert load(app, "nina@example.com").email_confirmed_at is not None
    [notice] = mails_to(app, "ada@example.com")
    assert notice["Subject"] == "[Bastion] Your email address was changed"
    body = notice.get_content()
    assert "changed to\nn***@example.com" in body
    assert "http://localhost/contact" in body
    # The link worked once; the new address signs in, the old one no longer does.
    assert client.get(path).status_code == 404
    assert press(client, path).status_code == 404
    sign_out(client)
    assert sign_in(client).status_code == 422
    assert sign_in(client, email="nina@example.com").status_code == 302


def test_a_link_followed_in_another_browser_moves_the_account_too(any_db):
    app = any_db
    ask(signed_in_as(app, "ada@example.com"))
    elsewhere = app.test_client()  # the new address's mail read on a phone, signed out
    response = press(elsewhere, change_link(app))
    assert response.headers["Location"] == "/sign-in"
    assert load(app, "nina@example.com") is not None


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"password": "not my password"}, "password", "That is not your current password."),
        ({"new_email": "ADA@example.com"}, "new_email", "That is already your address."),
        ({"new_email": "nina at example"}, "new_email", "look like an email address"),
        ({"new_email": ""}, "new_email", "Please enter the new address."),
    ],
)
def test_bad_input_is_shown_again_and_nothing_is_sent(app, fields, field, message):
    client = signed_in_as(app, "ada@example.com")
    data = {"new_email": "nina@example.com", "password": PASSWORD, **fields}
    response = post_form(client, FORM, **data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in page
    assert f'id="{field}"' in page
    assert 'aria-invalid="true"' in page
    assert f'value="{data["new_email"]}"' in page or not data["new_email"]
    assert PASSWORD not in page, "passwords are never sent back"
    assert outbox(app) == []


def test_signed_out_visitors_are_sent_to_sign_in(client):
    assert client.get(FORM).headers["Location"].startswith("/sign-in?next=")


# --- no enumeration ---------------------------------------------------------------------


def test_a_taken_address_gets_the_same_answer_and_its_owner_a_mail(any_db):
    app = any_db
    make_user(app, email="taken@example.com", name="Tom")
    free = signed_in_as(app, "ada@example.com")
    taken = signed_in_as(app, "amy@example.com")
    answers = []
    for client, address in ((free, "tina@example.com"), (taken, "taken@example.com")):
        response = ask(client, address)
        page = client.get(response.headers["Location"]).get_data(as_text=True)
        answers.append((response.status_code, response.headers["Location"], alerts(page)))
    assert answers[0] == answers[1] == (302, "/account", [CHANGE_SENT])
    # The security log of each says the same: asked, to a masked address.
    for client in (free, taken):
        assert "t***@example.com" in client.get("/account").get_data(as_text=True)
    [owner_mail] = mails_to(app, "taken@example.com")
    assert owner_mail["Subject"] == "[Bastion] Someone tried to move an account to your address"
    assert CONFIRM not in owner_mail.get_content(), "no link: nothing can change"
    assert load(app, "amy@example.com") is not None
    assert load(app, "taken@example.com").display_name == "Tom"
    assert link_in(mails_to(app, "tina@example.com")[0], CONFIRM)


def test_a_deleted_accounts_address_is_free_again(app):
    make_user(app, email="gone@example.com", name="Gone", deleted_at=utcnow())
    client = signed_in_as(app, "ada@example.com")
    ask(client, "gone@example.com")
    assert press(client, change_link(app, "gone@example.com")).status_code == 302
    assert load(app, "ada@example.com") is None
    sign_out(client)
    assert sign_in(client, email="gone@example.com").headers["Location"] == "/account"
    assert "Ada" in client.get("/account").get_data(as_text=True)


# --- token misuse -----------------------------------------------------------------------


def test_a_link_expires_after_email_change_max_age(any_db):
    app = any_db
    with time_machine.travel(utcnow(), tick=False) as traveller:
        client = signed_in_as(app, "ada@example.com")
        ask(client)
        path = change_link(app)
        traveller.shift(timedelta(seconds=24 * 3600 - 1))
        assert client.get(path).status_code == 200
        traveller.shift(timedelta(seconds=2))
        page = client.get(path)
        assert press(client, path).status_code == 404
    assert page.status_code == 404
    assert "This link doesn" in page.get_data(as_text=True)
    assert load(app).email == "ada@example.com"


def test_a_link_dies_when_the_password_changes(any_db):
    app = any_db
    client = signed_in_as(app, "ada@example.com")
    ask(client)
    path = change_link(app)
    assert change_password(client).status_code == 302
    assert client.get(path).status_code == 404
    assert load(app).email == "ada@example.com"


def test_using_one_link_kills_the_others(any_db):
    app = any_db
    client = signed_in_as(app, "ada@example.com")
    ask(client, "nina@example.com")
    ask(client, "olga@example.com")
    first, second = change_link(app, "nina@example.com"), change_link(app, "olga@example.com")
    assert press(client, second).status_code == 302
    assert press(client, first).status_code == 404, "the address changed: every other link is dead"
    assert load(app, "olga@example.com") is not None
    assert load(app, "nina@example.com") is None


def test_a_link_moves_only_its_own_account(any_db):
    app = any_db
    ada = signed_in_as(app, "ada@example.com")
    bob = signed_in_as(app, "bob@example.com")
    ask(bob, "robert@example.com")
    path = change_link(app, "robert@example.com")
    token = path.rsplit("/", 1)[1]
    payload, rest = token.split(".", 1)
    assert ada.get(f"{CONFIRM}{payload[::-1]}.{rest}").status_code == 404, "forged"
    assert ada.get(f"{CONFIRM}{token}x").status_code == 404
    # Pressed by Ada, signed in: Bob's link moves Bob, never Ada.
    assert press(ada, path).headers["Location"] == "/sign-in"
    assert load(app, "ada@example.com") is not None
    assert load(app, "robert@example.com").display_name == "Bob"


def test_other_links_are_not_change_links(app):
    from app.auth.tokens import make_token
    from app.models.user import User

    make_user(app)
    client = app.test_client()
    with app.test_request_context():
        user = app.extensions["sqlalchemy"].session.get(User, 1)
        confirm = make_token(user, "confirm")
        reset = make_token(user, "reset")
        two_addresses = make_token(user, "email", "a@example.com", "b@example.com")
        change = make_token(user, "email", "nina@example.com")
    for token in (confirm, reset, two_addresses):
        assert client.get(f"{CONFIRM}{token}").status_code == 404
    assert client.get(f"/confirm-email/{change}").status_code == 404
    assert client.get(f"/reset-password/{change}").status_code == 404


def test_two_accounts_racing_for_one_address_get_a_clear_message(any_db):
    """Both links were sent while the address was free; the second one meets the unique index."""
    app = any_db
    ada = signed_in_as(app, "ada@example.com")
    bob = signed_in_as(app, "bob@example.com")
    ask(ada, "shared@example.com")
    ask(bob, "shared@example.com")
    ada_link, bob_link = (link_in(m, CONFIRM) for m in mails_to(app, "shared@example.com"))
    assert press(ada, ada_link).status_code == 302
    refused = press(bob, bob_link)
    assert refused.status_code == 409
    assert ADDRESS_TAKEN in refused.get_data(as_text=True)
    assert load(app, "bob@example.com") is not None
    assert load(app, "shared@example.com").display_name == "Ada"
    assert bob.get("/account").status_code == 200, "Bob's session is untouched"
    assert "Email address changed" not in bob.get("/account").get_data(as_text=True)


# --- limits, the real worker ------------------------------------------------------------


@pytest.mark.settings(
    RATELIMIT_ENABLED=True, RATELIMIT_DEFAULT="1000 per second", MAIL_RATE_LIMIT="2 per hour"
)
def test_asking_is_limited_per_account_and_per_client(app):
    def client_of(email, address):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = address  # before signing in: "strong" sessions
        assert sign_in(client, email=email).status_code == 302
        return client

    for email in ("ada@example.com", "bob@example.com", "cy@example.com", "dee@example.com"):
        make_user(app, email=email, name="Someone")
    # One account, three addresses.
    outcomes = [
        ask(client_of("ada@example.com", f"192.0.2.{number}"), f"a{number}@example.com").status_code
        for number in (1, 2, 3)
    ]
    assert outcomes == [302, 302, 429], "a third ask from one account"
    # One address, three accounts.
    outcomes = [
        ask(client_of(email, "198.51.100.9"), f"new-{email}").status_code
        for email in ("bob@example.com", "cy@example.com", "dee@example.com")
    ]
    assert outcomes == [302, 302, 429], "a third ask from one client"
    links = [m for m in outbox(app) if m["Subject"] == "[Bastion] Confirm your new email address"]
    assert len(links) == 4


def test_the_worker_mails_the_link_and_the_notice_through_smtp(queued_app):  # noqa: F811
    app = queued_app
    client = signed_in_as(app, "ada@example.com")
    with smtp_server() as (inbox, port):
        app.config["MAIL_URL"] = f"smtp://127.0.0.1:{port}?starttls=0"
        assert ask(client).status_code == 302
        assert inbox.messages == [], "the request only queues the job"
        run_worker(app)
        [link_mail] = inbox.messages
        assert link_mail["To"] == "nina@example.com"
        assert press(client, link_in(link_mail, CONFIRM)).status_code == 302
        run_worker(app)
    notice = inbox.messages[-1]
    assert notice["To"] == "ada@example.com"
    assert "n***@example.com" in notice.get_content()
    sign_out(client)
    assert sign_in(client, email="nina@example.com").status_code == 302


def test_the_mask_keeps_the_first_letter_and_the_domain():
    assert mask_email("nina@example.com") == "n***@example.com"
    assert mask_email("x@sub.example.org") == "x***@sub.example.org"
    assert mask_email("@example.com") == "***@example.com"


def test_a_new_password_does_not_pass_for_the_old(app):
    """Asking needs the current password, not a new one typed by mistake."""
    client = signed_in_as(app, "ada@example.com")
    assert ask(client, password=NEW_PASSWORD).status_code == 422
