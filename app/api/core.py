"""flask-smorest made to answer like the rest of Bastion.

* :class:`BastionApi` answers every HTTP error through Bastion's own handler
  (:func:`flask_bastion.errors.handle_http_exception`): RFC 9457
  ``application/problem+json`` under ``/api/`` (HTML pages elsewhere, as
  before), with the validation messages of a 422 as the extension member
  ``errors`` (``{"field": ["message", ...]}``), never flask-smorest's
  ``{"code": ..., "status": ...}`` body.  It overrides the documented
  ``handle_http_exception`` hook of ``Api`` and the ``ERROR_SCHEMA`` it
  documents errors with, and describes each error response in the OpenAPI
  document as ``application/problem+json``.
* :class:`JSONParser` reads request bodies: 415 unless ``Content-Type`` is
  JSON (RFC 9110 section 15.5.16), 400 for a body that is not JSON, too
  deeply nested, or not UTF-8.
* :class:`APIBlueprint` uses that parser and includes the ``Link`` header in
  a list's ETag.
"""

from __future__ import annotations

import http
import json
from typing import Any

import marshmallow as ma
from flask import Response, request
from flask_smorest import Api, Blueprint
from flask_smorest import abort as api_abort
from webargs import core
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import HTTPException

from flask_bastion.errors import PROBLEM_JSON, handle_http_exception


class ProblemSchema(ma.Schema):
    """An RFC 9457 problem document, as Bastion sends it (documentation only)."""

    type = ma.fields.String(required=True, metadata={"description": "Always about:blank"})
    title = ma.fields.String(required=True, metadata={"description": "The status's name"})
    status = ma.fields.Integer(required=True, metadata={"description": "The HTTP status"})
    detail = ma.fields.String(required=True, metadata={"description": "What to do about it"})
    instance = ma.fields.String(required=True, metadata={"description": "The request's path"})
    request_id = ma.fields.String(
        required=True, metadata={"description": "Quote it when reporting a problem"}
    )
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        metadata={"description": "422 only: the messages of each invalid field or parameter"},
    )


class JSONParser(FlaskParser):
    """webargs' Flask parser with strict JSON bodies (see the module docstring)."""

    def load_json(self, req: Any, schema: ma.Schema) -> Any:
        """The request's JSON body (webargs' public location loader for ``json``).

        :raises HTTPException: 415 when the body is not declared
            ``application/json`` (or ``+json``); 400 when it does not parse,
            nests deeper than Python's recursion limit, or is not UTF-8.
        """
        if not req.is_json:
            api_abort(415, message="Send the body as application/json.")
        raw = req.get_data(cache=True)
        if not raw:
            return core.missing
        try:
            return json.loads(raw)
        except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError
            api_abort(400, message="The body is not valid JSON (RFC 8259, UTF-8).")


class APIBlueprint(Blueprint):
    """A flask-smorest blueprint with :class:`JSONParser` and ``Link`` in list ETags."""

    ARGUMENTS_PARSER = JSONParser()
    ETAG_INCLUDE_HEADERS = ["Link"]


#: The problem document's schema component, named by every error response of the document.
PROBLEM_SCHEMA = "Problem"

#: Errors each API operation may answer, described as problem+json in the document.
ERROR_STATUSES = (400, 401, 403, 404, 405, 412, 413, 415, 422, 428, 429, 500, 503)


class BastionApi(Api):
    """flask-smorest's ``Api`` whose errors are Bastion's problem+json (module docstring)."""

    # The schema's name, not the class: flask-smorest documents about 80 error
    # statuses per app, and apispec would make and deep-copy a schema object
    # for each (a third of create_app's time); a name is a plain $ref.
    ERROR_SCHEMA = PROBLEM_SCHEMA

    def init_app(self, app: Any, *, spec_kwargs: dict[str, Any] | None = None) -> None:
        """``Api.init_app``, then problem+json error responses and shared headers in the spec."""
        super().init_app(app, spec_kwargs=spec_kwargs)
        components = self.spec.components
        components.schema(PROBLEM_SCHEMA, schema=ProblemSchema)
        for status in ERROR_STATUSES:
            phrase = http.HTTPStatus(status)
            response = {
                "description": phrase.phrase,
                "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}},
            }
            # Lazy, like flask-smorest's own: only referenced ones appear.
            components.response(phrase.name, response, lazy=True)
        components.response(
            self.DEFAULT_ERROR_RESPONSE_NAME,
            {
                "description": "Any other error",
                "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}},
            },
            lazy=True,
        )
        components.header(
            "LINK",
            {
                "description": 'Next and previous pages (RFC 8288): rel="next", rel="prev"',
                "schema": {"type": "string"},
            },
        )
        components.header(
            "LOCATION",
            {"description": "The URL of the new row", "schema": {"type": "string"}},
        )

    def handle_http_exception(self, error: HTTPException) -> Response:  # type: ignore[override]
        """Any HTTP error of the app, as Bastion answers it, with the API's extra members.

        Reads what webargs' ``abort`` attached to ``error.data``: ``message``
        (becomes ``detail``), ``messages`` or ``errors`` (the ``errors``
        member, each location's field messages merged) and ``headers``.
        A 304 (``If-None-Match`` matched) is an empty response with its ETag.
        """
        if error.code == 304:
            response = Response(status=304)
            tags = request.if_none_match.as_set()
            if len(tags) == 1:
                response.set_etag(next(iter(tags)))
            return response
        data = getattr(error, "data", None) or {}
        extra: dict[str, Any] = {}
        messages = data.get("errors") or data.get("messages")
        if error.code == 422 and isinstance(messages, dict):
            merged: dict[str, Any] = {}
            for location, location_messages in messages.items():
                if isinstance(location_messages, dict):
                    merged.update(location_messages)
                else:  # a message about the whole body or query string
                    merged[location] = location_messages
            extra["errors"] = merged
        return handle_http_exception(
            error, detail=data.get("message"), extra=extra, headers=data.get("headers")
        )
