"""Safe ``next`` redirects: only to a path inside this application.

OWASP Unvalidated Redirects and Forwards Cheat Sheet: never redirect to a
URL taken from the request unless it is checked against an allowlist.  Here
the allowlist is "a path of this site": it must start with one ``/``, must
not start with ``//`` or ``/\\`` (which browsers read as another host), and
must have no scheme, host or control characters.
"""

from __future__ import annotations

from urllib.parse import urlsplit

MAX_NEXT_LENGTH = 2048


def safe_next_path(value: object) -> str | None:
    """Return ``value`` if it is a local path such as ``/account?tab=1``, else ``None``.

    >>> safe_next_path("/account")
    '/account'
    >>> safe_next_path("//evil.example/") is None
    True
    """
    if not isinstance(value, str) or not value or len(value) > MAX_NEXT_LENGTH:
        return None
    if not value.startswith("/") or value.startswith(("//", "/\\")):
        return None
    if "\\" in value or any(ord(char) < 32 or ord(char) == 127 for char in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    return value
