"""The ``app`` fixture's sharing (tests/conftest.py): what one test leaves, the next never sees."""

from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.mail import build_message, deliver
from app.models.user import User
from flask_bastion.counters import Hit
from tests.conftest import app_shape, app_with_tables, forget_state, make_app
from tests.test_auth import make_user


def test_forget_state_empties_rows_mail_counters_and_caches():
    with app_with_tables() as app:
        forget_state_of_a_used_app(app)


def forget_state_of_a_used_app(app):
    user_id = make_user(app)
    with app.app_context():
        user = db.session.get(User, user_id)
        deliver(
            build_message("ada@example.com", "Hello", "mail/password_changed.txt", user=user), app
        )
    counters = app.extensions["bastion.limiter"].counters
    counters.hit([Hit("test:key", 60, 1)])
    app.test_client().get("/stories/")
    assert app.extensions["bastion.url_cache"].entries
    assert app.extensions["mail_outbox"]

    forget_state(app)

    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 0
    assert "mail_outbox" not in app.extensions
    assert counters.hit([Hit("test:key", 60, 1)])[0][0] == 1, "the counter starts again"
    for cache in ("bastion.page_cache", "bastion.story_cards", "bastion.url_cache"):
        assert not app.extensions[cache].entries, cache


def test_an_app_a_test_changed_is_not_shared():
    with app_with_tables() as app:
        changed_app_is_not_shared(app)


def changed_app_is_not_shared(app):
    shape = app_shape(app)
    client = app.test_client()
    for path in ("/", "/no-such-page", "/readyz", "/api/v1/no-such-thing"):
        client.get(path)
    forget_state(app)
    assert app_shape(app) == shape, "serving requests and errors changes nothing that counts"

    app.config["TRUSTED_HOSTS"].append("example.com")
    assert app_shape(app) != shape, "a setting changed in place"
    app.config["TRUSTED_HOSTS"].remove("example.com")
    assert app_shape(app) == shape

    app.extensions["bastion.page_cache"] = object()
    assert app_shape(app) != shape, "an extension replaced"

    other = make_app()
    before = app_shape(other)
    other.add_url_rule("/probe", "probe", lambda: "ok")
    assert app_shape(other) != before, "a route added"
