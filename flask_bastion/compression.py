"""Compression (Flask-Compress) with conditional requests answered after it.

Flask-Compress turns a strong ``ETag`` ``"abc"`` into ``"abc:br"`` when it
compresses a response, so a client's ``If-None-Match: "abc:br"`` can only be
compared after compression.  Flask-Compress's own answer to that
(``COMPRESS_EVALUATE_CONDITIONAL_REQUEST``) calls Werkzeug's
``make_conditional`` on every GET and HEAD response, so every page paid for
parsing validators it does not have (and for a ``Date`` header, which the
WSGI server writes anyway).  :func:`init_compression` switches that off (its
default in :class:`~flask_bastion.defaults.SecurityDefaults`) and evaluates
the request conditions only for responses with a validator (RFC 9110,
section 13.2.1: without ``ETag`` or ``Last-Modified`` there is nothing to
compare).
"""

from __future__ import annotations

from flask import Flask, Response, current_app, request
from flask_compress import Compress

from .headers import add_vary

#: Methods whose responses may become 304 Not Modified (RFC 9110, section 15.4.5).
CONDITIONAL_METHODS = frozenset({"GET", "HEAD"})
#: Response headers that make a response conditional (RFC 9110, section 8.8), lower case.
VALIDATORS = frozenset({"etag", "last-modified"})


class Compression(Compress):
    """Flask-Compress, passing over at once the responses too small to compress.

    Flask-Compress leaves a response whose ``Content-Length`` is below
    ``COMPRESS_MIN_SIZE`` (bytes) as it is, but only after parsing
    ``Accept-Encoding``, the mimetype and three more headers.  Health checks,
    redirects, 304s and short JSON answers are all that small; they now get
    the same result (the body untouched, ``Accept-Encoding`` added to
    ``Vary``) for less.  Every other response is Flask-Compress's.
    """

    def after_request(self, response: Response) -> Response:
        """``after_request``: compress ``response`` as Flask-Compress does.

        :param response: the view's response.
        :returns: ``response``, compressed when it is large enough, of a
            compressible type, and the client accepts an encoding we have.
        """
        length = response.content_length
        if length is not None and length < (self.app or current_app).config["COMPRESS_MIN_SIZE"]:
            add_vary(response.headers, "Accept-Encoding")
            return response
        return super().after_request(response)


def answer_conditional_request(response: Response) -> Response:
    """``after_request`` (run after Flask-Compress): a 304 when the request's
    ``If-None-Match`` / ``If-Modified-Since`` match the compressed response.

    :param response: the response, compressed or not.
    :returns: ``response``, made conditional when it has an ``ETag`` or
        ``Last-Modified`` and the request is a GET or HEAD; unchanged otherwise.
    """
    if request.method not in CONDITIONAL_METHODS or response.is_streamed:
        return response
    if not any(name.lower() in VALIDATORS for name, _ in response.headers):
        return response
    return response.make_conditional(request)


def init_compression(app: Flask) -> Compression:
    """Bind :class:`Compression` (Flask-Compress) to ``app`` with
    :func:`answer_conditional_request` after it.

    ``after_request`` functions run in the reverse order of registration, so
    the conditional check is registered first and runs once the body is
    compressed.  An app that sets ``COMPRESS_EVALUATE_CONDITIONAL_REQUEST``
    to true gets Flask-Compress's own evaluation instead.
    """
    if not app.config.get("COMPRESS_EVALUATE_CONDITIONAL_REQUEST"):
        app.after_request(answer_conditional_request)
    return Compression(app)
