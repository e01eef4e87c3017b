"""A small HTTP(S) client for the deployment tests: cookies, a chosen source address.

Each :class:`Client` connects from one address of 127.0.0.0/8, so that nginx,
the app's request log and its rate limiter see a distinct client per address;
it keeps cookies like a browser and never follows redirects.
"""

from __future__ import annotations

import html.parser
import http.client
import re
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from tests.deployment.processes import HOST, StackError

#: The host name clients use (in the certificate and ``TRUSTED_HOSTS``).
SERVER_NAME = "localhost"


class _Attributes(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {name: value or "" for name, value in attrs}))


def html_tags(text: str) -> list[tuple[str, dict[str, str]]]:
    """Every start tag of an HTML page as ``(tag, attributes)``."""
    parser = _Attributes()
    parser.feed(text)
    return parser.tags


def csrf_token(text: str) -> str:
    """The value of the first ``csrf_token`` input of a page.

    :raises StackError: when the page has none.
    """
    for tag, attrs in html_tags(text):
        if tag == "input" and attrs.get("name") == "csrf_token":
            return attrs.get("value", "")
    raise StackError("no csrf_token field in the page")


@dataclass
class Response:
    """What came back: status, headers (in order, repeated ones kept), body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    elapsed: float = 0.0

    def header(self, name: str) -> str | None:
        """The first header called ``name`` (any case), or ``None``."""
        values = self.all(name)
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        """Every value of header ``name``."""
        return [value for key, value in self.headers if key.lower() == name.lower()]

    @property
    def text(self) -> str:
        """The body decoded as UTF-8."""
        return self.body.decode("utf-8", errors="replace")


class Client:
    """An HTTP(S) client from one source address, with cookies, one connection per request.

    :param port: the port to connect to on 127.0.0.1.
    :param https: use TLS (the certificate ``cafile`` is trusted, host names checked).
    :param source: the local address to connect from (any of 127.0.0.0/8).
    :param host_header: the ``Host`` sent (defaults to ``localhost:<port>``).
    :param cafile: the certificate to trust.
    """

    user_agent = "bastion-deployment-tests/1"

    def __init__(
        self,
        port: int,
        *,
        https: bool = True,
        source: str = HOST,
        host_header: str | None = None,
        cafile: Path | None = None,
    ) -> None:
        self.port = port
        self.https = https
        self.source = source
        self.host_header = host_header or f"{SERVER_NAME}:{port}"
        self.cookies: dict[str, str] = {}
        self.context: ssl.SSLContext | None = None
        if https:
            self.context = ssl.create_default_context(cafile=str(cafile) if cafile else None)

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        if self.https:
            return http.client.HTTPSConnection(
                HOST,
                self.port,
                timeout=timeout,
                context=self.context,
                source_address=(self.source, 0),
            )
        return http.client.HTTPConnection(
            HOST, self.port, timeout=timeout, source_address=(self.source, 0)
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        form: Mapping[str, str] | None = None,
        body: bytes | None = None,
        timeout: float = 15.0,
    ) -> Response:
        """Send one request for ``path`` (which may be an absolute URL) and read the answer.

        ``form`` is sent urlencoded; ``body`` as it is (with ``headers`` of your
        choice: a ``Content-Length`` there and no body sends the headers alone).
        Cookies set by earlier answers are sent and updated.  Redirects are not followed.
        """
        if path.startswith(("http://", "https://")):
            parts = urlsplit(path)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
        send = {"Host": self.host_header, "User-Agent": self.user_agent, "Accept": "text/html"}
        if self.cookies:
            send["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if form is not None:
            body = urlencode(form).encode()
            send["Content-Type"] = "application/x-www-form-urlencoded"
        send.update(headers or {})
        connection = self._connection(timeout)
        started = time.monotonic()
        try:
            connection.request(method, path, body=body, headers=send)
            answer = connection.getresponse()
            data = answer.read()
        finally:
            connection.close()
        response = Response(answer.status, list(answer.getheaders()), data)
        response.elapsed = time.monotonic() - started
        self._keep_cookies(response)
        return response

    def _keep_cookies(self, response: Response) -> None:
        for raw in response.all("Set-Cookie"):
            pair, _, attributes = raw.partition(";")
            name, _, value = pair.strip().partition("=")
            expired = re.search(r"max-age=0\b|expires=thu, 01 jan 1970", attributes, re.I)
            if expired or not value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value

    def get(self, path: str, **kwargs: Any) -> Response:
        """``request("GET", path, ...)``."""
        return self.request("GET", path, **kwargs)

    def post_form(
        self,
        path: str,
        fields: Mapping[str, str],
        *,
        form_path: str | None = None,
        referer: bool = True,
    ) -> Response:
        """GET the form at ``form_path`` (default ``path``), then POST ``fields`` with its token.

        As a browser does, the POST carries ``Referer`` (the form's URL) and
        ``Origin``; ``referer=False`` leaves both out.

        :returns: the POST's response, or the GET's when the form could not be loaded.
        """
        form_url = form_path or path
        page = self.get(form_url)
        if page.status != 200:
            return page
        headers = {}
        if referer:
            origin = f"{'https' if self.https else 'http'}://{self.host_header}"
            headers = {"Referer": origin + form_url, "Origin": origin}
        return self.request(
            "POST", path, form={"csrf_token": csrf_token(page.text), **fields}, headers=headers
        )
