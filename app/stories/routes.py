"""Story pages: small subclasses of the generic views in :mod:`app.views`.

Who may see or change a story, and which stories a list shows, is decided
in :mod:`app.stories.policy` (shared with the REST API); these views only
say which rule each page applies.
"""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask_login import current_user
from sqlalchemy import Select

from app.models.story import Story
from app.models.user import User
from app.stories import bp
from app.stories.forms import StoryForm
from app.stories.policy import (
    NEWEST_FIRST,
    StoryRules,
    can_restore,
    deleted_stories,
    published_stories,
    stories_of,
)
from app.views import (
    CreateView,
    DeleteView,
    DetailView,
    ListView,
    LoginRequiredMixin,
    RestoreView,
    UpdateView,
)


# --- reading ----------------------------------------------------------------
class StoryList(ListView):
    """The public list: published stories, newest first."""

    model = Story
    template = "stories/list.html"
    order_by = NEWEST_FIRST
    cache_anonymous = True

    def get_query(self, **values: Any) -> Select[Any]:
        """Published stories of live authors."""
        return published_stories()


class MyStories(LoginRequiredMixin, ListView):
    """The signed-in author's stories, drafts included."""

    model = Story
    template = "stories/mine.html"
    order_by = NEWEST_FIRST

    def get_query(self, **values: Any) -> Select[Any]:
        """The signed-in author's live stories."""
        return stories_of(current_user.id)

    def get_context(self, **context: Any) -> dict[str, Any]:
        """Add ``in_trash``: how many of the author's stories are in the trash, counted
        only for an empty first page (to say where the stories went)."""
        page = context["page"]
        if page.is_first and not page.items:
            mine = deleted_stories(current_user).where(Story.author_id == current_user.id)
            context["in_trash"] = self.count(mine)
        return super().get_context(**context)


class Trash(LoginRequiredMixin, ListView):
    """The signed-in author's deleted stories (admins: everyone's)."""

    model = Story
    template = "stories/trash.html"
    order_by = ("-deleted_at", "-id")

    def get_query(self, **values: Any) -> Select[Any]:
        """The author's deleted stories (admins: all); latest deleted first."""
        return deleted_stories(current_user)


class StoryDetail(StoryRules, DetailView):
    """One story's page (drafts: 404 but for their author and admins)."""

    template = "stories/detail.html"


# --- writing ----------------------------------------------------------------
class StoryWriting(LoginRequiredMixin, StoryRules):
    """Mixin for the story form pages: the form, how it is saved, where it goes next."""

    template = "stories/form.html"
    form_class = StoryForm

    def populate(self, story: Story, form: StoryForm) -> None:
        """Copy the cleaned form into ``story``; a new story belongs to the signed-in user."""
        story.title = form.title.data
        story.body = form.body.data
        story.published = bool(form.published.data)
        if story.author_id is None:
            author: User = current_user._get_current_object()
            story.author = author

    def success_url(self, story: Story) -> str:
        """The story's page."""
        return url_for("stories.detail", id=story.id)


class StoryCreate(StoryWriting, CreateView):
    """Write a new story."""

    message = "Your story has been saved."


class StoryEdit(StoryWriting, UpdateView):
    """Edit a story (someone else's: 403; someone else's draft: 404)."""

    message = "Your changes have been saved."


class StoryDelete(LoginRequiredMixin, StoryRules, DeleteView):
    """Move a story to the trash (GET: the confirmation page for browsers without JavaScript)."""

    template = "stories/delete.html"

    def get_message(self, story: Story) -> str:
        """Name the story and say where it went."""
        return f"“{story.title}” is in the trash. You can restore it from there."

    def success_url(self, story: Story) -> str:
        """The author's own stories."""
        return url_for("stories.mine")


class StoryRestore(LoginRequiredMixin, StoryRules, RestoreView):
    """Bring a story back from the trash."""

    def get_message(self, story: Story) -> str:
        """Name the story that came back."""
        return f"“{story.title}” has been restored."

    def get_query(self, **values: Any) -> Select[Any]:
        """Deleted stories only: restoring a live one is a 404."""
        return deleted_stories(everyone=True)

    def can_view(self, story: Story) -> bool:
        """Someone else's deleted story is hidden like every other hidden row: 404.

        A 403 would tell that the story exists (issue 9).
        """
        return can_restore(self.current_principal(), story)

    def success_url(self, story: Story) -> str:
        """The restored story's page: the user sees what came back."""
        return url_for("stories.detail", id=story.id)


bp.add_url_rule("/", view_func=StoryList.as_view("index"))
bp.add_url_rule("/mine", view_func=MyStories.as_view("mine"))
bp.add_url_rule("/trash", view_func=Trash.as_view("trash"))
bp.add_url_rule("/<id:id>", view_func=StoryDetail.as_view("detail"))
bp.add_url_rule("/new", view_func=StoryCreate.as_view("create"))
bp.add_url_rule("/<id:id>/edit", view_func=StoryEdit.as_view("edit"))
bp.add_url_rule("/<id:id>/delete", view_func=StoryDelete.as_view("delete"))
bp.add_url_rule("/<id:id>/restore", view_func=StoryRestore.as_view("restore"))
