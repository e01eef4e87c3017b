"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    """A TCP port nothing listens on at the moment (on 127.0.0.1)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Inbox:
    """aiosmtpd handler: every message it accepts, parsed, with the envelope and the login."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.logins: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Keep the message (aiosmtpd's handler hook)."""
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        self.messages.append(message)  # type: ignore[arg-type]
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


#: The only login the test server accepts.
LOGIN = ("bastion", "s3cret pass")


@contextmanager
def smtp_server(tls: tuple[Path, Path] | None = None) -> Iterator[tuple[Inbox, int]]:
    """Run an SMTP server on 127.0.0.1 that accepts only :data:`LOGIN`; yields (inbox, port).

    :param tls: ``(certificate, key)`` files: the server offers STARTTLS and
        requires it before anything else.
    """
    user, password = LOGIN
    inbox = Inbox()

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            user.encode(),
            password.encode(),
        )
        if ok:
            inbox.logins.append(user)
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535

    port = free_port()
    options: dict[str, Any] = {}
    if tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*tls)
        options = {"tls_context": context, "require_starttls": True}
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticate,
        auth_require_tls=False,
        **options,
    )
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()
