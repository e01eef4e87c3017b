r"""Error responses: an HTML page for browsers, ``application/problem+json`` for APIs.

Every HTTP error, every unhandled exception and every CSRF failure ends
here.  No stack trace, exception text or database message ever reaches the
client; a 500 is logged with its request id, which the page shows so that a
user can quote it.  Problem details follow RFC 9457 (``type``, ``title``,
``status``, ``detail``, ``instance``) plus the extension member
``request_id``.

CSRF is checked by :func:`protect_csrf` (a ``before_request`` calling
Flask-WTF's public ``CSRFProtect.protect``, with ``WTF_CSRF_CHECK_DEFAULT``
off, as Flask-WTF documents for custom checks).  A refused request answers
400 and changes nothing.  For a view decorated with :func:`csrf_rerender`
the refusal is noted in ``g.bastion_csrf_refusal`` and the view runs once, normally:
its :class:`CSRFRerenderForm` refuses to validate, so it shows the form
again with the user's input, a fresh token and the reason (missing or
expired token, or a valid token with a missing or foreign ``Referer`` over
HTTPS).  No view is ever run from an error handler.

An error page must render whatever went wrong before it, a failed database
query included (issue 9).  This package knows no database: an app registers
a function with :func:`before_error_response` (for example one that rolls its
session back), and every error response runs it first.  If the error page
still fails to render, the built-in page is sent, never a second 500.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, render_template, request
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from werkzeug.datastructures import CombinedMultiDict
from werkzeug.exceptions import (
    HTTPException,
    RequestEntityTooLarge,
    SecurityError,
    default_exceptions,
)
from wtforms import FileField

from .ratelimit import retry_after_seconds
from .request_log import REQUEST_ID_ENVIRON_KEY

logger = logging.getLogger("bastion.errors")
F = TypeVar("F", bound=Callable[..., Any])

PROBLEM_JSON = "application/problem+json"
#: ``app.extensions`` key of the functions :func:`before_error_response` registered.
ERROR_HOOKS_KEY = "bastion.before_error_response"
#: ``app.extensions`` key of the predicates :func:`csrf_exempt_when` registered.
CSRF_EXEMPTIONS_KEY = "bastion.csrf_exempt_when"

#: Plain-language text for each status; shown in HTML and as ``detail``.
MESSAGES = {
    400: "The request could not be understood. Check the address or the form and try again.",
    401: "You need to sign in to see this page.",
    403: "You don't have permission to do that.",
    404: "We couldn't find that page. Check the address, or start again from the home page.",
    405: "This address doesn't accept that kind of request.",
    408: "The request took too long to arrive. Please try again.",
    413: "What you sent is too large for this site to accept.",
    412: "The resource has changed since you read it: read it again, then retry.",
    415: "This address doesn't accept that type of content.",
    422: "Some of what you sent is not valid: see the errors member for each field.",
    428: "This request must be conditional: send the ETag you read in If-Match.",
    429: "You are sending requests too quickly. Please wait a moment and try again.",
    500: "Something went wrong on our side. It has been logged; please try again later.",
    503: "The service is temporarily unavailable. Please try again later.",
}
CSRF_MESSAGE = (
    "Your form has expired or did not come from this site. Please check it and send it again."
)


def request_id() -> str:
    """The id of the current request (set by ``RequestLogMiddleware``)."""
    return str(request.environ.get(REQUEST_ID_ENVIRON_KEY, ""))


def host_is_trusted() -> bool:
    """False when the request's ``Host`` is not in ``TRUSTED_HOSTS``.

    Werkzeug's ``request.host`` raises ``SecurityError`` for such a host
    (Flask passes ``TRUSTED_HOSTS`` to the request); no URL can be built then.
    """
    try:
        request.host  # noqa: B018 - read for its check
    except SecurityError:
        return False
    return True


def wants_json() -> bool:
    """True when the client prefers JSON to HTML, or the path is under ``/api/``.

    Decided from ``Accept`` (RFC 9110 section 12.5.1): ``application/json`` or
    ``application/problem+json`` ranked above ``text/html``.
    """
    if request.path.startswith("/api/"):
        return True
    accept = request.accept_mimetypes
    best = accept.best_match([PROBLEM_JSON, "application/json", "text/html"], default="text/html")
    return best != "text/html" and accept[best] > accept["text/html"]


class CSRFRerenderForm(FlaskForm):
    """A ``FlaskForm`` that never validates in a request refused by the CSRF check.

    Flask-WTF's app-wide check can refuse a request whose token is valid (a
    missing or foreign ``Referer`` over HTTPS), while the form's own check
    looks at the token only.  When :func:`protect_csrf` lets a
    :func:`csrf_rerender` view run to show its form again, this form still
    checks every field (so the user sees all errors at once) but
    :meth:`validate` returns ``False``: the view shows the form and changes
    nothing.
    """

    class Meta(FlaskForm.Meta):
        """Form data comes from a form body only: no JSON body, no files for text fields."""

        def wrap_formdata(self, form: Any, formdata: Any) -> Any:
            """Flask-WTF's choice of form data, without its JSON body fallback.

            Flask-WTF fills a form from ``request.get_json()`` when the body is
            JSON: lists, numbers and objects then reach text fields and their
            filters, and a ``"\\udcff"`` escape (a lone surrogate) reaches the
            re-shown form, which can't be encoded: 500s (issue 9).  A browser
            never posts an HTML form as JSON, so such a form is shown again
            empty, with its "required" messages.  Likewise, uploaded files are
            form data only for a form with a file field: a file posted in an
            email or password field reached the validators as an object that
            is not text (500s).
            """
            if request.is_json:  # only data the caller passed (WTForms' getlist protocol)
                return formdata if hasattr(formdata, "getlist") else None
            wrapped = super().wrap_formdata(form, formdata)
            if isinstance(wrapped, CombinedMultiDict) and not any(
                isinstance(field, FileField) for field in form
            ):
                return request.form
            return wrapped

    def validate(self, extra_validators: Any = None) -> bool:
        """WTForms' validation, but ``False`` in a request the CSRF check refused."""
        valid = super().validate(extra_validators=extra_validators)
        if g.get("bastion_csrf_refusal"):
            return False
        return valid


def csrf_refusal() -> str | None:
    """Why the CSRF check refused this request, for a form shown again; else ``None``.

    Also a template global: ``{% if csrf_refusal() %}...{% endif %}``
    (``bastion/csrf_refusal.html`` shows it as an alert).
    """
    return g.get("bastion_csrf_refusal")


def csrf_rerender(view: F) -> F:
    """Let ``view`` run in a request the CSRF check refused, to show its form again.

    Every form the view validates must be a :class:`CSRFRerenderForm`, and
    the view must call ``validate_on_submit()`` before changing any state;
    it answers 400 (see :func:`app.forms.form_status`).
    """
    view.csrf_rerender = True  # type: ignore[attr-defined]
    return view


def problem_response(
    status: int,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Response:
    """Build an RFC 9457 ``application/problem+json`` response.

    :param extra: extension members (RFC 9457 section 3.2), such as a 422's
        per-field ``errors``; they never replace the standard members.
    """
    body: dict[str, Any] = dict(extra or {})
    body.update(
        {
            "type": "about:blank",
            "title": title,
            "status": status,
            "detail": detail,
            "instance": request.path,
            "request_id": request_id(),
        }
    )
    response = current_app.response_class(
        json.dumps(body), status=status, mimetype=PROBLEM_JSON, headers=headers
    )
    return response


def before_error_response(app: Flask, hook: Callable[[int], None]) -> Callable[[int], None]:
    """Run ``hook(status)`` before every error response of ``app`` is built.

    For what an app must undo before its error page renders: after a failed
    query, a database session must be rolled back (PostgreSQL refuses every
    later statement of the aborted transaction, and a page that loads the
    signed-in user would fail too).  Hooks run in the order registered; an
    exception in one is logged and the response is still sent.

    :param app: the application.
    :param hook: called with the status code about to be sent.
    :returns: ``hook``, so that this can decorate it.
    """
    app.extensions.setdefault(ERROR_HOOKS_KEY, []).append(hook)
    return hook


def _run_error_hooks(status: int) -> None:
    for hook in current_app.extensions.get(ERROR_HOOKS_KEY, ()):
        try:
            hook(status)
        except Exception:
            logger.exception("before_error_response hook %r failed", hook)


def _fallback_html(status: int, title: str, detail: str) -> str:
    return (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        f"<title>{status} {escape(title)}</title><h1>{escape(title)}</h1>"
        f"<p>{escape(detail)}</p><p>Request id: {escape(request_id())}</p></html>"
    )


def error_response(
    status: int,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Response:
    """Render the error for this client: problem+json or the HTML error page.

    The HTML page is the template ``BASTION_ERROR_TEMPLATE``
    (``bastion/error.html``, which an app overrides with its own template of
    that name); it gets ``status``, ``title``, ``detail`` and ``request_id``.
    The :func:`before_error_response` hooks run first.  If the template is
    missing or fails (whatever the exception), a minimal built-in page is
    used so that an error never becomes a 500 of its own.  ``extra`` members
    go into the problem document only (see :func:`problem_response`).
    """
    _run_error_hooks(status)
    if wants_json():
        return problem_response(status, title, detail, headers, extra)
    if not host_is_trusted():
        # An untrusted Host: no URL can be built, so the full page can't render.
        html = _fallback_html(status, title, detail)
        return current_app.response_class(
            html, status=status, mimetype="text/html", headers=headers
        )
    try:
        html = render_template(
            current_app.config.get("BASTION_ERROR_TEMPLATE", "bastion/error.html"),
            status=status,
            title=title,
            detail=detail,
            request_id=request_id(),
        )
    except Exception:  # any failure, a database error in the template included
        logger.exception("error template failed; using the built-in page")
        html = _fallback_html(status, title, detail)
    return current_app.response_class(html, status=status, mimetype="text/html", headers=headers)


def _size(limit: int) -> str:
    return f"{limit // 1024} KiB" if limit >= 1024 else f"{limit} bytes"


def _detail_for(error: HTTPException) -> str:
    status = error.code or 500
    detail = MESSAGES.get(status, MESSAGES[500] if status >= 500 else MESSAGES[400])
    if isinstance(error, RequestEntityTooLarge):
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        if limit:
            detail += f" The limit is {_size(limit)}."
    elif status == 429:
        seconds = retry_after_seconds()
        if seconds:
            unit = "second" if seconds == 1 else "seconds"
            detail = f"You are sending requests too quickly. Please try again in {seconds} {unit}."
    elif (
        status < 500
        and type(error) is default_exceptions.get(status)
        and error.description != type(error).description
    ):
        # A message written for the user by abort(code, "...") in our own code;
        # subclasses (SecurityError, BadRequestKeyError...) carry library text.
        detail = str(error.description)
    return detail


def handle_http_exception(
    error: HTTPException,
    *,
    detail: str | None = None,
    extra: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Turn any :class:`HTTPException` into an error page, keeping its headers (``Allow``, ...).

    An API layer that handles HTTP errors itself (flask-smorest's ``Api``)
    calls this with what its errors carry: ``detail`` (else the plain text of
    :data:`MESSAGES`), ``extra`` problem members such as ``errors``, and more
    ``headers`` (``WWW-Authenticate``, ...).
    """
    if error.code is None:  # a RoutingException such as RequestRedirect
        return error  # type: ignore[return-value]
    all_headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    if error.response is not None:
        all_headers.update(
            (k, v) for k, v in error.response.headers.items() if k.lower() == "retry-after"
        )
    all_headers.update(headers or {})
    return error_response(error.code, error.name, detail or _detail_for(error), all_headers, extra)


def csrf_exempt_when(app: Flask, predicate: Callable[[], bool]) -> Callable[[], bool]:
    """Skip the CSRF check of ``app`` for requests where ``predicate()`` is true.

    For requests that a cross-site page cannot forge and that no cookie
    authenticates, such as API calls carrying ``Authorization: Bearer`` or
    ``X-API-Key`` (a browser sends neither cross-site without a CORS
    preflight the app does not grant; OWASP CSRF Prevention Cheat Sheet,
    "custom request headers").  Such requests must then be authenticated by
    that header *only*, never by the session cookie, or the exemption opens
    a hole.  The predicate runs in ``before_request`` (``request`` and
    ``request.blueprint`` are known) and must not raise; predicates are
    tried in the order registered.

    :param app: the application.
    :param predicate: called with no argument for every unsafe request.
    :returns: ``predicate``, so that this can decorate it.
    """
    app.extensions.setdefault(CSRF_EXEMPTIONS_KEY, []).append(predicate)
    return predicate


def protect_csrf() -> None:
    """``before_request``: Flask-WTF's CSRF check, with a way back to the form.

    Runs ``CSRFProtect.protect(apply_exemptions=True)`` on every request (it
    skips safe methods).  A refusal raises :class:`CSRFError` (a 400 page or
    problem+json), except for a browser posting to a :func:`csrf_rerender`
    view: then ``g.bastion_csrf_refusal`` holds the reason shown above the form and the
    view runs, with forms that refuse to validate.
    """
    config = current_app.config
    if request.method not in config["WTF_CSRF_METHODS"] or not config["WTF_CSRF_ENABLED"]:
        return  # a safe method: nothing to check (Flask-WTF's own first test)
    if any(exempt() for exempt in current_app.extensions.get(CSRF_EXEMPTIONS_KEY, ())):
        return  # see csrf_exempt_when
    try:
        current_app.extensions["csrf"].protect(apply_exemptions=True)
    except CSRFError as error:
        logger.warning("CSRF check failed: %s", error.description)
        view = current_app.view_functions.get(request.endpoint or "")
        if view is None or not getattr(view, "csrf_rerender", False) or wants_json():
            raise
        g.bastion_csrf_refusal = CSRF_MESSAGE


def handle_csrf_error(error: CSRFError) -> Response:
    """A CSRF refusal: a 400 page or problem+json; nothing ran, nothing changed."""
    return error_response(400, "Form expired", CSRF_MESSAGE)


def handle_exception(error: Exception) -> Response:
    """Log an unhandled exception with the request id and answer with a bare 500."""
    original = getattr(error, "original_exception", None) or error
    if isinstance(original, HTTPException):
        return handle_http_exception(original)
    logger.error("unhandled exception (request_id=%s)", request_id(), exc_info=original)
    return error_response(500, "Internal Server Error", MESSAGES[500])


def init_errors(app: Flask) -> None:
    """Register the handlers on ``app`` for all HTTP errors, CSRF errors and exceptions."""
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_exception)
