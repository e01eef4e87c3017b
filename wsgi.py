"""WSGI entry point for gunicorn: ``gunicorn -c deploy/gunicorn.conf.py wsgi:app``.

Production settings come from the environment (see the README).  A missing
or unsafe setting, or assets that were never built, stop the start with one
line on stderr and exit code 3.  ``deploy/gunicorn.conf.py`` preloads the app
in gunicorn's master, so that line is printed once and gunicorn itself exits
with code 3 before any worker starts.
"""

import sys

from app import ConfigError, create_app

try:
    app = create_app()
except ConfigError as error:  # AssetsNotBuiltError is a ConfigError too
    sys.stderr.write(f"Bastion refused to start: {error}\n")
    raise SystemExit(3) from None
