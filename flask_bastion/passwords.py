"""Password hashing (argon2id through argon2-cffi) and the strength rule.

Hashing follows OWASP's Password Storage Cheat Sheet: argon2id, a random
salt per hash, parameters from config (``ARGON2_TIME_COST``,
``ARGON2_MEMORY_COST`` in KiB, ``ARGON2_PARALLELISM``; defaults are
argon2-cffi's, RFC 9106's second recommended option).  A hash made with
older parameters is upgraded at the next successful sign-in
(:meth:`PasswordHasher.needs_rehash`).

The strength rule follows NIST SP 800-63B section 3.1.1.2: a minimum length
(``PASSWORD_MIN_LENGTH``, default 12), at most 128 characters, no
composition rules, and refusal of common passwords and of passwords made
from the account's own email or name.
"""

from __future__ import annotations

import re
import secrets

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import Flask

MAX_LENGTH = 128

#: A short list of passwords long enough to pass the length rule that are
#: still among the most common in breach corpora.
COMMON_PASSWORDS = frozenset(
    {
        "123456789012",
        "1234567890123",
        "12345678901234",
        "123456123456",
        "111111111111",
        "000000000000",
        "password1234",
        "password12345",
        "passwordpassword",
        "qwertyuiop12",
        "qwertyuiop123",
        "qwertyuiopasdf",
        "1q2w3e4r5t6y",
        "1qaz2wsx3edc",
        "iloveyou1234",
        "letmein12345",
        "welcome12345",
        "administrator",
        "adminadmin123",
        "abcdefghijkl",
        "abc123abc123",
        "trustno1trustno1",
        "changeme1234",
        "football1234",
        "baseball1234",
        "sunshine1234",
        "princess1234",
        "superman1234",
        "monkey123456",
        "dragon123456",
    }
)


class PasswordHasher:
    """Hash and verify passwords with argon2id.

    :param time_cost: iterations.
    :param memory_cost: memory in KiB.
    :param parallelism: lanes.
    """

    def __init__(self, time_cost: int, memory_cost: int, parallelism: int) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_cost,
            parallelism=parallelism,
            type=argon2.Type.ID,
        )
        self._dummy_hash: str | None = None

    def hash(self, password: str) -> str:
        """Return the encoded argon2id hash (salt and parameters included)."""
        return self._hasher.hash(password)

    def verify(self, encoded: str, password: str) -> bool:
        """True if ``password`` matches ``encoded``; false for a mismatch or a broken hash."""
        try:
            return self._hasher.verify(encoded, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def verify_dummy(self, password: str) -> bool:
        """Spend the time of one verification and return False.

        Called for an unknown account so that a wrong email takes as long as a
        wrong password (no user enumeration by timing; OWASP Authentication
        Cheat Sheet).
        """
        if self._dummy_hash is None:
            self._dummy_hash = self.hash(secrets.token_urlsafe(16))
        self.verify(self._dummy_hash, password)
        return False

    def needs_rehash(self, encoded: str) -> bool:
        """True if ``encoded`` was made with other parameters than the current ones."""
        try:
            return self._hasher.check_needs_rehash(encoded)
        except (InvalidHashError, ValueError):
            return True


def init_passwords(app: Flask) -> PasswordHasher:
    """Create the app's hasher from its ``ARGON2_*`` config (``app.extensions["passwords"]``)."""
    hasher = PasswordHasher(
        time_cost=int(app.config["ARGON2_TIME_COST"]),
        memory_cost=int(app.config["ARGON2_MEMORY_COST"]),
        parallelism=int(app.config["ARGON2_PARALLELISM"]),
    )
    app.extensions["passwords"] = hasher
    return hasher


def password_problem(password: str, min_length: int, personal: tuple[str, ...] = ()) -> str | None:
    """Return why ``password`` is too weak, in words for the user, or ``None`` if it is fine.

    :param password: the candidate.
    :param min_length: fewest characters allowed.
    :param personal: the account's email, name... the password must not be built on.
    """
    if len(password) < min_length:
        return f"Use at least {min_length} characters."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS or len(set(lowered)) < 4:
        return "That password is too common or too simple; choose another."
    for value in personal:
        parts = [p for p in re.split(r"[@.\s_+-]+", value.lower()) if len(p) >= 4]
        if any(part in lowered for part in parts):
            return "Don't build your password on your email address or name."
    return None
