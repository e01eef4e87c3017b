"""Write views: :class:`CreateView`, :class:`UpdateView`, :class:`DeleteView`, :class:`RestoreView`.

Each takes the model and its form class; ``populate(obj, form)`` copies the
validated form into the row (explicitly: a form never writes attributes it
was not meant to), and ``success(obj)`` returns where to go next.  Every
change is a POST with a CSRF token; create and update forms are shown again
with the user's input (status 422) on a validation error, and with a fresh
token after an expired one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, redirect, render_template
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from app.extensions import db
from app.forms import form_status
from app.security.errors import CSRFRerenderForm
from app.views.base import ModelView

Populate = Callable[[Any, FlaskForm], None]
Success = Callable[[Any], str]


class _ChangeView(ModelView):
    """Common options of the write views."""

    def __init__(
        self,
        model: type,
        template: str = "",
        *,
        success: Success,
        message: str = "",
        **options: Any,
    ) -> None:
        super().__init__(model, template, **options)
        self.success = success
        self.message = message

    def _done(self, obj: Any) -> Response:
        db.session.commit()
        if self.message:
            flash(self.message, "success")
        return redirect(self.success(obj))


class _FormView(_ChangeView):
    methods = ["GET", "POST"]

    def __init__(
        self, model: type, template: str, *, form_class: type[FlaskForm], populate: Populate,
        **options: Any,
    ) -> None:  # fmt: skip
        super().__init__(model, template, **options)
        self.form_class = form_class
        self.populate = populate

    @classmethod
    def as_view(cls, name: str, *args: Any, **kwargs: Any) -> Any:
        """Flask's ``as_view``, marking the view safe to re-show after a CSRF failure.

        Only form views whose ``form_class`` is a :class:`CSRFRerenderForm`
        (it never validates during the re-run) are marked; delete and restore
        views have no form and must never be re-run.
        """
        view = super().as_view(name, *args, **kwargs)
        form_class = kwargs.get("form_class")
        view.csrf_rerender = isinstance(form_class, type) and issubclass(
            form_class, CSRFRerenderForm
        )
        return view

    def _render(self, form: FlaskForm, **context: Any) -> tuple[str, int]:
        return render_template(self.template, form=form, **context), form_status(form)


class CreateView(_FormView):
    """Show an empty form; on a valid POST create a row with ``populate`` and redirect."""

    def dispatch_request(self, **values: Any) -> Response | tuple[str, int]:
        """GET: the form.  POST: validate, create, redirect to ``success(obj)``."""
        form = self.form_class()
        if form.validate_on_submit():
            obj = self.model()
            self.populate(obj, form)
            db.session.add(obj)
            return self._done(obj)
        return self._render(form, **values)


class UpdateView(_FormView):
    """Edit a row the user may change (``can_edit``, else 403)."""

    def dispatch_request(self, **values: Any) -> Response | tuple[str, int]:
        """GET: the form filled from the row.  POST: validate, update, redirect."""
        obj = self.get_object(**values)
        self.authorize_edit(obj)
        form = self.form_class(obj=obj)
        if form.validate_on_submit():
            self.populate(obj, form)
            return self._done(obj)
        return self._render(form, object=obj, **{self.context_name: obj})


class _RowActionView(_ChangeView):
    """POST only: apply :meth:`act` to a row the user may change, then redirect."""

    methods = ["POST"]

    def act(self, obj: Any) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def dispatch_request(self, **values: Any) -> Response:
        """Load (404), authorize (403), act, commit and redirect to ``success(obj)``."""
        obj = self.get_object(**values)
        self.authorize_edit(obj)
        self.act(obj)
        return self._done(obj)


class DeleteView(_RowActionView):
    """POST only: soft-delete a row the user may change, then redirect."""

    def act(self, obj: Any) -> None:
        """Move ``obj`` to the trash."""
        obj.soft_delete()


class RestoreView(_RowActionView):
    """POST only: restore a soft-deleted row (its ``query`` must include deleted rows)."""

    def act(self, obj: Any) -> None:
        """Bring ``obj`` back from the trash."""
        obj.restore()
