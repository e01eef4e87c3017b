"""``/api/v1/docs``: Swagger UI from the ``swagger-ui-bundle`` package, under the strict CSP.

The page loads only files of this app: Swagger UI's CSS and JavaScript from
the installed package (``swagger_ui_bundle.swagger_ui_path``), and its
initializer, ``app/api/static/docs.js``, which reads the document's URL
from a ``data-`` attribute (no inline script, no inline style).  Every
``<script>`` and ``<link>`` carries an ``integrity`` hash (computed once
per process) and the request's CSP nonce.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from flask import Blueprint, abort, render_template, send_from_directory, url_for
from swagger_ui_bundle import swagger_ui_path

from app.assets import sri_hash

bp = Blueprint("api_docs", __name__, url_prefix="/api/v1/docs")

SWAGGER_DIR = Path(swagger_ui_path)
OWN_DIR = Path(__file__).parent / "static"
#: The files the page may load: name -> directory.
FILES = {
    "swagger-ui.css": SWAGGER_DIR,
    "swagger-ui-bundle.js": SWAGGER_DIR,
    "swagger-ui-standalone-preset.js": SWAGGER_DIR,
    "docs.js": OWN_DIR,
}


@cache
def integrity(name: str) -> str:
    """The ``sha384-...`` Subresource Integrity value of docs file ``name``."""
    return sri_hash(FILES[name] / name)


@bp.get("/")
def page() -> str:
    """The Swagger UI page for ``/api/v1/openapi.json``."""
    files = {name: {"url": url_for(".file", name=name), "sri": integrity(name)} for name in FILES}
    return render_template("api/docs.html", files=files)


@bp.get("/files/<name>")
def file(name: str):
    """One of :data:`FILES` (anything else: 404)."""
    directory = FILES.get(name)
    if directory is None:
        abort(404)
    return send_from_directory(directory, name, max_age=3600)
