"""Registration without user enumeration, confirmation and notice mails.

Registration always answers "check your inbox" (:data:`CHECK_INBOX`) and
signs nobody in, whether or not the address has an account (OWASP ASVS 4.0
2.5.x; Authentication Cheat Sheet, "Authentication and Error Messages"):

* a new address gets an unconfirmed account and a confirmation link
  (:func:`app.auth.tokens.make_token`, ``EMAIL_CONFIRM_MAX_AGE``);
* an address that has an account gets no second account: its owner is told
  by mail that someone tried to register with it, with a link to reset the
  password.

An unconfirmed account can't sign in: the correct password gets "confirm your
address first" and a fresh link, so nobody can use an address they don't
read.  A password reset also confirms the address (the link proves the same),
which ends an account someone else "pre-registered" with a victim's address.
The request only hashes the password and queues :func:`registration_job`
for either case, so the two answers take as long; the worker does the rest.
"""

from __future__ import annotations

import logging

from flask import url_for
from sqlalchemy.exc import IntegrityError

from app.auth.login import account_tag, find_live_user, password_hasher
from app.auth.security_log import log_event
from app.auth.tokens import make_token
from app.extensions import db
from app.mail import send_mail
from app.models.user import User
from flask_bastion import client_address

logger = logging.getLogger("bastion.auth")

CHECK_INBOX = (
    "Check your inbox: we've sent a message to the address you gave. "
    "Follow its link to finish creating your account."
)
UNCONFIRMED = (
    "Please confirm your email address first: we've sent you a new link. Follow it, then sign in."
)

#: kind of notice -> subject (the body is ``templates/mail/<kind>.txt``).
NOTICE_SUBJECTS = {
    "password_changed": "Your password was changed",  # nosec B105 - a subject line
    "password_reset": "Your password was reset",  # nosec B105 - a subject line
    "two_factor_disabled": "Two-factor sign-in was turned off",
    "email_changed": "Your email address was changed",
    "passkey_added": "A passkey was added to your account",
    "passkey_removed": "A passkey was removed from your account",
}


def register_account(email: str, display_name: str, password: str) -> None:
    """Start a registration for normalised ``email``; the caller answers :data:`CHECK_INBOX`.

    Hashes the password and queues :func:`registration_job`, the same work
    whether or not the address is taken (the worker looks it up).

    :param email: normalised (:func:`app.forms.normalize_email`).
    :param display_name: already cleaned by the form.
    :param password: the new password (already checked by the form's rules).
    """
    from flask import request

    from app.jobs import enqueue

    enqueue(
        "app.auth.confirmation.registration_job",
        email,
        display_name,
        password_hasher().hash(password),
        request.url_root,
        client_address(),
        request.headers.get("User-Agent", "")[:512],
    )


def registration_job(
    email: str, display_name: str, password_hash: str, url_root: str, address: str, user_agent: str
) -> None:
    """Job: make the unconfirmed account and mail its link, or tell the address's owner.

    :param password_hash: the argon2 hash (the password itself never reaches Redis).
    :param url_root: the request's ``url_root`` (its host passed ``TRUSTED_HOSTS``).
    :param address: the client's address and ``user_agent`` its ``User-Agent``,
        for the log and the security log.
    """
    from app.jobs import job_app

    app = job_app()
    environ = {"REMOTE_ADDR": address, "HTTP_USER_AGENT": user_agent}
    with app.test_request_context("/", base_url=url_root, environ_base=environ):
        existing = find_live_user(email)
        if existing is None:
            user = User(email=email, display_name=display_name, password_hash=password_hash)
            db.session.add(user)
            try:
                db.session.commit()
            except IntegrityError:  # the same address registered a moment ago
                db.session.rollback()
                existing = find_live_user(email)
            else:
                log_event(user.id, "registered")
                logger.info("account %s registered from %s", user.id, address)
                send_confirmation(user)
                return
        if existing is None:  # pragma: no cover - deleted between the two queries
            return
        logger.info(
            "registration with the address of account %s (tag %s) from %s",
            existing.id,
            account_tag(email),
            address,
        )
        send_mail(
            existing.email,
            "Someone tried to register with your address",
            "mail/already_registered.txt",
            user=existing,
            sign_in_url=url_for("auth.sign_in", _external=True),
            reset_url=url_for("auth.forgot_password", _external=True),
        )


def send_confirmation(user: User) -> None:
    """Mail ``user`` a link that confirms the address (a new token each time)."""
    send_mail(
        user.email,
        "Confirm your email address",
        "mail/confirm_email.txt",
        user=user,
        url=url_for("auth.confirm_email", token=make_token(user, "confirm"), _external=True),
    )


def send_reset_link(email: str, url_root: str, address: str, user_agent: str) -> None:
    """Job: mail a password-reset link to ``email`` if it names a live, enabled account.

    Queued by ``/forgot-password`` for every address, known or not, so the
    request does the same work either way (its timing tells nothing); the
    lookup, the token and the security-log entry happen here, in the worker.

    :param email: normalised address asked for.
    :param url_root: the request's ``url_root`` (its host passed ``TRUSTED_HOSTS``),
        which the link is built on.
    :param address: the asking client's address, for the security log.
    :param user_agent: its ``User-Agent``, for the security log's device label.
    :raises smtplib.SMTPException, OSError: when delivery fails (the job is retried).
    """
    from app.jobs import job_app
    from app.mail import build_message, deliver

    app = job_app()
    environ = {"REMOTE_ADDR": address, "HTTP_USER_AGENT": user_agent}
    with app.test_request_context("/", base_url=url_root, environ_base=environ):
        user = find_live_user(email)
        if user is None or user.is_disabled:
            return
        message = build_message(
            user.email,
            "Reset your password",
            "mail/reset_password.txt",
            user=user,
            url=url_for("auth.reset_password", token=make_token(user, "reset"), _external=True),
            minutes=app.config["PASSWORD_RESET_MAX_AGE"] // 60,
        )
        deliver(message, app)
        log_event(user.id, "password_reset_requested")


def external_url(endpoint: str, **values: object) -> str | None:
    """An absolute URL of ``endpoint``, or ``None`` where none can be built.

    In a request (or a job's request context) the URL uses the request's
    host; from the command line only when ``SERVER_NAME`` is set.
    """
    try:
        return url_for(endpoint, _external=True, **values)
    except RuntimeError:  # no request and no SERVER_NAME: the mail goes without the link
        return None


def send_notice(user: User, kind: str, to: str | None = None, **context: object) -> None:
    """Mail ``user`` a security notice of ``kind`` (a key of :data:`NOTICE_SUBJECTS`).

    The body is ``templates/mail/<kind>.txt``; it gets ``user``, ``reset_url``
    and ``contact_url`` (``None`` from the command line without
    ``SERVER_NAME``) and ``context``.

    :param to: the address (default: the account's own).
    :raises KeyError: for another kind (a programming error).
    """
    subject = NOTICE_SUBJECTS[kind]
    send_mail(
        to or user.email,
        subject,
        f"mail/{kind}.txt",
        user=user,
        reset_url=external_url("auth.forgot_password"),
        contact_url=external_url("main.contact"),
        **context,
    )
