"""Refuse requests from blocked user agents (vulnerability scanners and the like).

``BLOCKED_USER_AGENTS`` is a list of case-insensitive regular expressions
searched in the ``User-Agent`` header; a match is answered with 403 and
logged.  This stops noisy automated scanners early; it is not access
control (a user agent is trivially forged).
"""

from __future__ import annotations

import logging
import re

from flask import Flask, abort, request

logger = logging.getLogger("bastion.security")


def compile_patterns(patterns: list[str]) -> re.Pattern[str] | None:
    """Join ``patterns`` into one case-insensitive regex, or ``None`` if empty.

    :raises re.error: for an invalid pattern (the app refuses to start).
    """
    cleaned = [p for p in (p.strip() for p in patterns) if p]
    if not cleaned:
        return None
    return re.compile("|".join(f"(?:{p})" for p in cleaned), re.IGNORECASE)


def init_user_agents(app: Flask) -> None:
    """Register a ``before_request`` hook that answers 403 to blocked user agents."""
    blocked = compile_patterns(app.config.get("BLOCKED_USER_AGENTS") or [])
    if blocked is None:
        return

    def block_user_agents() -> None:
        agent = request.headers.get("User-Agent", "")
        if agent and blocked.search(agent):
            logger.warning(
                "blocked user agent %r from %s for %s",
                agent[:256],
                request.remote_addr,
                request.path,
            )
            abort(403)

    # First in line (init_security registers it before any other
    # before_request): a scanner costs no rate-limit lookup or session work.
    app.before_request(block_user_agents)
