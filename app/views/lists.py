"""Read views: :class:`ListView` and :class:`DetailView`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import render_template

from app.extensions import db
from app.views.base import ModelView
from app.views.pagination import Pagination, page_argument

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100


class ListView(ModelView):
    """A paginated list: ``template`` gets ``pagination`` (a :class:`Pagination`) and ``items``.

    :param per_page: rows per page (capped at ``MAX_PER_PAGE``).
    :param count_limit: rows counted at most for page numbers.
    Other options: see :class:`~app.views.base.ModelView`.
    """

    def __init__(
        self,
        model: type,
        template: str,
        *,
        per_page: int = DEFAULT_PER_PAGE,
        count_limit: int = 1000,
        **options: Any,
    ) -> None:
        super().__init__(model, template, **options)
        self.per_page = max(1, min(per_page, MAX_PER_PAGE))
        self.count_limit = count_limit

    def dispatch_request(self, **values: Any) -> str:
        """Render one page of ``query(**values)``; 404 for a bad or empty page number."""
        pagination = Pagination.query(
            db.session,
            self.base_query(**values),
            page=page_argument(),
            per_page=self.per_page,
            count_limit=self.count_limit,
        )
        return render_template(
            self.template, pagination=pagination, items=pagination.items, **values
        )


class DetailView(ModelView):
    """One row: ``template`` gets it as ``context_name`` (and as ``object``).

    :param extra_context: ``callable(obj) -> dict`` of more template values
        (for example a bounded list of related rows).
    Other options: see :class:`~app.views.base.ModelView`.
    """

    def __init__(
        self,
        model: type,
        template: str,
        *,
        extra_context: Callable[[Any], dict[str, Any]] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(model, template, **options)
        self.extra_context = extra_context

    def dispatch_request(self, **values: Any) -> str:
        """Render the row named by the URL, or 404."""
        obj = self.get_object(**values)
        context = self.extra_context(obj) if self.extra_context else {}
        return render_template(self.template, object=obj, **{self.context_name: obj}, **context)
