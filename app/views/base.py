"""The base of Bastion's generic class-based views (Flask docs, "Class-based Views").

A page is a small subclass: class attributes say what it serves, and
methods it overrides say how, as in Django's generic views::

    class StoryDetail(DetailView):
        model = Story
        template = "stories/detail.html"

        def can_view(self, story: Story) -> bool:
            return story.published

    bp.add_url_rule("/<id:id>", view_func=StoryDetail.as_view("detail"))

Name a row by ``<id:...>`` (:class:`app.urls.IdConverter`), never ``<int:...>``:
the ``id`` converter routes only ids the database can hold (1..2**31-1), so
``/stories/99999999999999999999`` is a 404 instead of an overflow in the
driver (a 500, issue 9).

Each view is a Flask :class:`~flask.views.MethodView`: ``get`` and ``post``
handle the request, and ``methods`` follows from which of them a class has.
Each class is instantiated once per registration (``init_every_request =
False``), so a view keeps nothing of a request on ``self``.

What a subclass sets or overrides:

* ``model`` (required), ``template``, ``context_name`` (the template
  variable for one object; default: the model's table name, e.g. ``story``),
  ``lookup`` (the URL value naming the object, default ``id``) and Flask's
  ``decorators``; :class:`LoginRequiredMixin` sets them to ``[login_required]``.
* :meth:`ModelView.get_query`: the statement rows are taken from; soft-deleted
  rows are already excluded by the session (:mod:`app.models.soft_delete`).
* :meth:`ModelView.current_principal`: who asks (the signed-in user or ``None``).
* :meth:`ModelView.can_view` / :meth:`ModelView.can_edit`: permission checks.
  A row the user may not see is a 404 (its existence is not revealed); a row
  the user may see but not change is a 403.
* :meth:`ModelView.get_context`: more template values.
"""

from __future__ import annotations

from typing import Any, ClassVar

from flask import abort, render_template
from flask.views import MethodView
from flask_login import current_user, login_required
from sqlalchemy import Select, func, select

from app.extensions import db
from app.views.keyset import InvalidCursor, Keyset, KeysetPage


class ModelView(MethodView):
    """Shared plumbing: the model, its template, its query and permission checks."""

    init_every_request: ClassVar[bool] = False

    #: The mapped class this view serves (required).
    model: ClassVar[type[Any]]
    #: The Jinja template to render (not used by the POST-only row actions).
    template: ClassVar[str] = ""
    #: The template variable for one object; ``None``: the model's table name.
    context_name: ClassVar[str | None] = None
    #: The URL value (and model attribute) that names one object.
    lookup: ClassVar[str] = "id"

    def get_query(self, **values: Any) -> Select[Any]:
        """The statement for this request; default ``select(model)``.

        :param values: the URL's values, except ``lookup`` for a single object.
        :returns: an ORM ``select()``; list views need its ``order_by``.
        """
        return select(self.model)

    def current_principal(self) -> Any:
        """Who is asking: the signed-in user (Flask-Login's ``current_user``) or ``None``.

        Permission rules (:mod:`app.stories.policy`) take it as their first
        argument; the API views override it to authenticate their own way.
        """
        return current_user if current_user.is_authenticated else None

    def can_view(self, obj: Any) -> bool:
        """Whether the current user may see ``obj`` (else 404); default: yes."""
        return True

    def can_edit(self, obj: Any) -> bool:
        """Whether the current user may change ``obj`` (else 403); default: yes."""
        return True

    def get_object(self, **values: Any) -> Any:
        """The row of :meth:`get_query` named by the URL's ``lookup`` value.

        :param values: the URL's values, ``lookup`` among them.
        :returns: the row, which :meth:`can_view` allows.
        :raises werkzeug.exceptions.NotFound: missing, soft-deleted (unless the
            query includes deleted rows) or not visible to this user.
        """
        key = values.pop(self.lookup)
        column = getattr(self.model, self.lookup)
        statement = self.get_query(**values).where(column == key)
        obj = db.session.scalars(statement).unique().one_or_none()
        if obj is None or not self.can_view(obj):
            abort(404)
        return obj

    def get_editable_object(self, **values: Any) -> Any:
        """:meth:`get_object`, and a 403 unless :meth:`can_edit` allows it."""
        obj = self.get_object(**values)
        if not self.can_edit(obj):
            abort(403)
        return obj

    def object_context(self, obj: Any) -> dict[str, Any]:
        """``obj`` as ``object`` and as ``context_name`` (or the model's table name)."""
        return {"object": obj, self.context_name or self.model.__tablename__: obj}

    def keyset_page(
        self, keyset: Keyset, statement: Select[Any], *, cursor: str | None, per_page: int
    ) -> KeysetPage:
        """One page of ``statement`` in ``keyset``'s order, read on the request's session.

        :raises werkzeug.exceptions.BadRequest: for a cursor that is not one of
            this list (:class:`~app.views.keyset.InvalidCursor`): a 400, never a 500.
        """
        try:
            return keyset.page(db.session, statement, cursor=cursor, per_page=per_page)
        except InvalidCursor as error:
            abort(400, description=f"{str(error).capitalize()}: start again from the first page.")

    def count(self, statement: Select[Any]) -> int:
        """How many rows ``statement`` selects (one ``SELECT count(*)`` over it).

        ``statement``'s execution options (e.g. including soft-deleted rows) apply to the count.
        """
        counting = select(func.count()).select_from(statement.subquery())
        counting = counting.execution_options(**statement.get_execution_options())
        return db.session.scalar(counting) or 0

    def get_context(self, **context: Any) -> dict[str, Any]:
        """The template's values: ``context`` (what the view computed) as it is.

        Override to add values, e.g. ``return super().get_context(extra=..., **context)``.
        """
        return context

    def render(self, **context: Any) -> str:
        """Render ``template`` with :meth:`get_context` of ``context``."""
        return render_template(self.template, **self.get_context(**context))


class LoginRequiredMixin:
    """Mixin (listed before the view class): the view requires a signed-in user.

    Anonymous visitors are redirected to the sign-in page, which returns them here.
    """

    decorators: ClassVar[list[Any]] = [login_required]
