"""Typed SQLAlchemy models.

Model modules import :data:`app.extensions.db`, which itself needs
:class:`app.models.base.Base`; so this package imports only the base eagerly
and :func:`load_models` imports every model module (called by
``create_app`` so that Alembic's autogenerate sees every table).
"""

import importlib

from app.models.base import Base, TimestampMixin, UTCDateTime, utcnow
from app.models.soft_delete import INCLUDE_DELETED, SoftDeleteMixin

MODEL_MODULES = (
    "app.models.contact",
    "app.models.user",
    "app.models.story",
    "app.models.api_key",
    "app.models.user_session",
    "app.models.two_factor",
    "app.models.passkey",
)


def load_models() -> None:
    """Import every model module so its tables join ``db.metadata``."""
    for name in MODEL_MODULES:
        importlib.import_module(name)


__all__ = [
    "INCLUDE_DELETED",
    "Base",
    "SoftDeleteMixin",
    "TimestampMixin",
    "UTCDateTime",
    "load_models",
    "utcnow",
]
