"""One structured (JSON) log line per request, and the ``X-Request-ID`` header.

:class:`RequestLogMiddleware` wraps the WSGI application, so it sees every
request, including those answered by an error handler, a redirect or a
rate limit.  It never logs cookies, ``Authorization`` headers, request
bodies or the values of query parameters whose names look secret
(OWASP Logging Cheat Sheet, "Data to exclude").
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

logger = logging.getLogger("bastion.request")

#: A client-supplied request id is kept only if it matches this.
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:@/+=-]{8,128}$")
#: WSGI environ key under which the request id is stored for the app.
REQUEST_ID_ENVIRON_KEY = "bastion.request_id"
#: WSGI environ key where an error handler leaves a short reason (no secrets,
#: no exception text) for the request's log line, as its ``error`` field.
LOG_ERROR_ENVIRON_KEY = "bastion.log_error"
#: Query parameters whose values are replaced by ``[redacted]`` in the log.
SECRET_PARAM_RE = re.compile(
    r"(pass|secret|token|key|auth|session|csrf|code|signature|sig|otp|credential)", re.I
)
MAX_LOGGED_UA = 256
#: One encoder for every line (``json.dumps`` with ``separators`` builds a new one per call).
_encode = json.JSONEncoder(separators=(",", ":")).encode


def request_id_from(environ: WSGIEnvironment) -> str:
    """Return the request id: the client's ``X-Request-ID`` if well-formed, else a new UUID4 hex.

    :param environ: the WSGI environment.
    :returns: 8 to 128 characters of ``[A-Za-z0-9._:@/+=-]``.
    """
    supplied = environ.get("HTTP_X_REQUEST_ID", "")
    if supplied and REQUEST_ID_RE.fullmatch(supplied):
        return supplied
    return uuid.uuid4().hex


def redact_query(query: str) -> str:
    """Return ``query`` with the values of secret-looking parameters replaced.

    >>> redact_query("page=2&token=abc")
    'page=2&token=%5Bredacted%5D'
    """
    if not query:
        return ""
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode(
        [(name, "[redacted]" if SECRET_PARAM_RE.search(name) else value) for name, value in pairs]
    )


class RequestLogMiddleware:
    """Log one JSON line per request and echo ``X-Request-ID``.

    Logged fields: ``request_id``, ``method``, ``path`` (with ``SCRIPT_NAME``),
    ``query`` (redacted), ``status``, ``duration_ms`` (float, milliseconds),
    ``client`` (``REMOTE_ADDR`` as fixed by ``ProxyFix``), ``user_agent``
    (at most 256 characters), and ``error`` when a handler left a reason under
    :data:`LOG_ERROR_ENVIRON_KEY`.  The line is logged at INFO to
    ``bastion.request``; 5xx responses at ERROR.

    :param app: the WSGI application to wrap.
    :param enabled: when false, only the request id is handled.
    """

    def __init__(self, app: WSGIApplication, enabled: bool = True) -> None:
        self.app = app
        self.enabled = enabled

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        request_id = request_id_from(environ)
        environ[REQUEST_ID_ENVIRON_KEY] = request_id
        status_holder: list[str] = []

        def _start_response(status: str, headers: list[tuple[str, str]], exc_info=None):  # type: ignore[no-untyped-def]
            headers = [(k, v) for k, v in headers if k.lower() != "x-request-id"]
            headers.append(("X-Request-ID", request_id))
            status_holder.append(status)
            return start_response(status, headers, exc_info)

        try:
            return self.app(environ, _start_response)
        finally:
            if self.enabled:
                self._log(environ, request_id, status_holder, started)

    @staticmethod
    def _log(
        environ: WSGIEnvironment, request_id: str, status_holder: list[str], started: float
    ) -> None:
        status = int(status_holder[-1].split(" ", 1)[0]) if status_holder else 500
        record = {
            "event": "request",
            "request_id": request_id,
            "method": environ.get("REQUEST_METHOD", ""),
            "path": (environ.get("SCRIPT_NAME", "") or "") + (environ.get("PATH_INFO", "") or ""),
            "query": redact_query(environ.get("QUERY_STRING", "")),
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            "client": environ.get("REMOTE_ADDR", ""),
            "user_agent": environ.get("HTTP_USER_AGENT", "")[:MAX_LOGGED_UA],
        }
        if environ.get(LOG_ERROR_ENVIRON_KEY):
            record["error"] = str(environ[LOG_ERROR_ENVIRON_KEY])
        level = logging.ERROR if status >= 500 else logging.INFO
        if logger.isEnabledFor(level):
            # makeRecord + handle is what Logger.log does, less findCaller's walk up
            # the stack: the caller is always this function.
            logger.handle(
                logger.makeRecord(
                    logger.name, level, __file__, _LOG_LINE, _encode(record), None, None, "_log"
                )
            )


#: The line the request log's records name as their source (``%(lineno)d``).
_LOG_LINE = RequestLogMiddleware._log.__code__.co_firstlineno
