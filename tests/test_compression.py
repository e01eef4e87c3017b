"""Flask-Compress: zstd, br, gzip and deflate chosen by Accept-Encoding."""

from __future__ import annotations

import gzip
import re
import zlib

import brotli
import pytest
import zstandard

DECODERS = {
    "zstd": lambda data: zstandard.ZstdDecompressor().decompressobj().decompress(data),
    "br": brotli.decompress,
    "gzip": gzip.decompress,
    "deflate": zlib.decompress,
}


def without_nonce(page: bytes) -> bytes:
    """Pages differ only by their per-response CSP nonce."""
    return re.sub(rb'nonce="[^"]+"', b'nonce=""', page)


@pytest.mark.parametrize("encoding", sorted(DECODERS))
def test_html_is_compressed_with_each_encoding(client, encoding):
    plain = client.get("/about").data
    response = client.get("/about", headers={"Accept-Encoding": encoding})
    assert response.headers["Content-Encoding"] == encoding
    assert "Accept-Encoding" in response.headers["Vary"]
    assert len(response.data) < len(plain) / 2
    assert without_nonce(DECODERS[encoding](response.data)) == without_nonce(plain)


def test_preference_order_and_quality_values(client):
    assert client.get("/", headers={"Accept-Encoding": "gzip, br"}).headers["Content-Encoding"] in {
        "br",
        "gzip",
    }
    weighted = client.get("/", headers={"Accept-Encoding": "br;q=0.5, gzip;q=1.0"})
    assert weighted.headers["Content-Encoding"] == "gzip"


def test_no_compression_without_accept_encoding(client):
    response = client.get("/")
    assert "Content-Encoding" not in response.headers
    assert response.headers["Vary"].count("Accept-Encoding") == 1


def test_json_errors_are_compressed_when_large_enough(client):
    response = client.get(
        "/missing",
        headers={"Accept": "application/json", "Accept-Encoding": "gzip"},
    )
    # Problem documents are small: below COMPRESS_MIN_SIZE they are sent as is.
    assert response.status_code == 404
    assert "Content-Encoding" not in response.headers


def test_stylesheets_are_compressed(client):
    page = client.get("/").get_data(as_text=True)
    url = page.split('rel="stylesheet" href="', 1)[1].split('"', 1)[0]
    plain = client.get(url).data
    response = client.get(url, headers={"Accept-Encoding": "br"})
    assert response.headers["Content-Encoding"] == "br"
    assert brotli.decompress(response.data) == plain


def test_a_compressed_etag_answers_304(app, people, client):
    """Flask-Compress turns the ETag into "...:br"; that tag, sent back, gives a 304."""
    from tests.test_stories import make_story

    for number in range(8):  # a list long enough to be compressed
        make_story(app, people["author"], title=f"Story number {number}", body="Words. " * 40)
    br = {"Accept-Encoding": "br", "Accept": "application/json"}
    first = client.get("/api/v1/stories", headers=br)
    assert first.status_code == 200
    assert first.headers["Content-Encoding"] == "br"
    tag = first.headers["ETag"]
    assert tag.endswith(':br"')
    again = client.get("/api/v1/stories", headers={**br, "If-None-Match": tag})
    assert again.status_code == 304
    assert again.data == b""
    other = client.get("/api/v1/stories", headers={**br, "If-None-Match": '"other:br"'})
    assert other.status_code == 200
