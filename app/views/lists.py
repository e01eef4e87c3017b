"""Read views: :class:`ListView` and :class:`DetailView`."""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import Select

from app.extensions import db
from app.views.base import ModelView
from app.views.pagination import Pagination, page_argument

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100


class ListView(ModelView):
    """A paginated list: ``template`` gets ``pagination`` (a :class:`Pagination`),
    ``items`` (its rows) and the URL's values.

    Set ``per_page`` (capped to 1..``MAX_PER_PAGE``) and ``count_limit`` (rows
    counted at most for page numbers); override :meth:`get_query` for the rows
    and their order.  Other attributes: see :class:`~app.views.base.ModelView`.
    """

    #: Rows per page, capped to 1..``MAX_PER_PAGE``.
    per_page: ClassVar[int] = DEFAULT_PER_PAGE
    #: Rows counted at most (pages stop there; see :mod:`app.views.pagination`).
    count_limit: ClassVar[int] = 1000
    #: The class that runs the page's statements.
    pagination_class: ClassVar[type[Pagination]] = Pagination
    #: Read the page outside a transaction when none is open yet (see :meth:`paginate`);
    #: set it to ``False`` for a list whose request also writes.
    read_without_transaction: ClassVar[bool] = True

    def paginate(self, statement: Select[Any]) -> Pagination:
        """The ``?page=`` page of ``statement``: one statement, the rows with the capped count.

        When the request has not opened a transaction yet (an anonymous visitor:
        nothing was read before), the page is read on a connection in autocommit
        mode: one ``SELECT`` is as consistent on its own as in a transaction, and
        the ``BEGIN`` and ``ROLLBACK`` round trips are saved.  The connection's
        isolation level is restored when the request's session closes.

        :raises werkzeug.exceptions.NotFound: for a bad or empty page number.
        """
        if self.read_without_transaction and not db.session().in_transaction():
            db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        return self.pagination_class.query(
            db.session,
            statement,
            page=page_argument(),
            per_page=max(1, min(self.per_page, MAX_PER_PAGE)),
            count_limit=self.count_limit,
        )

    def get(self, **values: Any) -> str:
        """Render one page of :meth:`get_query` of the URL's ``values``."""
        pagination = self.paginate(self.get_query(**values))
        return self.render(pagination=pagination, items=pagination.items, **values)


class DetailView(ModelView):
    """One row: ``template`` gets it as ``context_name`` and as ``object``.

    Override :meth:`~app.views.base.ModelView.get_query` and
    :meth:`~app.views.base.ModelView.can_view` to choose what may be shown,
    :meth:`~app.views.base.ModelView.get_context` to add values (for example a
    bounded list of related rows).
    """

    def get(self, **values: Any) -> str:
        """Render the row named by the URL, or 404."""
        return self.render(**self.object_context(self.get_object(**values)))
