"""Reusable class-based views: list, detail, create, update, delete, restore.

A team adds pages for a model by writing small subclasses that set the
model and template and override the methods they need (``get_query``,
``can_view``, ``can_edit``, ``populate``, ``success_url``, ...), not by
copying functions; see :mod:`app.stories.routes` and :mod:`app.users` for
two models served by the same classes.
"""

from app.views.base import LoginRequiredMixin, ModelView
from app.views.forms import CreateView, DeleteView, RestoreView, UpdateView
from app.views.keyset import InvalidCursor, Keyset, KeysetPage
from app.views.lists import DetailView, ListView

__all__ = [
    "CreateView",
    "DeleteView",
    "DetailView",
    "InvalidCursor",
    "Keyset",
    "KeysetPage",
    "ListView",
    "LoginRequiredMixin",
    "ModelView",
    "RestoreView",
    "UpdateView",
]
