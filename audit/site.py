"""The pages of a running deployment stack that the audit scores and scans.

:func:`prepare` gives the stack of ``tests/deployment/stack.py`` something to
show (an account, a published story) and :func:`observatory_targets` lists
every kind of page with the Observatory score it must reach: public pages,
forms (which set the session cookie), pages behind sign-in (redirected to
it), the app's error pages (404, 405 and a real 429), files served by the
app and by nginx, nginx's own 404, security.txt and the health checks;
:func:`lighthouse_pages` the pages Lighthouse scores.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from app.views.keyset import AFTER, encode_cursor
from audit import observatory
from audit.observatory import (
    HEALTH,
    HEALTH_MAY_FAIL,
    NOT_A_PAGE,
    PAGE,
    PAGE_WITH_COOKIE,
    Score,
    Target,
)
from tests.deployment.client import Client, html_tags
from tests.deployment.processes import StackError
from tests.deployment.stack import PREFIX, Stack


@dataclass(frozen=True)
class Site:
    """What :func:`prepare` made: a signed-in client and the URLs it found."""

    email: str
    password: str
    author: Client
    story_path: str
    user_path: str
    bundles: tuple[str, ...]


def prepare(stack: Stack) -> Site:
    """Create an account (``flask users create``), sign it in, publish a story.

    :raises StackError: when a step is not answered as expected.
    """
    email = f"audit-{secrets.token_hex(4)}@example.com"
    password = f"quiet-{secrets.token_hex(8)}-lantern"
    stack.create_user(email, "Audit Writer", password)
    author = stack.client()
    signed_in = author.post_form(f"{PREFIX}/sign-in", {"email": email, "password": password})
    if signed_in.status != 302:
        raise StackError(f"sign-in answered {signed_in.status}")
    created = author.post_form(
        f"{PREFIX}/stories/new",
        {"title": "An audited story", "body": "Some *Markdown* text.", "published": "y"},
    )
    location = created.header("Location") or ""
    match = re.search(r"/stories/\d+$", location)
    if created.status != 302 or not match:
        raise StackError(f"creating a story answered {created.status} {location!r}")
    story_path = f"{PREFIX}{match.group(0)}"
    story = author.get(story_path)
    user_links = [
        attrs["href"]
        for tag, attrs in html_tags(story.text)
        if tag == "a" and re.fullmatch(rf"{PREFIX}/users/\d+", attrs.get("href", ""))
    ]
    home = stack.client().get(f"{PREFIX}/")
    bundles = tuple(
        attrs.get("href") or attrs.get("src", "")
        for tag, attrs in html_tags(home.text)
        if "/static/dist/" in (attrs.get("href") or attrs.get("src") or "")
    )
    if not user_links or len(bundles) < 2:
        raise StackError(f"no author link ({user_links}) or bundles ({bundles}) found")
    return Site(email, password, author, story_path, user_links[0], bundles)


#: A well-formed story-list cursor ("older than now"): a page the lists serve.
OLDER_CURSOR = encode_cursor(AFTER, [datetime.now(UTC), 2**31 - 1])


def observatory_targets(site: Site) -> list[Target]:
    """Every kind of page of the site and the score it must reach (see :mod:`audit.observatory`)."""
    p = PREFIX
    missing_bundle = re.sub(r"-[0-9a-f]{8,}\.", "-00000000.", site.bundles[0])
    return [
        # HTML pages that set no cookie
        Target(f"{p}/", PAGE, status=200),
        Target(f"{p}/about", PAGE, status=200),
        Target(f"{p}/privacy", PAGE, status=200),
        Target(f"{p}/cookies", PAGE, status=200),
        Target(f"{p}/stories/", PAGE, status=200),
        Target(f"{p}/stories/?cursor={OLDER_CURSOR}", PAGE, status=200),
        Target(site.story_path, PAGE, status=200),
        Target(f"{p}/users/", PAGE, status=200),
        Target(site.user_path, PAGE, status=200),
        # the app's error pages
        Target(f"{p}/no-such-page", PAGE, status=404),
        Target(f"{p}/stories/?cursor=abc", PAGE, status=400),
        Target(f"{p}/sign-out", PAGE, status=405),
        # forms: the session cookie carries the CSRF token
        Target(f"{p}/sign-in", PAGE_WITH_COOKIE, status=200),
        Target(f"{p}/register", PAGE_WITH_COOKIE, status=200),
        Target(f"{p}/contact", PAGE_WITH_COOKIE, status=200),
        # behind sign-in: redirected to the sign-in form
        Target(f"{p}/account", PAGE_WITH_COOKIE, status=200),
        Target(f"{p}/stories/new", PAGE_WITH_COOKIE, status=200),
        Target(f"{p}/admin/", PAGE_WITH_COOKIE, status=200),
        # not HTML pages: files from the app and nginx, nginx's own 404, text
        Target(f"{p}/static/favicon.svg", NOT_A_PAGE, status=200),
        *(Target(bundle, NOT_A_PAGE, status=200) for bundle in site.bundles),
        Target(missing_bundle, NOT_A_PAGE, status=404),
        Target(f"{p}/.well-known/security.txt", NOT_A_PAGE, status=200),
        # health checks answer over plain http on purpose (load balancers)
        Target(f"{p}/healthz", HEALTH, HEALTH_MAY_FAIL, status=200),
        Target(f"{p}/readyz", HEALTH, HEALTH_MAY_FAIL, status=200),
    ]


def lighthouse_pages(site: Site) -> list[tuple[str, str]]:
    """The pages Lighthouse scores, as ``(name, path)``: home, story list, a story, sign-in."""
    return [
        ("home", f"{PREFIX}/"),
        ("stories", f"{PREFIX}/stories/"),
        ("story", site.story_path),
        ("sign-in", f"{PREFIX}/sign-in"),
    ]


def exhaust_rate_limit(stack: Stack, path: str) -> tuple[Target, str]:
    """Spend a new address's per-minute budget on ``path``: ``(target, address)``.

    Scanned from that address within the minute, ``path`` is the app's 429 page.

    :raises StackError: when no request was refused.
    """
    client = stack.client()
    statuses = [client.get(path).status for _ in range(62)]
    if statuses[-1] != 429:
        raise StackError(f"{path}: 62 requests were not refused ({statuses[-5:]})")
    return Target(path, PAGE, status=429), client.source


def run_observatory(stack: Stack, site: Site) -> tuple[list[Target], list[Score]]:
    """Score every target of :func:`observatory_targets`, then a 429 page.

    Each page is scanned from an address of its own (see ``scan-pages.mjs``).

    :raises audit.observatory.ObservatoryError: when the scanner can't run.
    """
    targets = observatory_targets(site)
    sources: list[str | None] = [stack.new_address() for _ in targets]
    limited, address = exhaust_rate_limit(stack, f"{PREFIX}/cookies")
    targets.append(limited)
    sources.append(address)
    scores = observatory.scan(
        [stack.url(target.path) for target in targets],
        http_port=stack.http_port,
        cafile=stack.cert,
        sources=sources,
    )
    return targets, scores
