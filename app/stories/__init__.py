"""Stories: the public list and pages, and each author's own stories, drafts and trash."""

from flask import Blueprint

bp = Blueprint("stories", __name__, url_prefix="/stories")

from app.stories import routes  # noqa: E402,F401  (registers the views)
