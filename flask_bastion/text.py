"""Cleaning user text before it is stored, and showing stored text in a terminal.

Flask's security notes ("Copy/Paste to Terminal") warn that characters such
as backspace (``\\b``) hide text that then runs when pasted into a terminal.
:func:`clean_text` removes them, and the Unicode bidirectional controls used
to make text read differently from how it is stored ("Trojan Source",
CVE-2021-42574); PostgreSQL refuses NUL in text outright.  Text stored
before it was cleaned (or by other means) is printed by command-line tools
through :func:`terminal_safe`, which shows such characters as escapes.
"""

from __future__ import annotations

import re

#: C0 controls except tab and newline, DEL, C1 controls, and the bidi
#: embedding / override / isolate controls (U+202A-U+202E, U+2066-U+2069).
_HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


#: What :func:`terminal_safe` escapes: :data:`_HIDDEN`, and tab and line breaks.
_UNSAFE_IN_TERMINAL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(value: object) -> str:
    """``str(value)`` with control, bidi and line-break characters shown as escapes.

    For command-line output of stored text: ``"Ada\\x1b[2J"`` prints the
    escape as the visible text ``\\x1b``, and the terminal does not clear the
    screen; one value stays on one line or table cell.

    >>> terminal_safe("a\\x00b\\u202ec\\td")
    'a\\\\x00b\\\\u202ec\\\\x09d'
    """
    return _UNSAFE_IN_TERMINAL.sub(_escape, str(value))


def clean_text(value: str | None, *, single_line: bool = False) -> str:
    """Return ``value`` without hidden control characters, line endings as ``\\n``.

    :param value: text from a form (``None`` gives ``""``).
    :param single_line: also turn tabs and newlines into spaces (for titles).
    """
    if not value:
        return ""
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    text = _HIDDEN.sub("", text)
    if single_line:
        text = " ".join(text.split())
    return text.strip()
