"""``/api/v1/users``: read accounts (public fields for everyone), admins change them.

Thin subclasses of the generic API views; the rules are
:mod:`app.users.policy`.  Accounts are not created or deleted here (that is
registration and the account page); ``PATCH`` changes ``display_name``,
``is_admin`` and ``is_disabled``, for admins only, and never an admin's own
roles (so the last admin cannot lock everybody out by mistake).
"""

from __future__ import annotations

from typing import Any

from flask_smorest import abort as api_abort

from app.api.auth import KeyAuth
from app.api.schemas import UserPatchSchema, UserQuerySchema, UserSchema
from app.models.user import User
from app.stories.policy import signed_in
from app.users import policy
from app.views.api import APIView, GroupAPI, ItemAPI


class UserAPI(KeyAuth, APIView):
    """What the user views share: the model, its schema and the policy's rules."""

    model = User
    schema = UserSchema

    def get_query(self, **values: Any) -> Any:
        """:func:`app.users.policy.visible_users` for the principal."""
        return policy.visible_users(self.current_principal())

    def can_edit(self, obj: User) -> bool:
        """:func:`app.users.policy.can_edit_user`."""
        return policy.can_edit_user(self.current_principal(), obj)


class UserGroup(UserAPI, GroupAPI):
    """``GET /users``: the accounts you may see, by id."""

    methods = ["GET"]
    query_schema = UserQuerySchema
    sorts = {"id": ("id",), "-id": ("-id",)}

    def list_query(self, **filters: Any) -> Any:
        """The visible accounts (no filters besides the sort)."""
        return self.get_query()


class UserItem(UserAPI, ItemAPI):
    """``GET`` and (admins) ``PATCH /users/<id>``."""

    methods = ["GET", "PATCH"]
    update_schema = UserPatchSchema

    def populate(self, obj: User, data: dict[str, Any]) -> None:
        """Copy the changes; an admin's own roles are refused (403)."""
        me = signed_in(self.current_principal())
        roles = {"is_admin", "is_disabled"} & data.keys()
        if me is not None and me.id == obj.id and roles:
            api_abort(403, message="Administrators cannot change their own roles.")
        super().populate(obj, data)
