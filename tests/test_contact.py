"""The contact form: validation, storage, flash, CSRF with the input kept."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from sqlalchemy import func, select

from app.extensions import db
from app.models.contact import ContactMessage
from tests.helpers import CSRF_INPUT, contact_form, csrf_token


def stored_messages(app) -> list[ContactMessage]:
    with app.app_context():
        return list(db.session.scalars(select(ContactMessage)))


def test_contact_form_is_rendered_with_bootstrap_and_a_token(client):
    page = client.get("/contact").get_data(as_text=True)
    assert 'name="csrf_token"' in page
    assert 'class="form-control' in page
    assert 'type="email"' in page


def test_valid_message_is_stored_and_confirmed(app, client):
    form = contact_form(csrf_token=csrf_token(client))
    response = client.post("/contact", data=form)
    assert response.status_code == 302
    assert response.headers["Location"] == "/contact"
    [message] = stored_messages(app)
    assert (message.name, message.email) == ("Ada Lovelace", "ada@example.com")
    assert message.created_at.tzinfo is not None
    assert abs(message.created_at - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)
    page = client.get("/contact").get_data(as_text=True)
    assert "Thank you, Ada Lovelace. Your message has been sent." in page


def test_each_row_gets_its_own_timestamp(app, client):
    with time_machine.travel(dt.datetime(2030, 1, 1, 12, tzinfo=dt.UTC), tick=False):
        client.post("/contact", data=contact_form(csrf_token=csrf_token(client)))
    with time_machine.travel(dt.datetime(2030, 1, 2, 12, tzinfo=dt.UTC), tick=False):
        client.post("/contact", data=contact_form(csrf_token=csrf_token(client)))
    first, second = sorted(m.created_at for m in stored_messages(app))
    assert second - first == dt.timedelta(days=1)


def test_flash_message_is_escaped(client):
    form = contact_form(name="<script>alert(1)</script>", csrf_token=csrf_token(client))
    client.post("/contact", data=form)
    page = client.get("/contact").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"name": ""}, "Please tell us your name."),
        ({"email": "not-an-address"}, "doesn&#39;t look like an email address"),
        ({"message": "short"}, "Messages are 10 to 5000 characters long."),
        ({"name": "x" * 101}, "Field cannot be longer than 100 characters."),
    ],
)
def test_invalid_input_is_shown_again_with_a_message(app, client, fields, error):
    form = contact_form(csrf_token=csrf_token(client), **fields)
    response = client.post("/contact", data=form)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert error in page
    assert "is-invalid" in page
    assert 'value="ada@example.com"' in page or fields.get("email") in page
    assert stored_messages(app) == []


def test_missing_csrf_token_keeps_the_input(app, client):
    response = client.post("/contact", data=contact_form(message="My carefully written text."))
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Your form has expired or did not come from this site." in page
    assert 'value="Ada Lovelace"' in page
    assert "My carefully written text." in page
    assert 'name="csrf_token"' in page, "a fresh token to send the form again"
    assert stored_messages(app) == []


def test_expired_csrf_token_keeps_the_input_and_resubmits(app, client):
    start = dt.datetime(2030, 5, 1, 9, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        token = csrf_token(client)
    with time_machine.travel(start + dt.timedelta(hours=2), tick=False):
        response = client.post("/contact", data=contact_form(csrf_token=token))
        page = response.get_data(as_text=True)
        assert response.status_code == 400
        assert "has expired" in page
        assert 'value="ada@example.com"' in page
        fresh = csrf_token(client)
        assert client.post("/contact", data=contact_form(csrf_token=fresh)).status_code == 302
    assert len(stored_messages(app)) == 1


def test_csrf_error_for_api_clients_is_problem_json(client):
    response = client.post("/contact", data=contact_form(), headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert response.get_json(force=True)["title"] == "Form expired"


def test_token_from_another_session_is_refused(app, client):
    token = csrf_token(app.test_client())
    response = client.post("/contact", data=contact_form(csrf_token=token))
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ContactMessage)) == 0


def test_a_valid_token_without_referer_over_https_changes_nothing(app, client):
    """Flask-WTF's HTTPS Referer check refuses a valid token; the view must not act."""
    https = {"base_url": "https://localhost"}
    page = client.get("/contact", **https).get_data(as_text=True)
    token = CSRF_INPUT.search(page).group(1)
    response = client.post("/contact", data=contact_form(csrf_token=token), **https)
    assert response.status_code == 400
    assert "Your form has expired or did not come from this site." in response.get_data(
        as_text=True
    )
    assert stored_messages(app) == [], "a refused request stored the message"
    foreign = client.post(
        "/contact",
        data=contact_form(csrf_token=token),
        headers={"Referer": "https://evil.example/"},
        **https,
    )
    assert foreign.status_code == 400
    assert stored_messages(app) == []
    same_site = client.post(
        "/contact",
        data=contact_form(csrf_token=token),
        headers={"Referer": "https://localhost/contact"},
        **https,
    )
    assert same_site.status_code == 302
    assert len(stored_messages(app)) == 1
