"""Flask's signed-cookie session through flask_bastion's session interface."""

from __future__ import annotations

import pytest
from flask import Flask, session

from flask_bastion.sessions import CachedSerializerSessionInterface


def session_app(secret_key: str | None = "s" * 40) -> Flask:
    app = Flask("sessions")
    app.config["SECRET_KEY"] = secret_key
    app.session_interface = CachedSerializerSessionInterface()

    @app.get("/set")
    def set_value() -> str:
        session["value"] = "kept"
        return "set"

    @app.get("/clear")
    def clear() -> str:
        session.clear()
        return "cleared"

    @app.get("/untouched")
    def untouched() -> str:
        return "untouched"

    @app.get("/get")
    def get_value() -> str:
        return f"{session.get('value', 'none')} new={session.new}"

    return app


def test_a_session_round_trips_and_a_request_without_cookie_gets_an_empty_one():
    client = session_app().test_client()
    assert client.get("/get").get_data(as_text=True) == "none new=False"
    assert client.get("/set").headers["Set-Cookie"].startswith("session=")
    assert client.get("/get").get_data(as_text=True) == "kept new=False"


def test_a_tampered_cookie_gives_an_empty_session():
    client = session_app().test_client()
    client.get("/set")
    cookie = client.get_cookie("session")
    client.set_cookie("session", cookie.value[:-2] + "xx")
    assert client.get("/get").get_data(as_text=True) == "none new=False"


def test_a_rotated_key_still_reads_old_sessions_through_the_fallbacks():
    app = session_app()
    client = app.test_client()
    client.get("/set")
    app.config["SECRET_KEY_FALLBACKS"] = [app.config["SECRET_KEY"]]
    app.config["SECRET_KEY"] = "n" * 40
    assert client.get("/get").get_data(as_text=True) == "kept new=False"


def test_without_a_secret_key_writing_the_session_fails_as_in_flask():
    app = session_app(secret_key=None)
    app.config["PROPAGATE_EXCEPTIONS"] = True
    client = app.test_client()
    assert client.get("/get").get_data(as_text=True) == "none new=False"
    with pytest.raises(RuntimeError, match="secret key"):
        client.get("/set")


def test_empty_sessions_answer_as_in_flask():
    """Read: ``Vary: Cookie`` and no cookie; untouched: neither; emptied: the cookie deleted."""
    client = session_app().test_client()
    read = client.get("/get")
    assert "Cookie" in read.headers["Vary"]
    assert "Set-Cookie" not in read.headers
    untouched = client.get("/untouched")
    assert "Vary" not in untouched.headers
    assert "Set-Cookie" not in untouched.headers
    client.get("/set")
    cleared = client.get("/clear")
    assert cleared.headers["Set-Cookie"].startswith("session=;")
    assert client.get_cookie("session") is None
    assert client.get("/get").get_data(as_text=True) == "none new=False"


def test_a_read_session_adds_cookie_to_a_vary_the_view_set():
    app = session_app()

    @app.get("/varied")
    def varied() -> tuple[str, dict[str, str]]:
        session.get("value")
        return "varied", {"Vary": "Origin"}

    response = app.test_client().get("/varied")
    assert response.headers.getlist("Vary") == ["Origin, Cookie"]
