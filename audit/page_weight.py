"""Bytes on the wire for a first visit of a page: its HTML and every CSS and JS file it loads.

:func:`first_visit` fetches a page through nginx as a new visitor's browser
does (no cookie, ``Accept-Encoding: br``, scripts on), reads the stylesheets
(``<link rel="stylesheet">``, and ``preload``/``modulepreload`` of styles and
scripts) and scripts (``<script src>``) it references outside ``<noscript>``,
fetches each once,
and counts the **encoded body** of each answer: the bytes the server sends as
content, after brotli.  Headers are left out (HTTP/2 compresses them, so
their size depends on the connection, not on the page); images and icons
are left out too: the budget is the page's HTML, CSS and JavaScript.

The budget (:data:`BUDGET`) comes from issue 11: a first visit of the home
page in at most 40,000 bytes (the landed pages sent 61,938).
"""

from __future__ import annotations

import html.parser
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urljoin, urlsplit

import brotli

#: The most bytes a first visit of the home page may send (HTML + CSS + JS, brotli).
BUDGET = 40_000
#: What a browser asks for; nginx and the app answer with brotli when they can.
ACCEPT_ENCODING = "br"
#: Files this large are sent with brotli, or the visit fails (Lighthouse's
#: "uses-text-compression" ignores smaller ones too: 1.4 KiB).
COMPRESS_FROM = 1400


class _Response(Protocol):  # what tests.deployment.client.Response offers
    status: int
    body: bytes

    def header(self, name: str) -> str | None: ...


class _Client(Protocol):
    def get(self, path: str, *, headers: dict[str, str]) -> _Response: ...


@dataclass(frozen=True)
class Transfer:
    """One file of the visit.

    :param path: its path (and query) on the site.
    :param kind: ``html``, ``css`` or ``js``.
    :param status: the HTTP status it was answered with.
    :param encoding: its ``Content-Encoding`` (``""``: none).
    :param size: the bytes of its body as sent (encoded), in bytes.
    """

    path: str
    kind: str
    status: int
    encoding: str
    size: int


class _Assets(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []
        self.noscript = 0  # inside <noscript>: a browser that runs scripts loads nothing

    def handle_endtag(self, tag: str) -> None:
        if tag == "noscript":
            self.noscript = max(0, self.noscript - 1)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "noscript":
            self.noscript += 1
        if self.noscript:
            return
        named = {name: value or "" for name, value in attrs}
        rel = set(named.get("rel", "").lower().split())
        if tag == "script" and named.get("src"):
            self.found.append(("js", named["src"]))
        elif tag == "link" and named.get("href"):
            kind = named.get("as", "").lower()
            if "stylesheet" in rel or ("preload" in rel and kind == "style"):
                self.found.append(("css", named["href"]))
            elif "modulepreload" in rel or ("preload" in rel and kind == "script"):
                self.found.append(("js", named["href"]))


def referenced_assets(page: str, base: str) -> list[tuple[str, str]]:
    """The CSS and JS files ``page`` makes a browser fetch, as ``(kind, path)``, each once.

    The browser is one that runs scripts (Lighthouse's Chrome, most visitors):
    what ``<noscript>`` links is not fetched.

    :param page: the HTML text.
    :param base: the page's path, against which relative references resolve.
    :returns: paths on the same site (other origins are left out: Bastion loads none).
    """
    parser = _Assets()
    parser.feed(page)
    seen: dict[str, str] = {}
    for kind, reference in parser.found:
        parts = urlsplit(urljoin(base, reference))
        if parts.scheme or parts.netloc:
            continue
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        seen.setdefault(path, kind)
    return [(kind, path) for path, kind in seen.items()]


def decoded(body: bytes, encoding: str) -> str:
    """The text of a body sent with ``Content-Encoding: encoding`` (``br`` or none)."""
    return (brotli.decompress(body) if encoding == "br" else body).decode("utf-8", "replace")


def first_visit(client: _Client, path: str) -> list[Transfer]:
    """Fetch ``path`` and each CSS/JS file it references, as a first visit does.

    :param client: a client without cookies (``tests.deployment.client.Client``).
    :param path: the page's path on the site.
    :returns: the page first, then its files in document order.
    """
    headers = {"Accept-Encoding": ACCEPT_ENCODING}
    page = client.get(path, headers={**headers, "Accept": "text/html"})
    encoding = (page.header("Content-Encoding") or "").strip().lower()
    transfers = [Transfer(path, "html", page.status, encoding, len(page.body))]
    for kind, asset in referenced_assets(decoded(page.body, encoding), path):
        answer = client.get(asset, headers={**headers, "Accept": "*/*"})
        transfers.append(
            Transfer(
                asset,
                kind,
                answer.status,
                (answer.header("Content-Encoding") or "").strip().lower(),
                len(answer.body),
            )
        )
    return transfers


def total(transfers: Iterable[Transfer]) -> int:
    """The bytes of every transfer, added up."""
    return sum(transfer.size for transfer in transfers)


def shortfalls(transfers: Sequence[Transfer], budget: int = BUDGET) -> list[str]:
    """What is wrong with the visit (empty: nothing).

    A file not answered 200, a file of :data:`COMPRESS_FROM` bytes or more
    sent without brotli, and a total above ``budget``.
    """
    problems = []
    for transfer in transfers:
        if transfer.status != 200:
            problems.append(f"{transfer.path}: answered {transfer.status}")
        elif transfer.size >= COMPRESS_FROM and transfer.encoding != ACCEPT_ENCODING:
            problems.append(
                f"{transfer.path}: {transfer.size:,} bytes sent without brotli "
                f"(Content-Encoding: {transfer.encoding or 'none'})"
            )
    if total(transfers) > budget:
        problems.append(f"first visit {total(transfers):,} bytes > budget {budget:,}")
    return problems


def table(transfers: Sequence[Transfer], budget: int = BUDGET) -> str:
    """Bytes per file, the encoding, and the total against the budget."""
    width = max([len(transfer.path) for transfer in transfers] + [4])
    rows = [("file", "kind", "status", "encoding", "bytes")]
    for t in transfers:
        rows.append((t.path, t.kind, str(t.status), t.encoding or "-", f"{t.size:,}"))
    over = "   << OVER" if total(transfers) > budget else ""
    rows.append(("total", "", "", "", f"{total(transfers):,}"))
    lines = [f"{a:{width}} {b:4} {c:>6} {d:8} {e:>8}" for a, b, c, d, e in rows]
    lines[-1] += f"   budget {budget:,}{over}"
    return "\n".join(lines)
