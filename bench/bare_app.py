"""The baseline of ``bench/home_vs_bare.py``: the smallest Flask app there is.

One route, ``/``, answering ``Hello, World!`` with no extensions, template,
session, middleware or database.  It is served by the same gunicorn
settings as Bastion, so the difference between the two is what Bastion
adds per request: ``gunicorn --chdir bench bare_app:app``.
"""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    """The whole app."""
    return "Hello, World!"
