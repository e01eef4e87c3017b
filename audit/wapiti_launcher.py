"""Run Debian 12's wapiti 3.0.4 with its ``-x`` (exclude) option working.

Its ``wildcard_translate`` ends each pattern with ``\\Z(?ms)``: Python 3.11
refuses global flags after the start ("global flags not at the start of the
expression"), so any ``-x URL`` crashes the crawler.  This launcher puts
the flags first and then runs wapiti's own entry point with the same
arguments.  It also makes the ``wapp`` module's database download a no-op
(wapiti instantiates every module, and that one fetches a file from the
web when its copy is missing): the audit reaches loopback only.  Run it
with the interpreter wapiti is installed for
(``/usr/bin/python3 audit/wapiti_launcher.py ARGS...``).
"""

from __future__ import annotations

import re
import sys


def wildcard_translate(pattern: str) -> re.Pattern[str]:
    """``*`` matches anything, every other character itself (wapiti's rule, fixed flags)."""
    return re.compile("(?ms)" + ".*".join(re.escape(part) for part in pattern.split("*")) + r"\Z")


def main() -> int:
    """Patch the crawler's pattern function and run ``wapiti`` with ``sys.argv``."""
    from wapitiCore.attack import mod_wapp  # type: ignore[import-not-found]
    from wapitiCore.main import wapiti  # type: ignore[import-not-found]
    from wapitiCore.net import crawler  # type: ignore[import-not-found]

    crawler.wildcard_translate = wildcard_translate
    mod_wapp.mod_wapp.update = lambda self: None
    sys.argv[0] = "wapiti"
    return wapiti.wapiti_main() or 0


if __name__ == "__main__":
    sys.exit(main())
