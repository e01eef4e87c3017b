"""A software WebAuthn authenticator and the client side of the ceremonies, for the tests.

:class:`SoftAuthenticator` holds an EC P-256 key (``cryptography``) and
answers ``navigator.credentials.create()`` / ``.get()`` as a browser would
hand them to the site: ``clientDataJSON``, a "none" ``attestationObject``
(CBOR, with ``cbor2``, the library ``webauthn`` itself uses) and
``authenticatorData`` laid out as in W3C WebAuthn Level 2, section 6.1; the
assertion is an ECDSA-SHA256 signature over ``authenticatorData ||
SHA-256(clientDataJSON)`` (section 6.3.3).  Every field can be bent for
the hostile tests (origin, RP ID, flags, counter).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import struct
from dataclasses import dataclass, field

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from flask.testing import FlaskClient

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40
PASSKEY_CSRF = re.compile(r'data-passkey=.*?name="csrf_token" type="hidden" value="([^"]+)"', re.S)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class SoftAuthenticator:
    """One passkey on a software authenticator (a platform authenticator with user verification)."""

    origin: str = "http://localhost"
    rp_id: str = "localhost"
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    credential_id: bytes = field(default_factory=lambda: secrets.token_bytes(16))
    sign_count: int = 0
    user_handle: bytes | None = None
    counts: bool = True  # False: a synced passkey that always reports 0

    def cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def auth_data(self, rp_id: str, flags: int, count: int, attested: bool = False) -> bytes:
        data = hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", count)
        if attested:
            data += bytes(16) + struct.pack(">H", len(self.credential_id)) + self.credential_id
            data += self.cose_key()
        return data

    def client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps(
            {
                "type": kind,
                "challenge": challenge,
                "origin": origin or self.origin,
                "crossOrigin": False,
            }
        ).encode()

    def create(
        self,
        options: dict,
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        flags: int = UP | UV | AT,
    ) -> dict:
        """The ``RegistrationResponseJSON`` answering ``options`` (creation options JSON)."""
        self.user_handle = unb64url(options["user"]["id"])
        client_data = self.client_data("webauthn.create", options["challenge"], origin)
        auth_data = self.auth_data(
            rp_id or options["rp"]["id"], flags, self.sign_count, attested=True
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": b64url(self.credential_id),
            "rawId": b64url(self.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": ["internal", "made-up"],
            },
        }

    def get(
        self,
        options: dict,
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        flags: int = UP | UV,
        count: int | None = None,
        user_handle: bytes | None = None,
    ) -> dict:
        """The ``AuthenticationResponseJSON`` for ``options``; the counter moves on by one."""
        if count is None:
            if self.counts:
                self.sign_count += 1
            count = self.sign_count
        client_data = self.client_data("webauthn.get", options["challenge"], origin)
        auth_data = self.auth_data(rp_id or options["rpId"], flags, count)
        signature = self.key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        handle = user_handle or self.user_handle
        return {
            "id": b64url(self.credential_id),
            "rawId": b64url(self.credential_id),
            "type": "public-key",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": b64url(handle) if handle else None,
            },
        }


# --- the page's script, as the tests' client ------------------------------------------------


def page_csrf(client: FlaskClient, path: str) -> str:
    """The CSRF token of the passkey block on the page at ``path`` (what the script sends)."""
    page = client.get(path).get_data(as_text=True)
    match = PASSKEY_CSRF.search(page)
    assert match, f"no passkey block on {path}"
    return match.group(1)


def post_json(client: FlaskClient, path: str, body, csrf: str, **kwargs):
    """POST ``body`` as JSON with the CSRF header, as the script does."""
    headers = {"X-CSRFToken": csrf, "Accept": "application/json"}
    if isinstance(body, bytes | str):
        return client.post(
            path, data=body, headers=headers, content_type="application/json", **kwargs
        )
    return client.post(path, json=body, headers=headers, **kwargs)


def add_passkey(
    client: FlaskClient,
    authenticator: SoftAuthenticator,
    name: str = "Phone",
    password: str | None = None,
    **create,
):
    """Add a passkey on the passkeys page; the answer of the final POST."""
    from tests.test_auth import PASSWORD

    csrf = page_csrf(client, "/account/passkeys")
    options = post_json(
        client, "/account/passkeys/options", {"password": password or PASSWORD}, csrf
    )
    assert options.status_code == 200, options.get_data(as_text=True)
    credential = authenticator.create(options.get_json(), **create)
    return post_json(client, "/account/passkeys", {"credential": credential, "name": name}, csrf)


def passkey_sign_in(
    client: FlaskClient,
    authenticator: SoftAuthenticator,
    query: str = "",
    remember: bool = False,
    **get,
):
    """Sign in without a password, from the sign-in page; the answer of the final POST."""
    csrf = page_csrf(client, "/sign-in")
    options = post_json(client, "/sign-in/passkey/options", {}, csrf)
    assert options.status_code == 200, options.get_data(as_text=True)
    credential = authenticator.get(options.get_json(), **get)
    return post_json(
        client, f"/sign-in/passkey{query}", {"credential": credential, "remember": remember}, csrf
    )


def second_step(client: FlaskClient, authenticator: SoftAuthenticator, query: str = "", **get):
    """Finish a password sign-in with a passkey, on the second-step page."""
    csrf = page_csrf(client, "/sign-in/two-factor")
    options = post_json(client, "/sign-in/two-factor/passkey/options", {}, csrf)
    assert options.status_code == 200, options.get_data(as_text=True)
    credential = authenticator.get(options.get_json(), **get)
    return post_json(
        client, f"/sign-in/two-factor/passkey{query}", {"credential": credential}, csrf
    )
