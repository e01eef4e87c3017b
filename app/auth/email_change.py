"""Changing an account's email address, proved by a link to the new address.

The request (``/account/email``: the new address and the current password)
answers the same "check the new address's inbox" (:data:`CHANGE_SENT`)
whether or not the new address is free, and only queues
:func:`email_change_job`; the worker looks the address up, so the answer
and its timing tell nothing about other accounts (OWASP ASVS 4.0 2.5.x; the
Authentication Cheat Sheet's "Authentication and Error Messages"):

* a free address gets a link (:func:`app.auth.tokens.make_token`, purpose
  ``"email"``, ``EMAIL_CHANGE_MAX_AGE`` seconds) that carries the new address;
  nothing is stored until it is followed (no pending table);
* an address that has an account gets a mail saying someone tried to move
  another account to it; nothing changes.

Following the link (a button: a POST, so link scanners change nothing)
moves the account (:func:`apply_email_change`): the address is changed and
counted as confirmed, the change is logged, and the *old* address is told
(:data:`app.auth.confirmation.NOTICE_SUBJECTS` ``"email_changed"``).  The
token names the account's fingerprint, which includes the address, so it
works once; a password change kills it too.  Two accounts racing for one
address meet the database's unique index: the loser gets
:class:`AddressTaken`, never a 500.
"""

from __future__ import annotations

import logging

from flask import request, url_for
from sqlalchemy.exc import IntegrityError

from app.auth.confirmation import send_notice
from app.auth.login import account_tag, find_live_user
from app.auth.security_log import EVENT_LABELS, log_event
from app.auth.tokens import make_token
from app.extensions import db
from app.mail import send_mail
from app.models.base import utcnow
from app.models.user import User
from flask_bastion import client_address

logger = logging.getLogger("bastion.auth")

CHANGE_SENT = (
    "Check the inbox of the new address: we've sent it a message. Follow its link to finish "
    "the change; until then your address stays as it is."
)
ADDRESS_TAKEN = (
    "That address now belongs to another account, so your address was not changed. "
    "Choose another one on your account page."
)

EVENT_LABELS.update(
    {
        "email_change_requested": "Email address change asked for",
        "email_changed": "Email address changed",
    }
)


class AddressTaken(Exception):
    """The new address belongs to another live account (found by the unique index)."""


def mask_email(address: str) -> str:
    """``"n***@example.com"`` for ``"nina@example.com"``: enough to recognise, not to reuse.

    :param address: a normalised address (``local@domain``).
    """
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}" if local else f"***@{domain}"


def request_email_change(user: User, new_email: str) -> None:
    """Queue :func:`email_change_job` for ``user`` and normalised ``new_email``.

    The same work whether or not the address is taken; the caller answers
    :data:`CHANGE_SENT`.
    """
    from app.jobs import enqueue

    enqueue(
        "app.auth.email_change.email_change_job",
        user.id,
        new_email,
        request.url_root,
        client_address(),
        request.headers.get("User-Agent", "")[:512],
    )
    logger.info(
        "account %s asked to move to tag %s from %s",
        user.id,
        account_tag(new_email),
        client_address(),
    )


def email_change_job(
    user_id: int, new_email: str, url_root: str, address: str, user_agent: str
) -> None:
    """Job: mail the new address its link, or tell its owner that it is taken.

    :param user_id: the account that asked.
    :param new_email: the normalised new address.
    :param url_root: the request's ``url_root`` (its host passed ``TRUSTED_HOSTS``).
    :param address: the asking client's address, and ``user_agent`` its
        ``User-Agent``: for the security log.
    :raises smtplib.SMTPException, OSError: when delivery fails (the job is retried).
    """
    from flask import current_app

    from app.jobs import job_app

    app = job_app()
    environ = {"REMOTE_ADDR": address, "HTTP_USER_AGENT": user_agent}
    with app.test_request_context("/", base_url=url_root, environ_base=environ):
        user = db.session.get(User, user_id)
        if user is None or not user.is_active:
            return
        log_event(user.id, "email_change_requested", f"to {mask_email(new_email)}")
        owner = find_live_user(new_email)
        if owner is not None:
            logger.info("account %s asked to move to the address of another account", user.id)
            send_mail(
                new_email,
                "Someone tried to move an account to your address",
                "mail/email_taken.txt",
                user=owner,
                sign_in_url=url_for("auth.sign_in", _external=True),
            )
            return
        token = make_token(user, "email", new_email)
        send_mail(
            new_email,
            "Confirm your new email address",
            "mail/confirm_email_change.txt",
            user=user,
            url=url_for("auth.confirm_email_change", token=token, _external=True),
            hours=int(current_app.config["EMAIL_CHANGE_MAX_AGE"]) // 3600,
        )


def apply_email_change(user: User, new_email: str) -> str:
    """Move ``user`` to ``new_email`` (confirmed now), log it and tell the old address.

    :returns: the old address.
    :raises AddressTaken: when another live account has ``new_email`` (the
        unique index refused it; the transaction is rolled back).
    """
    old_email = user.email
    user.email = new_email
    user.email_confirmed_at = utcnow()  # the link proved it; also ends every other link
    log_event(
        user.id,
        "email_changed",
        f"from {mask_email(old_email)} to {mask_email(new_email)}",
        commit=False,
    )
    try:
        db.session.commit()
    except IntegrityError:  # another account took the address first (a race, or just earlier)
        db.session.rollback()
        raise AddressTaken(new_email) from None
    send_notice(user, "email_changed", to=old_email, new_address=mask_email(new_email))
    logger.info("account %s changed its address", user.id)
    return old_email
