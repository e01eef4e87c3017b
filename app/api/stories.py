"""``/api/v1/stories``: list, create, read, change, delete and restore stories.

Thin subclasses of the generic API views (:mod:`app.views.api`); every
permission and query comes from :mod:`app.stories.policy`, as for the HTML
pages.  Published stories are readable by everyone; drafts by their author
and admins; only the author or an admin changes, deletes or restores one.
"""

from __future__ import annotations

from typing import Any

from flask_smorest import abort as api_abort

from app.api.auth import KeyAuth
from app.api.schemas import StoryPatchSchema, StoryQuerySchema, StorySchema
from app.extensions import db
from app.models.story import Story
from app.stories import policy
from app.views.api import APIView, GroupAPI, ItemAPI


class StoryAPI(KeyAuth, policy.StoryRules, APIView):
    """What the story views share: the model, its schema and the policy's rules."""

    model = Story
    schema = StorySchema


class StoryGroup(StoryAPI, GroupAPI):
    """``GET /stories`` (filters: author, published, created_after, include_deleted)
    and ``POST /stories`` (a new story by the principal)."""

    query_schema = StoryQuerySchema
    sorts = {"-created_at": policy.NEWEST_FIRST, "created_at": ("created_at", "id")}

    def list_query(self, **filters: Any) -> Any:
        """:func:`app.stories.policy.visible_stories` for the principal.

        :raises HTTPException: 403 for ``include_deleted=true`` from anybody but an admin.
        """
        principal = self.current_principal()
        if filters.get("include_deleted") and not policy.is_admin(principal):
            api_abort(403, message="Only administrators may list deleted stories.")
        return policy.visible_stories(principal, **filters)

    def populate(self, obj: Story, data: dict[str, Any]) -> None:
        """Copy title, body and published; a new story belongs to the principal."""
        super().populate(obj, data)
        if obj.author_id is None:
            obj.author = self.current_principal()


class StoryItem(StoryAPI, ItemAPI):
    """``GET``, ``PATCH`` and ``DELETE`` (to the trash) ``/stories/<id>``."""

    update_schema = StoryPatchSchema


class StoryRestore(StoryAPI):
    """``POST /stories/<id>/restore``: bring a deleted story back (its author or an admin)."""

    def post(self, **values: Any) -> Story:
        """Restore the deleted story named by the URL; 404 for a live one or one you
        may not restore (its existence is not revealed), 401 without a principal."""
        principal = self.require_principal()
        story = (
            db.session.scalars(
                policy.deleted_stories(everyone=True).where(Story.id == values["id"])
            )
            .unique()
            .one_or_none()
        )
        if story is None or not policy.can_restore(principal, story):
            api_abort(404)
        story.restore()
        db.session.commit()
        return self.reload(story)
