"""How `make audit` counts the bytes of a first visit (audit/page_weight.py).

The page and its files are served over real HTTP on loopback, with the
``Content-Encoding`` a server would send; the count is of the bytes sent,
not of the files once decoded.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import brotli
import pytest

from audit import page_weight
from tests.deployment.client import Client

PREFIX = "/some-service/v1"
#: The head and foot of the base template as the app renders them (issue 11's home page).
HOME = f"""<!doctype html>
<html lang="en"><head>
  <meta charset="utf-8">
  <link rel="icon" href="{PREFIX}/static/favicon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="{PREFIX}/static/dist/vendor-41098c7a.min.css"
        integrity="sha384-x" crossorigin="anonymous">
  <link rel="stylesheet" href="../v1/static/dist/custom-804d3a16.min.css" crossorigin="anonymous">
  <link rel="preload" as="style" href="{PREFIX}/static/dist/vendor-41098c7a.min.css">
  <noscript><link rel="stylesheet" href="{PREFIX}/static/dist/nojs-5a5a5a5a.min.css"></noscript>
</head><body>
  <img src="{PREFIX}/static/logo.png" alt="">
  <a href="{PREFIX}/about">About Bastion</a>
  <script src="{PREFIX}/static/dist/vendor-dca37afc.min.js" nonce="n"></script>
  <script nonce="n">window.inline = true;</script>
  <script src="https://cdn.example.com/other.js"></script>
  <link rel="modulepreload" href="{PREFIX}/static/dist/app-0123abcd.min.js">
</body></html>
""".encode()


def bundle(size: int) -> bytes:
    """Text that compresses as a minified bundle does (not to nothing)."""
    return b"".join(f".c{n}{{margin:{n % 97}px}}".encode() for n in range(size))[:size]


FILES: dict[str, bytes] = {
    f"{PREFIX}/": HOME,
    f"{PREFIX}/static/dist/vendor-41098c7a.min.css": bundle(60_000),
    f"{PREFIX}/static/dist/custom-804d3a16.min.css": bundle(251),
    f"{PREFIX}/static/dist/vendor-dca37afc.min.js": bundle(30_000),
}


@functools.cache
def brotli_of(path: str) -> bytes:
    """FILES[path] as a server that precompresses sends it."""
    return brotli.compress(FILES[path], quality=5)


class Site(BaseHTTPRequestHandler):
    """Serves FILES, brotli-compressed when asked and allowed; counts requests."""

    requests: list[str] = []
    uncompressed: set[str] = set()

    def do_GET(self) -> None:
        Site.requests.append(self.path)
        if self.path not in FILES:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = FILES[self.path]
        encode = (
            "br" in self.headers.get("Accept-Encoding", "") and self.path not in Site.uncompressed
        )
        if encode:
            body = brotli_of(self.path)
        self.send_response(200)
        if encode:
            self.send_header("Content-Encoding", "br")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def client() -> Iterator[Client]:
    Site.requests, Site.uncompressed = [], set()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield Client(server.server_address[1], https=False)
    finally:
        server.shutdown()
        server.server_close()


def test_the_page_and_each_css_and_js_it_loads_are_counted_as_sent(client):
    transfers = page_weight.first_visit(client, f"{PREFIX}/")
    assert [(t.path, t.kind, t.status, t.encoding) for t in transfers] == [
        (f"{PREFIX}/", "html", 200, "br"),
        (f"{PREFIX}/static/dist/vendor-41098c7a.min.css", "css", 200, "br"),
        (f"{PREFIX}/static/dist/custom-804d3a16.min.css", "css", 200, "br"),
        (f"{PREFIX}/static/dist/vendor-dca37afc.min.js", "js", 200, "br"),
        (f"{PREFIX}/static/dist/app-0123abcd.min.js", "js", 404, ""),
    ]
    sizes = [t.size for t in transfers]
    expected = [len(brotli_of(t.path)) for t in transfers[:4]]
    assert sizes == [*expected, 0]
    assert sizes[1] < 60_000 / 4  # brotli bytes, not the decoded file
    assert page_weight.total(transfers) == sum(expected)
    # Each file once; the icon, the image, the inline and the other site's script and
    # what <noscript> links (a browser that runs scripts ignores it) not at all.
    assert Site.requests == [t.path for t in transfers]


def test_a_visit_over_budget_or_with_a_missing_file_fails(client):
    transfers = page_weight.first_visit(client, f"{PREFIX}/")
    total = page_weight.total(transfers)
    assert page_weight.shortfalls(transfers[:4], budget=total) == []
    assert page_weight.shortfalls(transfers[:4], budget=total - 1) == [
        f"first visit {total:,} bytes > budget {total - 1:,}"
    ]
    assert page_weight.shortfalls(transfers, budget=total) == [
        f"{PREFIX}/static/dist/app-0123abcd.min.js: answered 404"
    ]
    assert page_weight.BUDGET == 40_000


def test_a_bundle_sent_without_brotli_fails(client):
    Site.uncompressed = {f"{PREFIX}/static/dist/vendor-dca37afc.min.js",
                         f"{PREFIX}/static/dist/custom-804d3a16.min.css"}  # fmt: skip
    transfers = page_weight.first_visit(client, f"{PREFIX}/")[:4]
    assert transfers[3].size == 30_000
    # The 251-byte file is too small for compression to matter; the bundle is not.
    assert page_weight.shortfalls(transfers, budget=10**6) == [
        f"{PREFIX}/static/dist/vendor-dca37afc.min.js: 30,000 bytes sent without brotli "
        "(Content-Encoding: none)"
    ]


def test_the_table_lists_bytes_per_file_and_the_total(client):
    transfers = page_weight.first_visit(client, f"{PREFIX}/")[:4]
    lines = page_weight.table(transfers, budget=100).splitlines()
    assert lines[0].split() == ["file", "kind", "status", "encoding", "bytes"]
    assert lines[2].split() == [transfers[1].path, "css", "200", "br", f"{transfers[1].size:,}"]
    total = f"{page_weight.total(transfers):,}"
    assert lines[-1].split() == ["total", total, "budget", "100", "<<", "OVER"]
    assert "OVER" not in page_weight.table(transfers, budget=10**6)


def test_references_resolve_against_the_page_and_leave_other_sites_out():
    found = page_weight.referenced_assets(HOME.decode(), f"{PREFIX}/")
    assert found == [
        ("css", f"{PREFIX}/static/dist/vendor-41098c7a.min.css"),
        ("css", f"{PREFIX}/static/dist/custom-804d3a16.min.css"),
        ("js", f"{PREFIX}/static/dist/vendor-dca37afc.min.js"),
        ("js", f"{PREFIX}/static/dist/app-0123abcd.min.js"),
    ]
    assert page_weight.referenced_assets('<script src="x.js?v=2"></script>', "/a/b") == [
        ("js", "/a/x.js?v=2")
    ]
