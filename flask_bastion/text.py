"""Cleaning user text before it is stored.

Flask's security notes ("Copy/Paste to Terminal") warn that characters such
as backspace (``\\b``) hide text that then runs when pasted into a terminal.
:func:`clean_text` removes them, and the Unicode bidirectional controls used
to make text read differently from how it is stored ("Trojan Source",
CVE-2021-42574).
"""

from __future__ import annotations

import re

#: C0 controls except tab and newline, DEL, C1 controls, and the bidi
#: embedding / override / isolate controls (U+202A-U+202E, U+2066-U+2069).
_HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


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
