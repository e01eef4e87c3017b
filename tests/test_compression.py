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


def compression_app():
    """A bare Flask app with flask_bastion's compression and nothing else."""
    from flask import Flask, Response

    from flask_bastion.compression import init_compression

    app = Flask("compression")
    app.config["COMPRESS_EVALUATE_CONDITIONAL_REQUEST"] = False  # flask_bastion's default
    init_compression(app)
    size = app.config["COMPRESS_MIN_SIZE"]

    @app.get("/bytes/<int:count>")
    def some_bytes(count: int) -> Response:
        return Response(b"a" * count, headers={"Vary": "Origin"}, mimetype="text/html")

    @app.get("/dated")
    def dated() -> Response:
        response = Response("x" * (2 * size), mimetype="text/html")
        response.headers["Last-Modified"] = "Mon, 07 Dec 2026 10:00:00 GMT"
        return response

    return app, size


def test_a_response_below_the_minimum_size_is_sent_as_is_with_vary():
    app, size = compression_app()
    client = app.test_client()
    small = client.get(f"/bytes/{size - 1}", headers={"Accept-Encoding": "br"})
    assert "Content-Encoding" not in small.headers
    assert small.data == b"a" * (size - 1)
    assert small.headers.getlist("Vary") == ["Origin, Accept-Encoding"]
    enough = client.get(f"/bytes/{size}", headers={"Accept-Encoding": "br"})
    assert enough.headers["Content-Encoding"] == "br"
    assert brotli.decompress(enough.data) == b"a" * size
    assert enough.headers.getlist("Vary") == ["Origin, Accept-Encoding"]


def test_last_modified_alone_makes_a_response_conditional():
    app, _ = compression_app()
    client = app.test_client()
    first = client.get("/dated", headers={"Accept-Encoding": "gzip"})
    assert first.status_code == 200
    assert first.headers["Content-Encoding"] == "gzip"
    again = client.get(
        "/dated",
        headers={"Accept-Encoding": "gzip", "If-Modified-Since": first.headers["Last-Modified"]},
    )
    assert again.status_code == 304
    assert again.data == b""
    older = client.get("/dated", headers={"If-Modified-Since": "Sun, 06 Dec 2026 10:00:00 GMT"})
    assert older.status_code == 200


def test_healthz_is_small_uncompressed_and_varies_on_encoding(client):
    response = client.get("/healthz", headers={"Accept-Encoding": "br, gzip"})
    assert response.data == b'{"status":"ok"}\n'
    assert response.headers["Content-Type"] == "application/json"
    assert "Content-Encoding" not in response.headers
    assert response.headers.getlist("Vary") == ["Accept-Encoding, Cookie"]
