"""Flask-Login glue: loading the user, the sign-in redirect, sign-in and sign-out."""

from __future__ import annotations

import hashlib
import logging

from flask import Flask, current_app, flash, g, redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user, user_loaded_from_cookie
from sqlalchemy import select
from werkzeug.http import dump_cookie
from werkzeug.wrappers import Response

from app.auth.new_device import note_sign_in
from app.auth.user_sessions import find_session, is_live, open_session, revoke_session, touch
from app.extensions import db, login_manager
from app.models.user import User
from app.models.user_session import UserSession
from app.outages import OUTAGE_ERRORS, note_outage, outage_response
from flask_bastion.errors import error_response, wants_json

logger = logging.getLogger("bastion.auth")


def account_tag(email: str) -> str:
    """A stable, non-reversible tag of an email address for logs and rate-limit keys."""
    return hashlib.sha256(email.encode("utf-8")).hexdigest()[:16]


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """Load the account named in the session or remember-me cookie.

    ``user_id`` is ``"<id>:<session_version>:<session token>"`` (see
    :mod:`app.auth.user_sessions`).  One query finds the session row and its
    owner; ``last_seen_at`` is written at most once a minute.  Returns
    ``None`` (signed out) for a malformed id, an unknown, revoked or idle
    session, another account's session, a session made before the last
    password change, a deleted or disabled account, and also while the
    database is unreachable: the visitor is treated as signed out for that
    request (less access, never more), so the rate-limit key and the error
    page don't fail a second time (see :mod:`app.outages`).
    """
    raw_id, version, token = [*user_id.split(":", 2), "", ""][:3]
    if not (raw_id.isdigit() and version.isdigit() and token) or g.get("database_unavailable"):
        return None
    try:
        record = find_session(token)
        user = record.user if record is not None else None
        if (
            user is None
            or user.id != int(raw_id)
            or user.session_version != int(version)
            or not user.is_active
            or not is_live(record)  # type: ignore[arg-type]
        ):
            return None
        touch(record)  # type: ignore[arg-type]
    except OUTAGE_ERRORS as error:
        note_outage(error, "user not loaded: database unavailable")
        return None
    user.session_token = token
    g.user_session = record
    return user


@login_manager.unauthorized_handler
def unauthorized() -> Response:
    """Browsers go to the sign-in page (with a local ``next``); API clients get a 401.

    While the database is unreachable the visitor may well be signed in:
    the answer is then the 503 page, not a sign-in form that can't work.
    """
    if g.get("database_unavailable"):
        return outage_response()
    if wants_json():
        return error_response(401, "Unauthorized", "Sign in to use this resource.")
    flash("Please sign in to see that page.", "info")
    next_path = request.full_path.rstrip("?")
    return redirect(url_for("auth.sign_in", next=next_path))


def sign_in_failed(response: Response) -> bool:
    """``deduct_when`` of the per-account sign-in limits (password, code, passkey steps):
    count the attempt unless it signed someone in.

    Decided by the view (``g.sign_in_succeeded``), not by the redirect's status
    code, which Flask is changing from 302 to 303.
    """
    return not g.get("sign_in_succeeded", False)


def start_session(user: User, remember: bool = False) -> UserSession:
    """Sign ``user`` in on a fresh session (no session fixation: old contents are dropped).

    Makes a server-side session row (committed) whose token goes into the
    signed session cookie and, with ``remember``, the remember-me cookie.

    Every way of signing in comes here, so here the browser is checked
    against the ones the account knows: a new one gets the owner a mail
    (:func:`app.auth.new_device.note_sign_in`).

    :returns: the new row.
    """
    renewed = current_user.is_authenticated and current_user.id == user.id
    session.clear()
    record, token = open_session(user)
    user.session_token = token
    g.user_session = record
    login_user(user, remember=remember)
    note_sign_in(user, record, renewed=renewed)
    return record


def current_session() -> UserSession | None:
    """The server-side session row of this request's signed-in user, if any."""
    return g.get("user_session")


def end_session() -> None:
    """Sign out: revoke the session row, drop the session, delete the remember-me cookie.

    The row is revoked first (committed), so a copy of the session cookie or
    of the remember-me cookie is refused from the next request on, in every
    process.  The session is cleared before ``logout_user``, which leaves the
    mark that makes Flask-Login delete the remember-me cookie in the
    response (whenever the request carries that cookie, whatever
    ``SESSION_PROTECTION`` is); clearing after it would drop that mark
    (OWASP ASVS 4.0 3.3.1).
    """
    record = current_session()
    if record is not None and revoke_session(record):
        db.session.commit()
    g.pop("user_session", None)
    session.clear()
    logout_user()


def secure_cookie_deletion(response: Response) -> Response:
    """Send Flask-Login's deletion of the remember-me cookie with the cookie's own flags.

    Flask-Login deletes it with only its path and domain; the deletion then
    lacks ``Secure``, ``HttpOnly`` and ``SameSite``, which scanners (the MDN
    HTTP Observatory) count as an insecure cookie.  The replacement carries
    ``REMEMBER_COOKIE_SECURE``, ``_HTTPONLY`` and ``_SAMESITE``.
    """
    config = current_app.config
    name = config["REMEMBER_COOKIE_NAME"]
    cookies = response.headers.getlist("Set-Cookie")
    if not any(cookie.startswith(f"{name}=;") for cookie in cookies):
        return response
    deletion = dump_cookie(
        name,
        "",
        max_age=0,
        expires=0,
        path=config.get("REMEMBER_COOKIE_PATH", "/"),
        domain=config.get("REMEMBER_COOKIE_DOMAIN"),
        secure=bool(config.get("REMEMBER_COOKIE_SECURE")),
        httponly=bool(config.get("REMEMBER_COOKIE_HTTPONLY", True)),
        samesite=config.get("REMEMBER_COOKIE_SAMESITE"),
    )
    response.headers.setlist(
        "Set-Cookie", [deletion if c.startswith(f"{name}=;") else c for c in cookies]
    )
    return response


def keep_restored_session(sender: Flask, user: User) -> None:
    """``user_loaded_from_cookie``: make the session the remember-me cookie restored whole.

    Flask-Login restores the user from the cookie without the session's
    identifier, so with ``SESSION_PROTECTION = "strong"`` the next request
    fails its check, empties the session and deletes the cookie: "Keep me
    signed in" lasted one request (maxcountryman/flask-login#685).  Signing
    the user in again with Flask-Login's public ``login_user`` (not fresh; the
    remember-me cookie is left as it is, so its lifetime is not extended)
    stores the identifier; the server-side session record stays the same.
    """
    login_user(user, remember=False, fresh=False)


def find_live_user(email: str) -> User | None:
    """The live (not deleted) account with this normalised email, if any."""
    return db.session.scalar(select(User).where(User.email == email))


def init_login(app: Flask) -> None:
    """Bind Flask-Login to ``app`` with Bastion's settings."""
    # Registered first so that it runs after Flask-Login's own after_request
    # (Flask runs them in reverse order), which writes the deletion.
    app.after_request(secure_cookie_deletion)
    login_manager.init_app(app)
    login_manager.session_protection = app.config["SESSION_PROTECTION"]
    user_loaded_from_cookie.connect(keep_restored_session, app)
    login_manager.login_view = "auth.sign_in"


def password_hasher():  # type: ignore[no-untyped-def]
    """The app's :class:`~flask_bastion.passwords.PasswordHasher`."""
    return current_app.extensions["passwords"]
