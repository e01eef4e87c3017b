"""Outgoing mail: build an :class:`email.message.EmailMessage`, deliver it by ``MAIL_URL``.

Backends (the scheme of ``MAIL_URL``), like Django's email backends:

``console://``
    print the whole message to stdout (the development default);
``file://<directory>``
    write one ``.eml`` file per message (``file://`` alone: ``instance/mail/``);
``memory://``
    append to ``app.extensions["mail_outbox"]`` (the test suite's default);
``smtp://user:password@host:587``
    SMTP with STARTTLS (required: a server that doesn't offer it is refused);
    ``?starttls=0`` for a loopback relay only;
``smtps://user:password@host:465``
    SMTP over TLS from the first byte (RFC 8314 prefers it).

User name and password are percent-decoded from the URL.  ``MAIL_TIMEOUT``
(seconds) bounds every SMTP connection.  Views never call :func:`deliver`
directly: they call :func:`send_mail`, which hands the message to the job
queue (:mod:`app.jobs`), so a slow or failing SMTP server never holds a request.
"""

from __future__ import annotations

import smtplib
import ssl
import sys
import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from flask import Flask, current_app, render_template

from app.config import INSTANCE_PATH

#: Schemes of ``MAIL_URL`` that really send mail (what production should use).
SENDING_SCHEMES = ("smtp", "smtps")
SCHEMES = ("console", "file", "memory", *SENDING_SCHEMES)


class MailError(RuntimeError):
    """``MAIL_URL`` is malformed, or the SMTP server refused the message."""


def check_mail_url(url: str) -> str:
    """The scheme of ``url`` (``MAIL_URL``) after checking it.

    :raises MailError: for an unknown scheme or an SMTP URL without a host.
    """
    parts = urlsplit(url or "")
    if parts.scheme not in SCHEMES:
        raise MailError(f"MAIL_URL must start with one of {', '.join(SCHEMES)}://, got {url!r}")
    if parts.scheme in SENDING_SCHEMES and not parts.hostname:
        raise MailError(
            f"MAIL_URL {parts.scheme}:// needs a host, e.g. smtp://mail.example.com:587"
        )
    return parts.scheme


def build_message(to: str, subject: str, template: str, **context: Any) -> EmailMessage:
    """A plain-text message to ``to`` from ``MAIL_FROM``, its body rendered from ``template``.

    :param to: one address.
    :param subject: the subject line (the site's name is put in front).
    :param template: a Jinja template under ``templates/mail/`` (plain text, autoescape off).
    :param context: the template's variables.
    :returns: a message with ``Date`` and ``Message-ID`` set.
    """
    config = current_app.config
    message = EmailMessage()
    message["From"] = config["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = f"[{config['SITE_NAME']}] {subject}"
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=_domain(config["MAIL_FROM"]))
    message.set_content(render_template(template, site_name=config["SITE_NAME"], **context))
    return message


def _domain(address: str) -> str:
    return address.rpartition("@")[2].strip(">") or "localhost"


def deliver(message: EmailMessage, app: Flask | None = None) -> None:
    """Deliver ``message`` now through the backend ``MAIL_URL`` names (in a worker, or in tests).

    :raises MailError: for a bad ``MAIL_URL``.
    :raises smtplib.SMTPException, OSError: when the SMTP server fails (the job is retried).
    """
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    url = str(app.config["MAIL_URL"])
    scheme = check_mail_url(url)
    if scheme == "console":
        sys.stdout.write(f"{message.as_string()}\n{'-' * 72}\n")
        sys.stdout.flush()
    elif scheme == "memory":
        app.extensions.setdefault("mail_outbox", []).append(message)
    elif scheme == "file":
        _write_file(message, url)
    else:
        _send_smtp(message, url, float(app.config["MAIL_TIMEOUT"]))


def _write_file(message: EmailMessage, url: str) -> None:
    raw = url.removeprefix("file://")
    directory = Path(raw) if raw else INSTANCE_PATH / "mail"
    directory.mkdir(parents=True, exist_ok=True)
    path = (
        directory / f"{formatdate(usegmt=True)[5:25].replace(' ', '-')}-{uuid.uuid4().hex[:8]}.eml"
    )
    path.write_bytes(bytes(message))


def _send_smtp(message: EmailMessage, url: str, timeout: float) -> None:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    context = ssl.create_default_context()
    if parts.scheme == "smtps":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            parts.hostname or "", parts.port or 465, timeout=timeout, context=context
        )
    else:
        smtp = smtplib.SMTP(parts.hostname or "", parts.port or 587, timeout=timeout)
    with smtp:
        if parts.scheme == "smtp" and query.get("starttls", ["1"])[0] not in {"0", "false", "no"}:
            smtp.ehlo()
            if not smtp.has_extn("starttls"):
                raise MailError(f"{parts.hostname} does not offer STARTTLS; refusing plain text")
            smtp.starttls(context=context)
            smtp.ehlo()
        if parts.username:
            smtp.login(unquote(parts.username), unquote(parts.password or ""))
        smtp.send_message(message)


def send_mail(to: str, subject: str, template: str, **context: Any) -> None:
    """Build a message (:func:`build_message`) and queue its delivery (:func:`app.jobs.enqueue`).

    Returns as soon as the message is queued; without Redis (``JOBS_REDIS_URL``
    ``memory://``) it is delivered in this process before returning.
    """
    from app.jobs import enqueue

    message = build_message(to, subject, template, **context)
    enqueue("app.jobs.deliver_mail", message.as_string())
