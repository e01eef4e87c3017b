"""Story pages, made from the generic views in :mod:`app.views`."""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask_login import current_user, login_required
from sqlalchemy import Select, select
from sqlalchemy.orm import contains_eager

from app.models import INCLUDE_DELETED
from app.models.story import Story
from app.models.user import User
from app.stories import bp
from app.stories.forms import StoryForm
from app.views import CreateView, DeleteView, DetailView, ListView, RestoreView, UpdateView


# --- queries: one statement each, authors loaded in the same query ------------
def with_author(statement: Select[Any]) -> Select[Any]:
    """Join the (live) author and load it with the story: no query per author.

    The inner join also hides the stories of deleted accounts.
    """
    return statement.join(Story.author).options(contains_eager(Story.author))


def public_stories() -> Select[Any]:
    """Published stories of live authors, newest first."""
    return with_author(
        select(Story).where(Story.published).order_by(Story.created_at.desc(), Story.id.desc())
    )


def readable_stories() -> Select[Any]:
    """Stories a detail page may show (drafts too; ``can_view`` decides)."""
    return with_author(select(Story))


def own_stories() -> Select[Any]:
    """The signed-in author's live stories, drafts included, newest first."""
    return with_author(
        select(Story)
        .where(Story.author_id == current_user.id)
        .order_by(Story.created_at.desc(), Story.id.desc())
    )


def deleted_stories() -> Select[Any]:
    """Any deleted story (restoring checks ``can_edit``: 403 for other people's)."""
    return with_author(select(Story).where(Story.deleted_at.is_not(None))).execution_options(
        **{INCLUDE_DELETED: True}
    )


def own_trash() -> Select[Any]:
    """The signed-in author's deleted stories (admins: everyone's), latest deleted first."""
    statement = deleted_stories()
    if not current_user.is_admin:
        statement = statement.where(Story.author_id == current_user.id)
    return statement.order_by(Story.deleted_at.desc(), Story.id.desc())


# --- permissions ----------------------------------------------------------
def can_view(story: Story) -> bool:
    """Published stories for everyone; drafts for their author and admins."""
    return story.published or can_edit(story)


def can_edit(story: Story) -> bool:
    """Only the author, or an admin, may edit, delete or restore."""
    return current_user.is_authenticated and (
        story.author_id == current_user.id or current_user.is_admin
    )


# --- writing ----------------------------------------------------------------
def populate(story: Story, form: StoryForm) -> None:
    """Copy the cleaned form into ``story``; a new story belongs to the signed-in user."""
    story.title = form.title.data
    story.body = form.body.data
    story.published = bool(form.published.data)
    if story.author_id is None:
        author: User = current_user._get_current_object()
        story.author = author


def story_page(story: Story) -> str:
    """URL of the story's page."""
    return url_for("stories.detail", id=story.id)


def trash_page(_story: Story) -> str:
    """URL of the trash page."""
    return url_for("stories.trash")


def mine_page(_story: Story) -> str:
    """URL of the author's own stories."""
    return url_for("stories.mine")


class SignedIn:
    """Mixin: the view requires a signed-in user."""

    decorators = [login_required]


class MyStoriesView(SignedIn, ListView):
    """The author's own stories."""


class TrashView(SignedIn, ListView):
    """The author's deleted stories."""


class StoryCreateView(SignedIn, CreateView):
    """Write a new story."""


class StoryUpdateView(SignedIn, UpdateView):
    """Edit a story."""


class StoryDeleteView(SignedIn, DeleteView):
    """Delete a story (to the trash)."""


class StoryRestoreView(SignedIn, RestoreView):
    """Restore a story from the trash."""


def register(bp_: Any) -> None:
    """Register every story page on the blueprint."""
    rules = [
        ("/", ListView.as_view("index", Story, "stories/list.html", query=public_stories)),
        ("/mine", MyStoriesView.as_view("mine", Story, "stories/mine.html", query=own_stories)),
        ("/trash", TrashView.as_view("trash", Story, "stories/trash.html", query=own_trash)),
        (
            "/<int:id>",
            DetailView.as_view(
                "detail", Story, "stories/detail.html", query=readable_stories, can_view=can_view
            ),
        ),
        (
            "/new",
            StoryCreateView.as_view(
                "create", Story, "stories/form.html", form_class=StoryForm, populate=populate,
                success=story_page, message="Your story has been saved.",
            ),
        ),
        (
            "/<int:id>/edit",
            StoryUpdateView.as_view(
                "edit", Story, "stories/form.html", form_class=StoryForm, populate=populate,
                query=readable_stories, can_view=can_view, can_edit=can_edit,
                success=story_page, message="Your changes have been saved.",
            ),
        ),
        (
            "/<int:id>/delete",
            StoryDeleteView.as_view(
                "delete", Story, query=readable_stories, can_view=can_view, can_edit=can_edit,
                success=mine_page, message="The story has been moved to the trash.",
            ),
        ),
        (
            "/<int:id>/restore",
            StoryRestoreView.as_view(
                "restore", Story, query=deleted_stories, can_edit=can_edit,
                success=trash_page, message="The story has been restored.",
            ),
        ),
    ]  # fmt: skip
    for rule, view in rules:
        bp_.add_url_rule(rule, view_func=view)


register(bp)
