"""Generic REST views: :class:`GroupAPI`, :class:`ItemAPI` and :func:`register_api`.

The pattern of Flask's guide "Class-based Views", section "Method
Dispatching and APIs": one :class:`~flask.views.MethodView` for a
collection (``GET`` a page of it, ``POST`` a new member) and one for a
member (``GET``, ``PATCH``, ``DELETE``), registered together by
:func:`register_api`.  flask-smorest's decorators are applied there, from
the schemas a subclass names, so validation, ETags and the OpenAPI
document follow from the class attributes::

    class StoryItem(StoryAPI, ItemAPI):
        schema = StorySchema
        update_schema = StoryPatchSchema

    register_api(bp, "stories", "/stories", StoryItem, StoryGroup)

Behaviour lives in methods a subclass overrides, as in the HTML generic
views (:mod:`app.views.base`): :meth:`APIView.authenticate` (who asks),
``get_query``, ``can_view`` (else 404), ``can_edit`` (else 403),
:meth:`GroupAPI.can_create`, :meth:`APIView.populate` (copy validated input
into a row) and :meth:`GroupAPI.list_query` (a page's rows from its filters).

Status codes (RFC 9110): 401 with ``WWW-Authenticate`` for a write without
a principal, 404 for a row the principal may not see (its existence is not
revealed), 403 for one it may see but not change, 428 for a ``PATCH`` or
``DELETE`` without ``If-Match`` and 412 when its ETag is stale (RFC 9110
sections 13.1.1 and 15.5.13; RFC 6585 section 3), 304 for a ``GET`` whose
``If-None-Match`` names the current ETag.  Lists page by cursor
(:class:`~app.views.keyset.Keyset`) with ``Link`` headers (RFC 8288).
"""

from __future__ import annotations

from functools import cached_property
from http import HTTPStatus
from typing import Any, ClassVar

import marshmallow as ma
from flask import g, request, url_for
from flask_login import current_user
from flask_smorest import Blueprint
from flask_smorest import abort as api_abort

from app.extensions import db
from app.views.base import ModelView
from app.views.keyset import Keyset

#: ``WWW-Authenticate`` of a 401 (RFC 9110 section 11.6.1; RFC 6750 for ``Bearer``).
WWW_AUTHENTICATE = 'Bearer realm="api"'
#: Where :meth:`APIView.current_principal` keeps the request's principal.
PRINCIPAL_KEY = "api_principal"
_UNSET = object()


def request_principal() -> Any:
    """The principal an API view authenticated in this request (``None``: anonymous).

    For code that runs after the view began, such as a schema that dumps
    private fields for some principals only.
    """
    principal = g.get(PRINCIPAL_KEY, None)
    return None if principal is _UNSET else principal


class APIView(ModelView):
    """What both API views share: authentication, the schema, the blueprint.

    Class attributes: ``model`` (as every :class:`ModelView`), ``schema``
    (the marshmallow schema a row is read and written with) and
    ``blueprint`` (set by :func:`register_api`; ETag checks go through it).
    """

    #: The schema rows are dumped with (and, for ``POST``, loaded with).
    schema: ClassVar[type[ma.Schema]]
    #: The flask-smorest blueprint the view is registered on (set by :func:`register_api`).
    blueprint: ClassVar[Blueprint]

    def authenticate(self) -> Any:
        """Who sends this request: a user, or ``None`` for an anonymous client.

        Default: the session cookie (Flask-Login's ``current_user``), whose
        writes keep Bastion's CSRF check.  Override it for another scheme;
        it is called at most once per request (:meth:`current_principal`).
        """
        return current_user if current_user.is_authenticated else None

    def current_principal(self) -> Any:
        """:meth:`authenticate`'s answer, computed once per request."""
        principal = g.get(PRINCIPAL_KEY, _UNSET)
        if principal is _UNSET:
            principal = self.authenticate()
            setattr(g, PRINCIPAL_KEY, principal)
        return principal

    def require_principal(self) -> Any:
        """The principal, or a 401 with ``WWW-Authenticate`` (RFC 9110 section 15.5.2)."""
        principal = self.current_principal()
        if principal is None:
            api_abort(
                401,
                message="Sign in, or send an API key, to do that.",
                headers={"WWW-Authenticate": WWW_AUTHENTICATE},
            )
        return principal

    def populate(self, obj: Any, data: dict[str, Any]) -> None:
        """Copy validated input ``data`` into ``obj``; override for side effects.

        Default: each key of ``data`` (only fields the schema loads, so never
        a ``dump_only`` one) is set as an attribute.
        """
        for name, value in data.items():
            setattr(obj, name, value)

    def reload(self, obj: Any) -> Any:
        """``obj`` read again through :meth:`get_query` after a commit (which expired it),
        so that its relationships load as the query says (no lazy load per row)."""
        return self.get_object(**{self.lookup: getattr(obj, self.lookup)})

    def check_etag(self, obj: Any) -> None:
        """412 unless ``If-Match`` names ``obj``'s current ETag (RFC 9110 section 13.1.1)."""
        self.blueprint.check_etag(obj, self.schema)


class GroupAPI(APIView):
    """A collection: ``GET`` one page of it, ``POST`` a new member.

    Class attributes: ``query_schema`` (the list's query parameters, unknown
    ones refused), ``sorts`` (each ``sort`` value and its keyset ordering,
    ending in a unique key), ``default_sort``, and :data:`DEFAULT_LIMIT` /
    :data:`MAX_LIMIT` of the ``limit`` parameter (enforced by the schema).
    """

    #: The list's query parameters (a :class:`ListQuerySchema` subclass).
    query_schema: ClassVar[type[ma.Schema]]
    #: ``sort`` value -> keyset keys, e.g. ``{"-created_at": ("-created_at", "-id")}``.
    sorts: ClassVar[dict[str, tuple[str, ...]]] = {"id": ("id",)}
    #: Status of a successful ``POST``.
    created_status: ClassVar[int] = 201

    @cached_property
    def keysets(self) -> dict[str, Keyset]:
        """The :class:`Keyset` of each ``sort`` value (built once per view)."""
        return {sort: Keyset(self.model, keys) for sort, keys in self.sorts.items()}

    def list_query(self, **filters: Any) -> Any:
        """The rows of one list, from its validated filters (no ``order_by``).

        Default: :meth:`get_query` whatever the filters; override to apply them.
        """
        return self.get_query()

    def can_create(self, data: dict[str, Any]) -> bool:
        """Whether the principal may create a row from ``data`` (else 403); default: yes."""
        return True

    def get(self, args: dict[str, Any]) -> Any:
        """One page of the list: ``limit`` rows after ``cursor``, in ``sort`` order.

        :returns: the rows, with ``Link`` headers (RFC 8288) to the next and
            previous pages: absolute URLs under the path prefix, keeping the filters.
        :raises HTTPException: 400 for a cursor that is not one of this list.
        """
        filters = dict(args)
        cursor = filters.pop("cursor", None)
        limit = filters.pop("limit")
        sort = filters.pop("sort")
        page = self.keyset_page(
            self.keysets[sort], self.list_query(**filters), cursor=cursor, per_page=limit
        )
        links = [
            f'<{self.page_url(next_cursor=value)}>; rel="{rel}"'
            for rel, value in (("next", page.next_cursor), ("prev", page.prev_cursor))
            if value is not None
        ]
        return page.items, {"Link": ", ".join(links)} if links else {}

    def page_url(self, *, next_cursor: str) -> str:
        """The absolute URL of this list at ``next_cursor``, other parameters kept."""
        params = request.args.to_dict(flat=False)
        params["cursor"] = [next_cursor]
        return url_for(request.endpoint or "", _external=True, **params)

    def post(self, data: dict[str, Any]) -> Any:
        """Create a row from the validated body; 201 with ``Location``.

        :raises HTTPException: 401 without a principal, 403 when
            :meth:`can_create` refuses.
        """
        self.require_principal()
        if not self.can_create(data):
            api_abort(403)
        obj = self.model()
        self.populate(obj, data)
        db.session.add(obj)
        db.session.commit()
        obj = self.reload(obj)
        location = url_for(self.item_endpoint, id=obj.id, _external=True)
        return obj, self.created_status, {"Location": location}

    #: The endpoint of one member (set by :func:`register_api`), for ``Location``.
    item_endpoint: ClassVar[str] = ""


class ItemAPI(APIView):
    """One member: ``GET``, ``PATCH`` (partial update) and ``DELETE`` (soft delete).

    Class attributes: ``update_schema`` (the ``PATCH`` body; every field
    optional, unknown ones refused).
    """

    #: The ``PATCH`` body.
    update_schema: ClassVar[type[ma.Schema]]

    def get(self, **values: Any) -> Any:
        """The row named by the URL, if the principal may see it (else 404)."""
        return self.get_object(**values)

    def editable(self, **values: Any) -> Any:
        """The row to change: 401 anonymous, 404 unseen, 403 not editable, 412 stale."""
        self.require_principal()
        obj = self.get_object(**values)
        if not self.can_edit(obj):
            api_abort(403)
        self.check_etag(obj)
        return obj

    def patch(self, data: dict[str, Any], **values: Any) -> Any:
        """Change the fields of ``data`` (validated); needs ``If-Match``."""
        obj = self.editable(**values)
        self.populate(obj, data)
        db.session.commit()
        return self.reload(obj)

    def delete(self, **values: Any) -> Any:
        """Soft-delete the row (``deleted_at``), answered 204; needs ``If-Match``."""
        obj = self.editable(**values)
        obj.soft_delete()
        db.session.commit()
        return None


# --- registration -------------------------------------------------------------
ERRORS_READ = {404: "The row does not exist, or you may not see it."}
ERRORS_WRITE = {
    400: "Malformed JSON body.",
    401: "No principal: sign in or send an API key.",
    403: "You may see the row but not change it, or the key lacks the write scope.",
    404: "The row does not exist, or you may not see it.",
    415: "The body is not application/json.",
}


def _documented(bp: Blueprint, func: Any, errors: dict[int, str]) -> Any:
    """``func`` with each status of ``errors`` documented as a problem+json response.

    The responses are the components named after each status
    (``UNAUTHORIZED``, ...), which :class:`app.api.core.BastionApi` describes
    as ``application/problem+json``.
    """
    for status in errors:
        func = bp.alt_response(status, response=HTTPStatus(status).name)(func)
    return func


def decorate_group(bp: Blueprint, view: type[GroupAPI], item_endpoint: str) -> type[GroupAPI]:
    """A subclass of ``view`` whose methods carry flask-smorest's decorators."""
    attrs: dict[str, Any] = {
        "blueprint": bp,
        "item_endpoint": item_endpoint,
        "methods": view.methods,
    }
    if "GET" in view.methods:
        get = bp.response(200, view.schema(many=True), headers={"Link": "LINK"})(view.get)
        get = bp.arguments(view.query_schema, location="query", unknown=ma.RAISE)(get)
        attrs["get"] = _documented(bp, bp.etag(get), {400: "A damaged or foreign cursor."})
    if "POST" in view.methods:
        post = bp.response(view.created_status, view.schema, headers={"Location": "LOCATION"})(
            view.post
        )
        post = bp.arguments(view.schema)(post)
        attrs["post"] = _documented(bp, bp.etag(post), ERRORS_WRITE)
    return type(view.__name__, (view,), attrs)


def decorate_item(bp: Blueprint, view: type[ItemAPI]) -> type[ItemAPI]:
    """A subclass of ``view`` whose methods carry flask-smorest's decorators."""
    attrs: dict[str, Any] = {"blueprint": bp, "methods": view.methods}
    if "GET" in view.methods:
        get = bp.response(200, view.schema)(view.get)
        attrs["get"] = _documented(bp, bp.etag(get), ERRORS_READ)
    if "PATCH" in view.methods:
        patch = bp.arguments(view.update_schema)(bp.response(200, view.schema)(view.patch))
        attrs["patch"] = _documented(bp, bp.etag(patch), ERRORS_WRITE)
    if "DELETE" in view.methods:
        delete = bp.response(204)(view.delete)
        errors = {k: v for k, v in ERRORS_WRITE.items() if k not in (400, 415)}
        attrs["delete"] = _documented(bp, bp.etag(delete), errors)
    return type(view.__name__, (view,), attrs)


def register_api(
    bp: Blueprint,
    name: str,
    url: str,
    item_view: type[ItemAPI],
    group_view: type[GroupAPI],
    *,
    lookup_rule: str = "<id:id>",
) -> None:
    """Register ``group_view`` at ``url`` and ``item_view`` at ``url/<id>`` on ``bp``.

    As in Flask's guide ("Method Dispatching and APIs"); the endpoints are
    ``<name>_group`` and ``<name>_item``.  Ids use the ``<id:...>``
    converter (:mod:`app.urls`): 1..2**31-1, anything else a 404.
    """
    item_endpoint = f"{bp.name}.{name}_item"
    bp.add_url_rule(
        url, endpoint=f"{name}_group", view_func=decorate_group(bp, group_view, item_endpoint)
    )
    bp.add_url_rule(
        f"{url}/{lookup_rule}", endpoint=f"{name}_item", view_func=decorate_item(bp, item_view)
    )


def register_action(
    bp: Blueprint, name: str, rule: str, view: type[APIView], *, status: int = 200
) -> None:
    """Register a ``POST``-only action on one row (e.g. ``/stories/<id>/restore``).

    ``view.post(**values)`` returns the changed row, dumped with ``view.schema``.
    """
    post = bp.response(status, view.schema)(view.post)  # type: ignore[attr-defined]
    errors = {k: v for k, v in ERRORS_WRITE.items() if k not in (400, 415)}
    attrs = {"blueprint": bp, "post": _documented(bp, bp.etag(post), errors)}
    bp.add_url_rule(rule, endpoint=name, view_func=type(view.__name__, (view,), attrs))
