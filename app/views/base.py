"""The base of Bastion's generic class-based views (Flask docs, "Class-based Views").

A view class is instantiated once per registration (``init_every_request =
False``) with the model and template it serves::

    bp.add_url_rule("/<int:id>", view_func=DetailView.as_view(
        "detail", model=Story, template="stories/detail.html", query=public_stories))

Options are plain keyword arguments, so one class serves any model:

* ``query``: ``callable(**url_values) -> Select``; defaults to ``select(model)``.
  Soft-deleted rows are already excluded by the session (:mod:`app.models.soft_delete`).
* ``can_view`` / ``can_edit``: ``callable(obj) -> bool`` permission checks.
  A row the user may not see is a 404 (its existence is not revealed); a row
  the user may see but not change is a 403.
* ``context_name``: the template variable for the object (default: the
  model's table name, e.g. ``story``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from flask import abort
from flask.views import View
from sqlalchemy import Select, select

from app.extensions import db

Permission = Callable[[Any], bool]
QueryFactory = Callable[..., Select[Any]]


def allow_all(_obj: Any) -> bool:
    """A permission that always allows."""
    return True


class ModelView(View):
    """Shared plumbing: the model, its template, its query and permission checks."""

    init_every_request: ClassVar[bool] = False

    def __init__(
        self,
        model: type,
        template: str,
        *,
        query: QueryFactory | None = None,
        can_view: Permission = allow_all,
        can_edit: Permission = allow_all,
        context_name: str | None = None,
        lookup: str = "id",
    ) -> None:
        self.model = model
        self.template = template
        self.query_factory = query
        self.can_view = can_view
        self.can_edit = can_edit
        self.context_name = context_name or model.__tablename__
        self.lookup = lookup

    def base_query(self, **values: Any) -> Select[Any]:
        """The statement for this request: the ``query`` option or ``select(model)``."""
        if self.query_factory is not None:
            return self.query_factory(**values)
        return select(self.model)

    def get_object(self, **values: Any) -> Any:
        """The row named by the URL's ``lookup`` value, or a 404.

        :raises werkzeug.exceptions.NotFound: missing, soft-deleted, or not
            visible to this user (``can_view``).
        """
        key = values.pop(self.lookup)
        column = getattr(self.model, self.lookup)
        statement = self.base_query(**values).where(column == key)
        obj = db.session.scalars(statement).unique().one_or_none()
        if obj is None or not self.can_view(obj):
            abort(404)
        return obj

    def authorize_edit(self, obj: Any) -> None:
        """403 unless ``can_edit(obj)``."""
        if not self.can_edit(obj):
            abort(403)
