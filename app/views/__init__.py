"""Reusable class-based views: list, detail, create, update, delete, restore.

A team adds pages for a model by writing small subclasses that set the
model and template and override the methods they need (``get_query``,
``can_view``, ``can_edit``, ``populate``, ``success_url``, ...), not by
copying functions; see :mod:`app.stories.routes` and :mod:`app.users` for
two models served by the same classes.
"""

from app.views.base import LoginRequiredMixin, ModelView
from app.views.forms import CreateView, DeleteView, RestoreView, UpdateView
from app.views.lists import DetailView, ListView
from app.views.pagination import Pagination, page_argument

__all__ = [
    "CreateView",
    "DeleteView",
    "DetailView",
    "ListView",
    "LoginRequiredMixin",
    "ModelView",
    "Pagination",
    "RestoreView",
    "UpdateView",
    "page_argument",
]
