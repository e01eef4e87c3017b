"""Read views: :class:`ListView` and :class:`DetailView`."""

from __future__ import annotations

from functools import cached_property
from typing import Any, ClassVar

from flask import current_app, g, request, session
from sqlalchemy import Select

from app.extensions import db
from app.views.base import ModelView
from app.views.keyset import Keyset, KeysetPage
from app.views.page_cache import PageCache
from app.visitors import has_sign_in_cookie
from flask_bastion.headers import csp_nonce

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100


class ListView(ModelView):
    """A list paged by cursor: ``template`` gets ``page`` (a
    :class:`~app.views.keyset.KeysetPage`), ``items`` (its rows) and the URL's values.

    Set ``order_by`` (model attribute names, ``-`` for descending, the last
    one unique: see :class:`~app.views.keyset.Keyset`) and ``per_page``
    (capped to 1..``MAX_PER_PAGE``); override :meth:`get_query` for the rows
    (without ``order_by``: the keyset orders them).  ``?cursor=`` names the
    page; a damaged or foreign cursor is a 400 page.  Other attributes: see
    :class:`~app.views.base.ModelView`.
    """

    #: The ordering, e.g. ``("-created_at", "-id")`` (newest first).
    order_by: ClassVar[tuple[str, ...]] = ("id",)
    #: Rows per page, capped to 1..``MAX_PER_PAGE``.
    per_page: ClassVar[int] = DEFAULT_PER_PAGE
    #: Read the page outside a transaction when none is open yet (see :meth:`paginate`);
    #: set it to ``False`` for a list whose request also writes.
    read_without_transaction: ClassVar[bool] = True
    #: Serve anonymous visitors' pages from memory for ``LIST_CACHE_SECONDS``
    #: (:mod:`app.views.page_cache`): only for a list every anonymous visitor sees alike.
    cache_anonymous: ClassVar[bool] = False

    @cached_property
    def keyset(self) -> Keyset:
        """The :class:`Keyset` of ``model`` and ``order_by`` (built once per view)."""
        return Keyset(self.model, self.order_by)

    def get_cursor(self) -> str | None:
        """The cursor naming the page to show: ``?cursor=``; ``None`` for the first page.

        Override to return ``None`` for a view that only ever shows the first
        page (a home page's newest items).
        """
        return request.args.get("cursor")

    def paginate(self, statement: Select[Any]) -> KeysetPage:
        """The ``?cursor=`` page of ``statement``: one ``SELECT`` of ``per_page + 1`` rows.

        When the request has not opened a transaction yet (an anonymous visitor:
        nothing was read before), the page is read on a connection in autocommit
        mode: one ``SELECT`` is as consistent on its own as in a transaction, and
        the ``BEGIN`` and ``ROLLBACK`` round trips are saved.  The connection's
        isolation level is restored when the request's session closes.

        :raises werkzeug.exceptions.BadRequest: for a cursor that is not one of this list.
        """
        if self.read_without_transaction and not db.session().in_transaction():
            db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        return self.keyset_page(
            self.keyset,
            statement,
            cursor=self.get_cursor(),
            per_page=max(1, min(self.per_page, MAX_PER_PAGE)),
        )

    def page_cache(self) -> PageCache | None:
        """The app's :class:`PageCache` when this request may use it: ``cache_anonymous``
        is set and nobody is signed in (a request without a sign-in cookie is
        anonymous without loading a user: :mod:`app.visitors`); else ``None``."""
        if not self.cache_anonymous:
            return None
        if has_sign_in_cookie() and self.current_principal() is not None:
            return None
        cache: PageCache | None = current_app.extensions.get("bastion.page_cache")
        return cache

    def load_page(self, **values: Any) -> dict[str, Any]:
        """Read one page from the database: ``page`` (a :class:`KeysetPage`) and
        ``items`` (its rows), for the template.

        Override to read more with the page (e.g. counts for the rows on it):
        whatever this returns is kept with the page by the :meth:`page_cache`.

        :raises werkzeug.exceptions.BadRequest: for a cursor that is not one of this list.
        """
        page = self.paginate(self.get_query(**values))
        return {"page": page, "items": page.items}

    def cache_key(self, **values: Any) -> tuple[Any, ...]:
        """What tells this list's pages apart in the :meth:`page_cache`: the path
        prefix, the host, the endpoint, the URL's ``values`` and the cursor."""
        return (
            request.script_root,
            request.host,
            request.endpoint,
            tuple(sorted(values.items())),
            self.get_cursor(),
        )

    def read_page(self, **values: Any) -> dict[str, Any]:
        """:meth:`load_page` for the URL's ``values``, from the :meth:`page_cache` when
        it holds a fresh one.

        :raises werkzeug.exceptions.BadRequest: for a cursor that is not one of this list.
        """
        cache = self.page_cache()
        if cache is None:
            return self.load_page(**values)
        return self.read_cached_page(cache, self.cache_key(**values), values)

    def read_cached_page(
        self, cache: PageCache, key: tuple[Any, ...], values: dict[str, Any]
    ) -> dict[str, Any]:
        """The page kept in ``cache`` under ``key``, or :meth:`load_page` of ``values``
        (then kept there).

        :raises werkzeug.exceptions.BadRequest: for a cursor that is not one of this list.
        """
        loaded: dict[str, Any] | None = cache.get(key)
        if loaded is None:
            loaded = self.load_page(**values)
            cache.put(key, loaded)
        return loaded

    def get(self, **values: Any) -> str | bytes:
        """Render one page of :meth:`get_query` of the URL's ``values``; for an anonymous
        visitor without a session, the page rendered this second (see
        :mod:`app.views.page_cache`) with this request's CSP nonce, as UTF-8."""
        cache = self.page_cache()
        if cache is None or has_sign_in_cookie():
            return self.render(**self.read_page(**values), **values)
        key = self.cache_key(**values)
        kept = cache.get_html(key, csp_nonce())
        if kept is not None:
            return kept
        html = self.render(**self.read_cached_page(cache, key, values), **values)
        if not session.modified:  # the page wrote nothing of this visitor's
            cache.put_html(key, html, g.get("csp_nonce"))
        return html


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
