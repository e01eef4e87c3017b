"""The baseline of ``bench/home_vs_bare.py``: the smallest Flask app there is.

It answers the three paths the benchmark measures with no extensions,
template, session, middleware or database: ``/`` and ``/stories/`` with
``Hello, World!``, ``/healthz`` with ``{"status": "ok"}`` (``jsonify``, as
Bastion's).  It is served by the same gunicorn settings as Bastion, so the
difference between the two is what Bastion adds per request:
``gunicorn -c deploy/gunicorn.conf.py --chdir bench bare_app:app``.
"""

from flask import Flask, Response, jsonify

app = Flask(__name__)


@app.get("/")
@app.get("/stories/")
def hello() -> str:
    """The whole app."""
    return "Hello, World!"


@app.get("/healthz")
def healthz() -> Response:
    """A liveness answer like Bastion's, minus its headers."""
    return jsonify({"status": "ok"})
