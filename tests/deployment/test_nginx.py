"""What a visitor sees through the shipped nginx config: prefix, HTTPS, headers, bundles."""

from __future__ import annotations

import gzip
import re
import socket
import ssl
import warnings
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import brotli
import pytest

from tests.deployment.client import Response, html_tags
from tests.deployment.stack import DIST_DIR, PREFIX, Stack
from tests.services import under_ci

#: What nginx puts on the bundles it serves (the app's pages have a nonce CSP).
NGINX_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
IMMUTABLE = "public, max-age=31536000, immutable"


def absolute(stack: Stack, location: str) -> str:
    """``location`` resolved against the public URL of the site."""
    return urljoin(stack.url("/"), location)


def assert_security_headers(response: Response, what: str) -> None:
    """Exactly one HSTS (a year at least), CSP, nosniff and CORP, and a request id."""
    hsts = response.all("Strict-Transport-Security")
    assert len(hsts) == 1, f"{what}: HSTS headers {hsts}"
    max_age = re.search(r"max-age=(\d+)", hsts[0])
    assert max_age, f"{what}: {hsts[0]}"
    assert int(max_age.group(1)) >= 31536000, f"{what}: {hsts[0]}"
    assert response.all("X-Content-Type-Options") == ["nosniff"], what
    assert len(response.all("Content-Security-Policy")) == 1, what
    assert response.all("Cross-Origin-Resource-Policy") == ["same-origin"], what
    assert len(response.all("X-Request-ID")) == 1, what


def page_urls(text: str) -> list[str]:
    """Every href, src and action of a page."""
    return [
        attrs[name]
        for _tag, attrs in html_tags(text)
        for name in ("href", "src", "action")
        if name in attrs
    ]


def bundle_paths(stack: Stack) -> list[str]:
    """The paths of the bundles the home page links to."""
    page = stack.client().get(f"{PREFIX}/")
    assert page.status == 200
    paths = [url for url in page_urls(page.text) if "/static/dist/" in url]
    assert len(paths) >= 2, paths
    return paths


# --- the path prefix ------------------------------------------------------------
def test_links_forms_and_static_urls_carry_the_prefix(stack: Stack) -> None:
    client = stack.client()
    for path in ("/", "/contact", "/sign-in", "/stories/", "/about"):
        page = client.get(PREFIX + path)
        assert page.status == 200, (path, page.status)
        local = [url for url in page_urls(page.text) if url.startswith("/")]
        assert local, path
        unprefixed = [url for url in local if not url.startswith(PREFIX + "/")]
        assert not unprefixed, f"{path}: links without the prefix: {unprefixed}"
        if path in ("/contact", "/sign-in"):
            forms = [attrs for tag, attrs in html_tags(page.text) if tag == "form"]
            assert forms, path
            for form in forms:
                # No action posts back to the page's own (prefixed) URL.
                assert form.get("action", PREFIX).startswith(PREFIX), (path, form)
    home = client.get(f"{PREFIX}/")
    assert any(url.startswith(f"{PREFIX}/static/dist/") for url in page_urls(home.text))


def test_redirects_stay_under_the_prefix(stack: Stack) -> None:
    client = stack.client()
    # Signed out, a page for authors sends the visitor to sign in, under the prefix.
    response = client.get(f"{PREFIX}/stories/new")
    assert response.status == 302
    target = urlsplit(absolute(stack, response.header("Location") or ""))
    assert target.path == f"{PREFIX}/sign-in", target
    assert f"{target.scheme}://{target.netloc}" == stack.url("")
    # /some-service/v1 without its slash: nginx adds it, keeping scheme, host and port.
    response = client.get(PREFIX)
    assert response.status == 301
    assert response.header("Location") == stack.url(f"{PREFIX}/")


def test_app_builds_external_urls_with_host_port_and_prefix(stack: Stack) -> None:
    # What nginx forwards for a plain-http request (X-Forwarded-Proto: http):
    # the app's own HTTPS redirect is an absolute URL it builds itself.
    client = stack.direct(stack.instances[0])
    response = client.get(
        f"{PREFIX}/about?x=1",
        headers={"X-Forwarded-Proto": "http", "X-Forwarded-For": client.source},
    )
    assert response.status in (301, 308), response.status
    assert response.header("Location") == stack.url(f"{PREFIX}/about?x=1")


def test_prefix_is_matched_only_at_a_segment_boundary(stack: Stack) -> None:
    client = stack.client()
    about = client.get(f"{PREFIX}/about")
    assert about.status == 200
    title = re.search(r"<h1[^>]*>(.*?)</h1>", about.text, re.S)
    assert title, about.text[:300]
    for path in (f"{PREFIX}about", f"{PREFIX}foo", f"{PREFIX}/../v1about"):
        response = client.get(path)
        assert response.status == 404, (path, response.status)
        assert title.group(0) not in response.text, path
    # The app on its own, without nginx in front, draws the same line.
    direct = stack.direct(stack.instances[0])
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": direct.source}
    assert direct.get(f"{PREFIX}about", headers=headers).status == 404
    assert direct.get(f"{PREFIX}/about", headers=headers).status == 200


# --- HTTP, HTTPS, TLS ---------------------------------------------------------
@pytest.mark.parametrize("path", ["/", "/about?a=1", f"{PREFIX}/contact", f"{PREFIX}/healthzz"])
def test_plain_http_is_redirected_to_https(stack: Stack, path: str) -> None:
    for method in ("GET", "POST"):
        response = stack.client(https=False).request(method, path)
        assert response.status == 301, (method, path, response.status)
        assert response.header("Location") == stack.url(path)
        assert response.header("Strict-Transport-Security") is None  # RFC 6797 7.2
        assert response.header("Server") == "nginx"


@pytest.mark.parametrize("path", ["/healthz", "/readyz", f"{PREFIX}/healthz", f"{PREFIX}/readyz"])
def test_health_checks_answer_over_plain_http(stack: Stack, path: str) -> None:
    response = stack.client(https=False).get(path)
    assert response.status == 200, (path, response.status, response.text[:200])
    assert response.header("Content-Type") == "application/json"
    assert '"status":"ok"' in response.text.replace(" ", "")
    assert response.header("Server") == "nginx"


def test_server_header_has_no_version(stack: Stack) -> None:
    responses = [
        stack.client().get(f"{PREFIX}/"),
        stack.client().get(f"{PREFIX}/no-such-page"),
        stack.client().get(bundle_paths(stack)[0]),
        stack.client(https=False).get("/"),
        stack.client(https=False).get("/healthz"),
    ]
    for response in responses:
        assert response.all("Server") == ["nginx"], response.headers


def test_hsts_and_security_headers_on_every_https_response(stack: Stack) -> None:
    bundle = bundle_paths(stack)[0]
    missing_bundle = re.sub(r"-[0-9a-f]{8,}\.", "-00000000.", bundle)
    too_large = stack.client().request(
        "POST",
        f"{PREFIX}/contact",
        headers={"Content-Length": str(2 * 1024 * 1024), "Content-Type": "text/plain"},
    )
    assert too_large.status == 413  # client_max_body_size 1m, answered by nginx
    cases = {
        "page": stack.client().get(f"{PREFIX}/"),
        "app 404": stack.client().get(f"{PREFIX}/no-such-page"),
        "bundle": stack.client().get(bundle),
        "bundle without prefix": stack.client().get(bundle.removeprefix(PREFIX)),
        "nginx 404 for a missing bundle": stack.client().get(missing_bundle),
        "nginx 301 to the prefix with a slash": stack.client().get(PREFIX),
        "nginx 413": too_large,
        "health check": stack.client().get(f"{PREFIX}/healthz"),
    }
    assert cases["nginx 404 for a missing bundle"].status == 404
    for what, response in cases.items():
        assert_security_headers(response, what)


def test_request_id_is_nginx_s_not_the_client_s(stack: Stack) -> None:
    offsets = stack.log_offsets()
    response = stack.client().get(f"{PREFIX}/about", headers={"X-Request-ID": "chosen-by-client"})
    request_id = response.header("X-Request-ID") or ""
    assert re.fullmatch(r"[0-9a-f]{32}", request_id), request_id
    assert stack.which_instance(request_id, offsets), "the app logged another request id"


def test_only_tls_1_2_and_1_3_with_http2(stack: Stack) -> None:
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        context = ssl.create_default_context(cafile=str(stack.cert))
        context.minimum_version = context.maximum_version = version
        context.set_alpn_protocols(["h2", "http/1.1"])
        with (
            socket.create_connection(("127.0.0.1", stack.https_port), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname="localhost") as tls,
        ):
            assert tls.selected_alpn_protocol() == "h2"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        old.check_hostname = False
        old.verify_mode = ssl.CERT_NONE
        old.set_ciphers("DEFAULT:@SECLEVEL=0")
        old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_1
    with (
        pytest.raises(ssl.SSLError, match="PROTOCOL_VERSION"),  # the server's alert
        socket.create_connection(("127.0.0.1", stack.https_port), timeout=5) as raw,
        old.wrap_socket(raw, server_hostname="localhost"),
    ):
        pass


# --- bundles served by nginx --------------------------------------------------
def test_bundles_are_served_by_nginx_cached_for_a_year(stack: Stack) -> None:
    for path in bundle_paths(stack):
        for variant in (path, path.removeprefix(PREFIX)):
            response = stack.client().get(variant)
            assert response.status == 200, variant
            assert response.header("Content-Security-Policy") == NGINX_CSP, "not served by nginx"
            assert response.header("Cache-Control") == IMMUTABLE
            assert response.header("Content-Encoding") is None
            expected = "text/css" if path.endswith(".css") else "application/javascript"
            assert response.header("Content-Type") == expected
            assert response.body == (DIST_DIR / path.rsplit("/", 1)[1]).read_bytes()


@pytest.mark.parametrize("encoding", ["gzip", "br"])
def test_bundles_arrive_precompressed(stack: Stack, encoding: str) -> None:
    if encoding == "br" and not stack.brotli:
        reason = "nginx's brotli_static module is not installed (libnginx-mod-http-brotli-static)"
        if under_ci():
            pytest.fail(f"{reason}; CI=true requires it")
        pytest.skip(reason)
    decompress = gzip.decompress if encoding == "gzip" else brotli.decompress
    for path in bundle_paths(stack):
        response = stack.client().get(path, headers={"Accept-Encoding": encoding})
        assert response.status == 200
        assert response.header("Content-Encoding") == encoding, (path, response.headers)
        assert "Accept-Encoding" in (response.header("Vary") or "")
        assert response.header("Cache-Control") == IMMUTABLE
        original = (DIST_DIR / path.rsplit("/", 1)[1]).read_bytes()
        assert decompress(response.body) == original
        if len(original) > 10_000:  # Bootstrap: text compresses to well under half
            assert len(response.body) < len(original) / 2, path
        # The build's own X.gz / X.br, not a compression made per request.
        suffix = ".gz" if encoding == "gzip" else ".br"
        precompressed = DIST_DIR / (path.rsplit("/", 1)[1] + suffix)
        assert response.body == precompressed.read_bytes(), path


def test_a_bundle_without_its_precompressed_copy_is_still_compressed(stack: Stack) -> None:
    # Bundles copied without X.gz / X.br (a build step skipped) were sent as
    # they are through Debian's nginx (80 KB of JavaScript; Lighthouse's
    # "Enable text compression"): nginx now gzips them per request instead.
    conf = (stack.nginx_dir / "bastion.conf").read_text()
    served = re.search(r"alias (\S+)/\$bastion_bundle;", conf)
    assert served, "no bundle location in the rendered bastion.conf"
    original = (DIST_DIR / bundle_paths(stack)[0].rsplit("/", 1)[1]).read_bytes()
    probe = Path(served.group(1)) / "probe-0123456789abcdef.min.css"
    probe.write_bytes(original)
    probe.chmod(0o644)
    try:
        path = f"{PREFIX}/static/dist/{probe.name}"
        for accept in ("gzip, deflate, br, zstd", "gzip"):
            response = stack.client().get(path, headers={"Accept-Encoding": accept})
            assert response.status == 200
            assert response.header("Content-Encoding") == "gzip", (accept, response.headers)
            assert gzip.decompress(response.body) == original
            assert response.header("Cache-Control") == IMMUTABLE
        plain = stack.client().get(path, headers={"Accept-Encoding": "identity"})
        assert plain.header("Content-Encoding") is None
        assert plain.body == original
    finally:
        probe.unlink()
