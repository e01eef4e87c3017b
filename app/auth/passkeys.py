"""Passkeys (WebAuthn): the relying party's side of registration and sign-in.

The ceremonies of the W3C Web Authentication spec (Level 2, sections 7.1
and 7.2) are checked by PyPI ``webauthn`` (py_webauthn, Duo Labs); this
module adds what the spec leaves to the relying party (its id, origins and
challenges are in :mod:`app.auth.passkey_challenges`):

* **Single use**: a challenge is popped from the session by the first
  answer, but a copy of the old session cookie still holds it, so an
  assertion is also refused when its challenge was made before the
  passkey's last use (a conditional ``UPDATE``, so two racing replays can't
  both win): a challenge signs in at most once.
* **Signature counter**: a counter that does not grow (when either side is
  non-zero) means a cloned authenticator (section 6.1.1); the sign-in is
  refused and :class:`PasskeyError` says ``kind="clone"`` so it is logged.
* **User handle**: a random 32 bytes per account, never the email or id
  (section 14.6.1); a discoverable credential's ``userHandle`` must match.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import request
from sqlalchemy import or_, select, update
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from app.auth.passkey_challenges import (
    CHALLENGE_SECONDS,
    EXPIRED,
    NOT_VERIFIED,
    REGISTER,
    SIGN_IN,
    UNKNOWN,
    PasskeyError,
    b64,
    expected_origins,
    issue_challenge,
    rp_id,
    rp_name,
    take_challenge,
    unb64,
)
from app.auth.security_log import EVENT_LABELS
from app.auth.user_sessions import device_label
from app.extensions import db
from app.models.base import utcnow
from app.models.passkey import CREDENTIAL_ID_MAX_BYTES, NAME_MAX_LENGTH, Passkey
from app.models.user import User

logger = logging.getLogger("bastion.auth")

#: Passkeys one account may hold.
MAX_PASSKEYS = 20
_TRANSPORTS = frozenset(t.value for t in AuthenticatorTransport)

EVENT_LABELS.update(
    {
        "passkey_added": "Passkey added",
        "passkey_renamed": "Passkey renamed",
        "passkey_removed": "Passkey removed",
        "passkey_failed": "Passkey refused",
        "passkey_clone_suspected": "Passkey refused: its counter went back (a copied key?)",
    }
)


# --- the account's passkeys -------------------------------------------------------------


def passkeys_of(user_id: int) -> list[Passkey]:
    """The account's passkeys, oldest first."""
    return list(
        db.session.scalars(select(Passkey).where(Passkey.user_id == user_id).order_by(Passkey.id))
    )


def passkey_user_ids() -> set[int]:
    """Ids of every account with at least one passkey (one query; for the admin list)."""
    return set(db.session.scalars(select(Passkey.user_id).distinct()))


def has_passkey(user_id: int) -> bool:
    """Whether the account has at least one passkey (one indexed query)."""
    found = db.session.scalar(select(Passkey.id).where(Passkey.user_id == user_id).limit(1))
    return found is not None


def passkey_of(user_id: int, passkey_id: int) -> Passkey | None:
    """The account's passkey ``passkey_id``; ``None`` for another account's or a missing one."""
    return db.session.scalar(
        select(Passkey).where(Passkey.id == passkey_id, Passkey.user_id == user_id)
    )


def _descriptors(passkeys: list[Passkey]) -> list[PublicKeyCredentialDescriptor]:
    return [
        PublicKeyCredentialDescriptor(
            id=key.credential_id,
            transports=[AuthenticatorTransport(t) for t in key.transports.split(",") if t] or None,
        )
        for key in passkeys
    ]


def default_name(user_agent: str | None) -> str:
    """The name a new passkey gets when the user gives none: ``"Passkey (Chrome on Linux)"``."""
    return f"Passkey ({device_label(user_agent)})"[:NAME_MAX_LENGTH]


# --- registration -----------------------------------------------------------------------


def registration_options(user: User) -> str:
    """Options for ``navigator.credentials.create()`` (JSON text), with a new challenge.

    A discoverable credential (``residentKey: required``) with user
    verification (``userVerification: required``), so it also signs in
    without a password; no attestation (``none``: nothing to trust, and no
    device fingerprint); the account's passkeys are excluded, so one
    authenticator is not registered twice.

    :raises PasskeyError: ``kind="too_many"`` at :data:`MAX_PASSKEYS`.
    """
    existing = passkeys_of(user.id)
    if len(existing) >= MAX_PASSKEYS:
        raise PasskeyError(
            f"You have {MAX_PASSKEYS} passkeys, the most an account can have. Remove one first.",
            "too_many",
        )
    handle = existing[0].user_handle if existing else secrets.token_bytes(32)
    challenge = issue_challenge(REGISTER, user=user.id, handle=b64(handle))
    options = generate_registration_options(
        rp_id=rp_id(),
        rp_name=rp_name(),
        user_name=user.email,
        user_id=handle,
        user_display_name=user.display_name,
        challenge=challenge,
        timeout=CHALLENGE_SECONDS * 1000,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=_descriptors(existing),
    )
    return options_to_json(options)


def register_passkey(user: User, credential: Any, name: str | None) -> Passkey:
    """Check the answer of ``navigator.credentials.create()`` and store the passkey.

    :param credential: the ``RegistrationResponseJSON`` the browser sent (a dict).
    :param name: the user's name for it; empty: :func:`default_name`.
    :returns: the new row, added but not committed.
    :raises PasskeyError: for a missing, expired or spent challenge, another
        account's challenge, an answer the spec's checks refuse (origin, RP
        ID, user verification, signature...), or a passkey already stored.
    """
    record = take_challenge(REGISTER)
    if record.get("user") != user.id:
        raise PasskeyError(EXPIRED, "expired")
    if not isinstance(credential, dict):
        raise PasskeyError(NOT_VERIFIED, "malformed")
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=record["challenge"],
            expected_rp_id=rp_id(),
            expected_origin=expected_origins(),
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError, IndexError) as error:
        logger.warning("passkey registration refused for account %s: %s", user.id, error)
        raise PasskeyError(NOT_VERIFIED, "invalid") from None
    if len(verified.credential_id) > CREDENTIAL_ID_MAX_BYTES:
        raise PasskeyError(NOT_VERIFIED, "malformed")
    taken = db.session.scalar(
        select(Passkey.id).where(Passkey.credential_id == verified.credential_id)
    )
    if taken is not None:
        raise PasskeyError("This passkey is already registered.", "duplicate")
    response = credential.get("response")
    reported = response.get("transports") if isinstance(response, dict) else None
    transports = [t for t in reported if t in _TRANSPORTS] if isinstance(reported, list) else []
    passkey = Passkey(
        user_id=user.id,
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        user_handle=unb64(record.get("handle")),
        sign_count=verified.sign_count,
        transports=",".join(dict.fromkeys(transports)),
        name=(name or "").strip()[:NAME_MAX_LENGTH]
        or default_name(request.headers.get("User-Agent")),
        aaguid=verified.aaguid,
        backup_eligible=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
        backed_up=verified.credential_backed_up,
    )
    db.session.add(passkey)
    return passkey


# --- sign-in ----------------------------------------------------------------------------


def authentication_options(purpose: str, user: User | None = None) -> str:
    """Options for ``navigator.credentials.get()`` (JSON text), with a new challenge.

    :param purpose: :data:`SIGN_IN` (passwordless: no ``allowCredentials``,
        the same options for everyone, so nothing tells which accounts
        exist; user verification required, so the passkey is both factors)
        or :data:`SECOND_STEP` (after the password of ``user``: its passkeys
        are allowed; user verification preferred).
    """
    allowed = _descriptors(passkeys_of(user.id)) if user is not None else []
    challenge = issue_challenge(purpose, user=user.id if user is not None else None)
    options = generate_authentication_options(
        rp_id=rp_id(),
        challenge=challenge,
        timeout=CHALLENGE_SECONDS * 1000,
        allow_credentials=allowed,
        user_verification=UserVerificationRequirement.REQUIRED
        if purpose == SIGN_IN
        else UserVerificationRequirement.PREFERRED,
    )
    return options_to_json(options)


@dataclass(frozen=True)
class Assertion:
    """A verified sign-in answer: the passkey (updated, not committed) and whether UV was done."""

    passkey: Passkey
    user_verified: bool


def verify_assertion(purpose: str, credential: Any, user: User | None = None) -> Assertion:
    """Check the answer of ``navigator.credentials.get()``; record the use of the passkey.

    :param purpose: :data:`SIGN_IN` or :data:`SECOND_STEP` (as for the options).
    :param credential: the ``AuthenticationResponseJSON`` the browser sent.
    :param user: for :data:`SECOND_STEP`, the account that passed the
        password step: the passkey must be one of its own.
    :returns: the passkey, its counter, ``last_used_at`` and backup state
        updated by a conditional ``UPDATE`` (the caller commits).
    :raises PasskeyError: see the module's notes (``.passkey`` is the stored
        passkey the answer named, once found).
    """
    record = take_challenge(purpose)
    if user is not None and record.get("user") != user.id:
        raise PasskeyError(EXPIRED, "expired")
    if not isinstance(credential, dict):
        raise PasskeyError(NOT_VERIFIED, "malformed")
    credential_id = unb64(credential.get("rawId"))
    passkey = db.session.scalar(select(Passkey).where(Passkey.credential_id == credential_id))
    if passkey is None:
        raise PasskeyError(UNKNOWN, "unknown")
    if user is not None and passkey.user_id != user.id:
        raise PasskeyError(
            "This passkey is not one of this account's passkeys.", "other_account", passkey
        )
    response = credential.get("response")
    handle = response.get("userHandle") if isinstance(response, dict) else None
    if (handle is None and purpose == SIGN_IN) or (
        handle is not None and unb64(handle) != passkey.user_handle
    ):  # spec 7.2 step 6: a discoverable credential names its account, and it must be this one
        raise PasskeyError(NOT_VERIFIED, "invalid", passkey)
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=record["challenge"],
            expected_rp_id=rp_id(),
            expected_origin=expected_origins(),
            credential_public_key=passkey.public_key,
            credential_current_sign_count=0,  # the counter is checked below, after the signature
            require_user_verification=purpose == SIGN_IN,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError, IndexError) as error:
        logger.warning("passkey %s refused: %s", passkey.id, error)
        raise PasskeyError(NOT_VERIFIED, "invalid", passkey) from None
    issued = datetime.fromtimestamp(float(record["issued"]), UTC)
    if passkey.last_used_at is not None and passkey.last_used_at >= issued:
        raise PasskeyError(EXPIRED, "expired", passkey)  # a replay (old cookie), not a clone
    count = verified.new_sign_count
    if (count or passkey.sign_count) and count <= passkey.sign_count:
        raise PasskeyError(NOT_VERIFIED, "clone", passkey)
    now = utcnow()
    claimed = db.session.execute(
        update(Passkey)
        .where(
            Passkey.id == passkey.id,
            Passkey.sign_count == passkey.sign_count,
            or_(Passkey.last_used_at.is_(None), Passkey.last_used_at < issued),
        )
        .values(sign_count=count, last_used_at=now, backed_up=verified.credential_backed_up)
        .execution_options(synchronize_session=False)
    )
    if not claimed.rowcount:  # type: ignore[attr-defined]
        raise PasskeyError(EXPIRED, "expired", passkey)  # a spent challenge replayed, a lost race
    db.session.refresh(passkey)
    return Assertion(passkey=passkey, user_verified=verified.user_verified)
