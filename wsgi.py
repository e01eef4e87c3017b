"""WSGI entry point for gunicorn: ``gunicorn wsgi:app``.

Production settings come from the environment (see the README).  A missing
or unsafe setting stops the start with a one-line message and exit code 3,
which gunicorn reports as a worker boot failure.
"""

import sys

from app import ConfigError, create_app

try:
    app = create_app()
except ConfigError as error:
    sys.stderr.write(f"Bastion refused to start: {error}\n")
    raise SystemExit(3) from None
