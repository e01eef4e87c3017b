"""Unbound extension objects, bound to an application in :func:`app.create_app`.

Views import these (``from app.extensions import db, limiter``); nothing here
knows about a particular application.  Flask-Talisman and the Flask-Assets
environment are created per application (:mod:`flask_bastion.headers`,
:mod:`app.assets`) because they keep per-app state on themselves.
"""

from flask_bootstrap import Bootstrap5
from flask_compress import Compress
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from app.models.base import Base
from flask_bastion.ratelimit import Limiter, client_key

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = CSRFProtect()
compress = Compress()
limiter = Limiter(key_func=client_key)
login_manager = LoginManager()
bootstrap = Bootstrap5()
