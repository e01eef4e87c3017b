"""/api/v1/users: public fields for everyone, email for self and admins, admin writes."""

from __future__ import annotations

import pytest

from tests.api_client import ApiClient
from tests.helpers import problem
from tests.test_auth import load, make_user
from tests.test_stories import make_story

PUBLIC = {"id", "display_name", "created_at"}


@pytest.fixture
def people(app):
    ids = {
        "author": make_user(app, email="author@example.com", name="Author"),
        "other": make_user(app, email="other@example.com", name="Other"),
        "admin": make_user(app, email="admin@example.com", name="Admin", is_admin=True),
    }
    make_story(app, ids["author"])
    return ids


def test_anonymous_sees_public_fields_of_published_authors_only(app, people):
    client = ApiClient(app)
    listed = client.get("/users").get_json()
    assert [user["id"] for user in listed] == [people["author"]]
    assert set(listed[0]) == PUBLIC
    one = client.get(f"/users/{people['author']}")
    assert set(one.get_json()) == PUBLIC
    assert one.headers["ETag"]
    # An account that never published is not revealed.
    assert problem(client.get(f"/users/{people['other']}"))["status"] == 404


def test_self_and_admin_see_email_and_roles(app, people):
    mine = ApiClient(app, "other").get(f"/users/{people['other']}").get_json()
    assert mine["email"] == "other@example.com"
    assert mine["is_admin"] is False
    others = ApiClient(app, "other").get(f"/users/{people['author']}").get_json()
    assert "email" not in others
    assert "is_admin" not in others
    admin = ApiClient(app, "admin")
    listed = admin.get("/users").get_json()
    assert {user["id"] for user in listed} == set(people.values())
    assert all("email" in user for user in listed)


def test_only_admins_patch_accounts(app, people):
    path = f"/users/{people['author']}"
    author = ApiClient(app, "author")
    refused = author.patch(path, {"display_name": "Me"}, headers={"If-Match": author.etag(path)})
    assert problem(refused)["status"] == 403
    admin = ApiClient(app, "admin")
    changed = admin.patch(
        path,
        {"display_name": " New\x00 name ", "is_disabled": True},
        headers={"If-Match": admin.etag(path)},
    )
    assert changed.status_code == 200, changed.get_data(as_text=True)
    assert changed.get_json()["display_name"] == "New name"
    assert load(app, "author@example.com").is_disabled is True
    # Disabled: no longer a public author.
    assert ApiClient(app).get(path).status_code == 404


def test_admins_cannot_change_their_own_roles(app, people):
    admin = ApiClient(app, "admin")
    path = f"/users/{people['admin']}"
    response = admin.patch(path, {"is_admin": False}, headers={"If-Match": admin.etag(path)})
    assert problem(response)["status"] == 403
    assert load(app, "admin@example.com").is_admin is True


@pytest.mark.parametrize(
    "payload",
    [{"email": "x@example.com"}, {"is_admin": "true"}, {"display_name": ""}, {"id": 3}],
)
def test_patch_validation(app, people, payload):
    admin = ApiClient(app, "admin")
    path = f"/users/{people['author']}"
    response = admin.patch(path, payload, headers={"If-Match": admin.etag(path)})
    assert response.status_code == 422
    assert set(payload) <= set(problem(response)["errors"])


def test_no_create_or_delete_of_users(app, people):
    admin = ApiClient(app, "admin")
    assert problem(admin.post("/users", {"display_name": "x"}))["status"] == 405
    assert problem(admin.delete(f"/users/{people['author']}"))["status"] == 405


def test_user_list_pages_and_sorts(app, people):
    admin = ApiClient(app, "admin")
    first = admin.get("/users?limit=2&sort=-id")
    assert [user["id"] for user in first.get_json()] == sorted(people.values(), reverse=True)[:2]
    assert 'rel="next"' in first.headers["Link"]
    assert problem(admin.get("/users?sort=display_name"))["status"] == 422
