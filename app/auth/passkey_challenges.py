"""The relying party of passkeys: its id, name and origins, its challenges, its refusals.

* **RP ID and origin** come from ``WEBAUTHN_RP_ID`` / ``WEBAUTHN_ORIGIN``,
  or else from the request's host and scheme (after ``ProxyFix``; the host
  is one of ``TRUSTED_HOSTS``).  Browsers refuse an IP address as RP ID.
* **Challenges** are 32 random bytes made on the server (W3C WebAuthn
  Level 2, section 13.4.3), kept in the (signed) session with their
  purpose, their account and the time they were made, good for
  :data:`CHALLENGE_SECONDS`, and popped by the first answer, right or wrong.
  The session cookie is the client's, so :mod:`app.auth.passkeys` also
  refuses a challenge made before the passkey's last use.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, request, session

from app.models.passkey import CREDENTIAL_ID_MAX_BYTES, Passkey

#: Seconds a challenge stays good (also the browser's timeout hint).
CHALLENGE_SECONDS = 5 * 60
_CHALLENGE = "webauthn_challenge"
#: The ceremonies a challenge is made for.
REGISTER, SIGN_IN, SECOND_STEP = "register", "sign_in", "second_step"


class PasskeyError(ValueError):
    """A registration or sign-in answer that is refused.

    :param message: what the user is told (plain, no detail of the check).
    :param kind: why, for the logs: ``"expired"`` (no challenge, or a spent
        or stale one), ``"malformed"``, ``"unknown"`` (no such credential),
        ``"other_account"``, ``"invalid"`` (a check of the spec failed),
        ``"clone"`` (the counter went back), ``"duplicate"``, ``"too_many"``.
    :param passkey: the stored passkey the answer named, when known (its
        owner's security log gets the refusal).
    """

    def __init__(self, message: str, kind: str, passkey: Passkey | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.passkey = passkey


EXPIRED = "This passkey request has expired or was already used. Please try again."
NOT_VERIFIED = "Your passkey could not be verified. Please try again."
UNKNOWN = "This passkey is not registered on this site (it may have been removed)."


# --- the relying party ------------------------------------------------------------------


def rp_id() -> str:
    """``WEBAUTHN_RP_ID``, or the request's host name without its port (lower case)."""
    configured = current_app.config.get("WEBAUTHN_RP_ID")
    if configured:
        return str(configured).strip().lower()
    return (urlsplit(f"//{request.host}").hostname or "").lower()


def rp_name() -> str:
    """``WEBAUTHN_RP_NAME``, or ``SITE_NAME``: what the authenticator shows."""
    config = current_app.config
    return str(config.get("WEBAUTHN_RP_NAME") or config.get("SITE_NAME") or "Bastion")


def expected_origins() -> list[str]:
    """``WEBAUTHN_ORIGIN`` (comma-separated), or this request's ``scheme://host[:port]``."""
    configured = current_app.config.get("WEBAUTHN_ORIGIN")
    if configured:
        items = configured if isinstance(configured, list | tuple) else str(configured).split(",")
        return [str(item).strip().rstrip("/") for item in items if str(item).strip()]
    return [f"{request.scheme}://{request.host}"]


# --- challenges -------------------------------------------------------------------------


def b64(data: bytes) -> str:
    """``data`` in base64url without padding (how WebAuthn's JSON carries bytes)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: Any) -> bytes:
    """Bytes of a base64url string (padding optional).

    :raises PasskeyError: ``kind="malformed"`` for anything else.
    """
    if not isinstance(text, str) or len(text) > 4 * CREDENTIAL_ID_MAX_BYTES:
        raise PasskeyError(NOT_VERIFIED, "malformed")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise PasskeyError(NOT_VERIFIED, "malformed") from None


def issue_challenge(purpose: str, **extra: Any) -> bytes:
    """Make a challenge for ``purpose`` and keep it in the session (replacing any other).

    :param extra: more to keep with it (the account id, the new user handle).
    :returns: the challenge's 32 bytes.
    """
    challenge = secrets.token_bytes(32)
    session[_CHALLENGE] = {
        "purpose": purpose,
        "challenge": b64(challenge),
        "issued": time.time(),
        **extra,
    }
    return challenge


def take_challenge(purpose: str) -> dict[str, Any]:
    """Pop the session's challenge; it must be for ``purpose`` and younger than the limit.

    :raises PasskeyError: ``kind="expired"`` otherwise.
    """
    record = session.pop(_CHALLENGE, None)
    if (
        not isinstance(record, dict)
        or record.get("purpose") != purpose
        or not isinstance(record.get("issued"), int | float)
        or record["issued"] + CHALLENGE_SECONDS < time.time()
    ):
        raise PasskeyError(EXPIRED, "expired")
    record["challenge"] = unb64(record.get("challenge"))
    return record
