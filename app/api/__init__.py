"""The REST API under ``/api/v1``: stories and users, OpenAPI document and docs page.

:func:`init_api` binds a :class:`~app.api.core.BastionApi` (flask-smorest)
to the app, registers the resources (:mod:`app.api.stories`,
:mod:`app.api.users`) with :func:`app.views.api.register_api`, and serves
``/api/v1/openapi.json`` and the Swagger UI page ``/api/v1/docs`` from the
``swagger-ui-bundle`` package's files (no CDN), with Subresource Integrity
on every file and the page's own script as a static file, so the page
works under Bastion's strict CSP.  Every error under ``/api/`` is RFC 9457
``application/problem+json`` (:mod:`app.api.core`).
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from app.api.auth import init_key_auth
from app.api.core import APIBlueprint, BastionApi
from app.urls import MAX_ID, IdConverter
from app.views.api import register_action, register_api

API_PREFIX = "/api/v1"

bp = APIBlueprint(
    "api",
    __name__,
    url_prefix=API_PREFIX,
    description="Stories and their authors. Errors are application/problem+json (RFC 9457).",
)

from app.api import docs, stories, users  # noqa: E402  (the resources use bp)

register_api(bp, "stories", "/stories", stories.StoryItem, stories.StoryGroup)
register_action(bp, "story_restore", "/stories/<id:id>/restore", stories.StoryRestore)
register_api(bp, "users", "/users", users.UserItem, users.UserGroup)

#: The OpenAPI document's security schemes: the session cookie and API keys.
SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "cookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": "session",
        "description": "The signed-in session of the web pages; writes also need the "
        "X-CSRFToken header (the csrf_token of any form of the site).",
    },
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key: Authorization: Bearer <key> (or X-API-Key: <key>).",
    },
}

#: flask-smorest settings (set with ``config.setdefault``: an app may override them).
API_SETTINGS = {
    "API_TITLE": "Bastion API",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": API_PREFIX,
    "OPENAPI_JSON_PATH": "openapi.json",
}


def id_parameter(converter: Any) -> dict[str, Any]:
    """The OpenAPI schema of an ``<id:...>`` path parameter."""
    return {"type": "integer", "minimum": 1, "maximum": MAX_ID}


def init_api(app: Flask) -> BastionApi:
    """Bind the API to ``app`` (one :class:`BastionApi` per app) and register its routes."""
    for key, value in API_SETTINGS.items():
        app.config.setdefault(key, value)
    app.config.setdefault(
        "API_SPEC_OPTIONS",
        {
            "components": {"securitySchemes": SECURITY_SCHEMES},
            "security": [{}, {"cookie": []}, {"bearer": []}],
        },
    )
    api = BastionApi()
    api.register_converter(IdConverter, id_parameter)
    api.init_app(app)
    api.register_blueprint(bp)
    app.register_blueprint(docs.bp)
    init_key_auth(app)
    app.extensions["bastion.api"] = api
    return api
