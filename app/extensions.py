"""Unbound extension objects, bound to an application in :func:`app.create_app`.

Views import these (``from app.extensions import db, limiter``); nothing here
knows about a particular application.  Flask-Talisman is created per
application by :mod:`app.security.headers` because it keeps a reference to
the app it was bound to.
"""

from flask_assets import Environment
from flask_bootstrap import Bootstrap5
from flask_compress import Compress
from flask_limiter import Limiter
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from app.models.base import Base
from app.security.ratelimit import client_address

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = CSRFProtect()
compress = Compress()
limiter = Limiter(key_func=client_address)
assets = Environment()
bootstrap = Bootstrap5()
