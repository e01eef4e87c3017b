"""Unbound extension objects, bound to an application in :func:`app.create_app`.

Views import these (``from app.extensions import db``); nothing here knows
about a particular application.  The security layer (:class:`flask_bastion.Bastion`, as
:class:`app.visitors.AppBastion`)
builds its per-app parts (security headers, CSRFProtect, Compress, the rate limiter)
in ``init_app``; the Flask-Assets environment is made per application too
(:mod:`app.assets`), because webassets keeps state on its bundles.
"""

from flask_bootstrap import Bootstrap5
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from app.models.base import Base
from app.visitors import AppBastion

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
bastion = AppBastion()
login_manager = LoginManager()
bootstrap = Bootstrap5()
