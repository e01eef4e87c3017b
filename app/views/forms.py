"""Write views: :class:`CreateView`, :class:`UpdateView`, :class:`DeleteView`, :class:`RestoreView`.

A subclass sets ``model``, ``form_class`` and ``message`` (flashed after a
change), and defines ``populate(obj, form)``, which copies the validated
form into the row (explicitly: a form never writes attributes it was not
meant to), and ``success_url(obj)``, where to go next.  Every change is a
POST with a CSRF token; create and update forms are shown again with the
user's input (status 422) on a validation error, and with a fresh token
after an expired one.
"""

from __future__ import annotations

from typing import Any, ClassVar

from flask import flash, redirect
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from app.extensions import db
from app.forms import form_status
from app.views.base import ModelView
from flask_bastion.errors import CSRFRerenderForm


class _ChangeView(ModelView):
    """What the write views share: the message and where to go after a change."""

    #: Flashed (category ``success``) after a change; empty: nothing flashed.
    message: ClassVar[str] = ""

    def success_url(self, obj: Any) -> str:  # pragma: no cover - abstract
        """Where to redirect once ``obj`` is changed and committed."""
        raise NotImplementedError(f"{type(self).__name__} must define success_url(obj)")

    def get_message(self, obj: Any) -> str:
        """What to flash (category ``success``) once ``obj`` is changed; default ``message``.

        Override to name the row, e.g. ``f"“{obj.title}” is in the trash."``
        (flashes are escaped when shown, so row data is safe in them).
        """
        return self.message

    def _done(self, obj: Any) -> Response:
        db.session.commit()
        message = self.get_message(obj)
        if message:
            flash(message, "success")
        return redirect(self.success_url(obj))


class _FormView(_ChangeView):
    #: The form; a :class:`CSRFRerenderForm` lets an expired token re-show it.
    form_class: ClassVar[type[FlaskForm]]

    @classmethod
    def as_view(cls, name: str, *class_args: Any, **class_kwargs: Any) -> Any:
        """Flask's ``as_view``, marking the view safe to re-show after a CSRF failure.

        Only form views whose ``form_class`` is a :class:`CSRFRerenderForm`
        (it never validates during the re-run) are marked; delete and restore
        views have no form and must never be re-run.
        """
        view = super().as_view(name, *class_args, **class_kwargs)
        form_class = getattr(cls, "form_class", None)
        view.csrf_rerender = isinstance(form_class, type) and issubclass(
            form_class, CSRFRerenderForm
        )
        return view

    def get_form(self, obj: Any = None) -> FlaskForm:
        """A ``form_class`` with the request's data, or filled from ``obj`` on a GET."""
        return self.form_class(obj=obj)

    def populate(self, obj: Any, form: FlaskForm) -> None:  # pragma: no cover - abstract
        """Copy the validated ``form`` into ``obj`` (nothing is committed yet)."""
        raise NotImplementedError(f"{type(self).__name__} must define populate(obj, form)")

    def render_form(self, form: FlaskForm, **context: Any) -> tuple[str, int]:
        """The page with ``form`` and ``context``, with its status (200, 422, or 400)."""
        return self.render(form=form, **context), form_status(form)


class CreateView(_FormView):
    """Show an empty form; on a valid POST create a row with ``populate`` and redirect.

    ``template`` gets ``form`` and the URL's values.
    """

    def get(self, **values: Any) -> tuple[str, int]:
        """The empty form."""
        return self.render_form(self.get_form(), **values)

    def post(self, **values: Any) -> Response | tuple[str, int]:
        """Validate; create, commit and redirect to ``success_url(obj)``, or show the errors."""
        form = self.get_form()
        if not form.validate_on_submit():
            return self.render_form(form, **values)
        obj = self.model()
        self.populate(obj, form)
        db.session.add(obj)
        return self._done(obj)


class UpdateView(_FormView):
    """Edit a row the user may see (``can_view``, else 404) and change (``can_edit``, else 403).

    ``template`` gets ``form`` and the row as ``context_name`` and ``object``.
    """

    def get(self, **values: Any) -> tuple[str, int]:
        """The form filled from the row."""
        obj = self.get_editable_object(**values)
        return self.render_form(self.get_form(obj), **self.object_context(obj))

    def post(self, **values: Any) -> Response | tuple[str, int]:
        """Validate; update, commit and redirect to ``success_url(obj)``, or show the errors."""
        obj = self.get_editable_object(**values)
        form = self.get_form(obj)
        if not form.validate_on_submit():
            return self.render_form(form, **self.object_context(obj))
        self.populate(obj, form)
        return self._done(obj)


class _RowActionView(_ChangeView):
    """POST only: apply :meth:`act` to a row the user may change, then redirect."""

    def act(self, obj: Any) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def post(self, **values: Any) -> Response:
        """Load (404), authorize (403), act, commit and redirect to ``success_url(obj)``."""
        obj = self.get_editable_object(**values)
        self.act(obj)
        return self._done(obj)


class DeleteView(_RowActionView):
    """GET: ask to confirm; POST: soft-delete a row the user may change, then redirect.

    ``template`` is the confirmation page: it gets the row (as ``context_name``
    and ``object``) and holds a form that POSTs here.  It is the page a
    browser without JavaScript lands on from a "Delete" link; with JavaScript
    the row's own page asks in a dialog and POSTs directly.  A GET changes
    nothing (RFC 9110 section 9.2.1: GET is safe).
    """

    def get(self, **values: Any) -> str:
        """The confirmation page for a row the user may change (404 / 403 otherwise)."""
        return self.render(**self.object_context(self.get_editable_object(**values)))

    def act(self, obj: Any) -> None:
        """Move ``obj`` to the trash."""
        obj.soft_delete()


class RestoreView(_RowActionView):
    """POST only: restore a soft-deleted row (its ``get_query`` must include deleted rows)."""

    def act(self, obj: Any) -> None:
        """Bring ``obj`` back from the trash."""
        obj.restore()
