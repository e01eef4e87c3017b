"""Marshmallow schemas of the REST API: what is read, written and filtered.

Every schema refuses unknown fields (``unknown = RAISE``): a misspelt or
read-only field (``id``, ``author``, timestamps: ``dump_only``) is a 422,
never silently ignored.  Text is cleaned like the HTML forms'
(:func:`flask_bastion.text.clean_text`) *before* its length is checked,
and must be valid Unicode (a lone surrogate such as ``"\\udcff"`` cannot be
stored); booleans are JSON ``true``/``false`` only (query strings:
``true``/``false``); integers are bounded by what the database holds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from app.models.story import BODY_MAX_LENGTH, TITLE_MAX_LENGTH
from app.urls import MAX_ID
from app.users.policy import can_see_private
from app.views.api import request_principal
from flask_bastion.text import clean_text

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
#: A cursor longer than this is refused by validation (see app.views.keyset).
MAX_CURSOR = 512
DISPLAY_NAME_MAX_LENGTH = 80


#: Text must keep a visible character once cleaned: one that is not whitespace, a
#: control or a bidi control (what clean_text removes).  Anchored, so that it means
#: the same to marshmallow (``re.match``) and to JSON Schema (a search).
VISIBLE = validate.Regexp(
    r"^[\s\S]*[^\s\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]",
    error="Must contain a visible character.",
)


class CleanText(fields.String):
    """A string cleaned by :func:`~flask_bastion.text.clean_text` before validation.

    :param single_line: tabs and newlines become spaces (titles, names).
    """

    def __init__(self, *, single_line: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.single_line = single_line

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise self.make_error("invalid_utf8") from None
        return clean_text(text, single_line=self.single_line)

    default_error_messages = {"invalid_utf8": "Not valid Unicode text."}


class StrictBoolean(fields.Boolean):
    """JSON ``true``/``false`` only (not ``1``, ``"yes"``, ...)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if value is True or value is False:
            return value
        raise self.make_error("invalid", input=value)


class QueryBoolean(fields.Boolean):
    """A query-string boolean: ``true`` or ``false`` only."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if value in ("true", "false"):
            return value == "true"
        raise self.make_error("invalid", input=value)


class UTCDateTime(fields.AwareDateTime):
    """An ISO 8601 timestamp with its offset, as aware UTC; a naive one is refused."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        if not isinstance(value, str) or len(value) > 40:
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE)
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            return moment.astimezone(UTC)
        except OverflowError:  # 0001-01-01T00:00+01:00 has no UTC time
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE) from None


def row_id(**kwargs: Any) -> fields.Integer:
    """An id a database row can have: 1..2**31-1 (PostgreSQL ``integer``)."""
    return fields.Integer(validate=validate.Range(1, MAX_ID), **kwargs)


class Strict(ma.Schema):
    """Base: unknown fields are a 422."""

    class Meta:
        unknown = ma.RAISE


# --- users --------------------------------------------------------------------
class AuthorSchema(Strict):
    """An author as shown with a story: public fields only."""

    id = fields.Integer(dump_only=True)
    display_name = fields.String(dump_only=True)


class UserSchema(Strict):
    """An account. ``email`` is sent only to the account itself and to admins."""

    id = fields.Integer(dump_only=True)
    display_name = fields.String(dump_only=True)
    created_at = fields.AwareDateTime(dump_only=True)
    email = fields.Method("dump_email", dump_only=True)
    is_admin = fields.Boolean(dump_only=True)
    is_disabled = fields.Boolean(dump_only=True)

    def dump_email(self, user: Any) -> Any:
        """The address, or nothing at all (the member is left out) for anybody else."""
        return user.email if can_see_private(request_principal(), user) else ma.missing

    @ma.post_dump(pass_original=True)
    def hide_private(self, data: dict[str, Any], user: Any, **kwargs: Any) -> dict[str, Any]:
        """Leave out the roles (``is_admin``, ``is_disabled``) for others than self and admins."""
        if not can_see_private(request_principal(), user):
            data.pop("is_admin", None)
            data.pop("is_disabled", None)
        return data


class UserPatchSchema(Strict):
    """What an admin may change on an account."""

    display_name = CleanText(single_line=True, validate=validate.Length(1, DISPLAY_NAME_MAX_LENGTH))
    is_admin = StrictBoolean()
    is_disabled = StrictBoolean()


# --- stories ------------------------------------------------------------------
class StorySchema(Strict):
    """A story. ``title`` and ``body`` are required to create one."""

    id = fields.Integer(dump_only=True)
    title = CleanText(
        single_line=True, required=True, validate=[validate.Length(1, TITLE_MAX_LENGTH), VISIBLE]
    )
    body = CleanText(required=True, validate=[validate.Length(1, BODY_MAX_LENGTH), VISIBLE])
    published = StrictBoolean(load_default=False)
    author = fields.Nested(AuthorSchema, dump_only=True)
    created_at = fields.AwareDateTime(dump_only=True)
    updated_at = fields.AwareDateTime(dump_only=True)
    deleted_at = fields.AwareDateTime(dump_only=True, allow_none=True)


class StoryPatchSchema(Strict):
    """A partial change of a story: any of its writable fields."""

    title = CleanText(single_line=True, validate=[validate.Length(1, TITLE_MAX_LENGTH), VISIBLE])
    body = CleanText(validate=[validate.Length(1, BODY_MAX_LENGTH), VISIBLE])
    published = StrictBoolean()


# --- list parameters ----------------------------------------------------------
class ListQuerySchema(Strict):
    """``cursor`` and ``limit`` of every list (keyset pages, :mod:`app.views.keyset`)."""

    cursor = fields.String(
        validate=validate.Length(1, MAX_CURSOR),
        metadata={"description": "Opaque: from a Link header. Absent: the first page."},
    )
    limit = fields.Integer(
        load_default=DEFAULT_LIMIT,
        validate=validate.Range(1, MAX_LIMIT),
        metadata={"description": f"Rows per page, 1..{MAX_LIMIT}"},
    )


class UserQuerySchema(ListQuerySchema):
    """The user list's parameters."""

    sort = fields.String(load_default="id", validate=validate.OneOf(["id", "-id"]))


class StoryQuerySchema(ListQuerySchema):
    """The story list's parameters: sort and filters."""

    sort = fields.String(
        load_default="-created_at",
        validate=validate.OneOf(["-created_at", "created_at"]),
        metadata={"description": "Newest first (default) or oldest first"},
    )
    author = row_id(metadata={"description": "Only this author's stories (a user id)"})
    published = QueryBoolean(
        metadata={"description": "true: published only; false: drafts only (yours; admins: all)"}
    )
    created_after = UTCDateTime(
        metadata={"description": "Only stories created after this ISO 8601 time with offset"}
    )
    include_deleted = QueryBoolean(
        load_default=False,
        metadata={"description": "Admins only (others: 403): also list deleted stories"},
    )
