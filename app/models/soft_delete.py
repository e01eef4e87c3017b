"""Soft delete: a ``deleted_at`` column, and queries that never see deleted rows.

The pattern Miguel Grinberg describes for Flask-SQLAlchemy, built on
SQLAlchemy's "Adding global WHERE / ON criteria" recipe: a
``do_orm_execute`` listener adds ``with_loader_criteria`` to every ORM
``SELECT`` (including relationship loads and joined entities), so rows
whose ``deleted_at`` is set are invisible to ``select()``, counts,
relationships and joins.  A query sees them only when it asks::

    db.session.scalars(select(User).execution_options(include_deleted=True))

``Session.get()`` honours the rule too, but an object already in the
session's identity map is returned (and, if expired, refreshed) without the
filter, so that objects you hold stay readable.  Use a new session, or
``db.session.get(Model, id, populate_existing=True)``, to see a deletion
committed since.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import event
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column, with_loader_criteria

from app.models.base import UTCDateTime, utcnow

INCLUDE_DELETED = "include_deleted"


class SoftDeleteMixin:
    """Adds ``deleted_at`` (aware UTC, ``None`` while the row is live)."""

    deleted_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), default=None, nullable=True, index=True
    )

    @property
    def is_deleted(self) -> bool:
        """True once :meth:`soft_delete` was called (and not undone)."""
        return self.deleted_at is not None

    def soft_delete(self, when: datetime | None = None) -> None:
        """Mark the row deleted now (or at ``when``); commit to make it stick."""
        self.deleted_at = when or utcnow()

    def restore(self) -> None:
        """Undo :meth:`soft_delete`."""
        self.deleted_at = None


def _exclude_deleted(state: ORMExecuteState) -> None:
    if (
        state.is_select
        and not state.is_column_load
        and not state.execution_options.get(INCLUDE_DELETED, False)
    ):
        state.statement = state.statement.options(
            with_loader_criteria(
                SoftDeleteMixin,
                lambda cls: cls.deleted_at.is_(None),
                include_aliases=True,
            )
        )


def install_soft_delete(session_class: type[Session]) -> None:
    """Register the soft-delete filter on every session of ``session_class`` (idempotent)."""
    if not event.contains(session_class, "do_orm_execute", _exclude_deleted):
        event.listen(session_class, "do_orm_execute", _exclude_deleted)
