"""Reusable class-based views: list, detail, create, update, delete, restore.

A team adds pages for a model by registering views, not by copying
functions; see :mod:`app.stories.routes` and :mod:`app.users` for two models
served by the same classes.
"""

from app.views.base import ModelView, allow_all
from app.views.forms import CreateView, DeleteView, RestoreView, UpdateView
from app.views.lists import DetailView, ListView
from app.views.pagination import Pagination, page_argument

__all__ = [
    "CreateView",
    "DeleteView",
    "DetailView",
    "ListView",
    "ModelView",
    "Pagination",
    "RestoreView",
    "UpdateView",
    "allow_all",
    "page_argument",
]
