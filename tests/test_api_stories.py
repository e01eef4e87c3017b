"""/api/v1/stories: CRUD per role, errors as problem+json, ETags, restore."""

from __future__ import annotations

import pytest

from tests.api_client import ApiClient
from tests.helpers import problem
from tests.test_stories import load_story, make_story

STORY = {"title": "A tale", "body": "Once upon a time.", "published": True}


@pytest.fixture
def as_(app, people):
    """``as_(who)``: an :class:`ApiClient` signed in as ``who`` (``None``: anonymous)."""
    return lambda who=None: ApiClient(app, who)


# --- create ---------------------------------------------------------------------
def test_owner_creates_a_story_with_location_and_etag(app, people, as_):
    response = as_("author").post("/stories", STORY)
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert body["title"] == "A tale"
    assert body["author"] == {"id": people["author"], "display_name": "Author"}
    assert response.headers["Location"] == f"http://localhost/api/v1/stories/{body['id']}"
    assert response.headers["ETag"]
    assert load_story(app, body["id"]).author_id == people["author"]


def test_anonymous_write_is_refused_and_changes_nothing(app, people, as_):
    anonymous = as_()
    response = anonymous.post("/stories", STORY)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    problem(response)
    # Without the CSRF token the global check refuses first (400), nothing created.
    assert problem(anonymous.post("/stories", STORY, csrf=False))["status"] == 400
    assert anonymous.get("/stories").get_json() == []


def test_cookie_write_without_csrf_token_is_400(app, people, as_):
    response = as_("author").post("/stories", STORY, csrf=False)
    assert response.status_code == 400
    assert problem(response)["title"] == "Form expired"
    assert as_("author").get("/stories").get_json() == []


def test_text_is_cleaned_like_the_forms(app, people, as_):
    response = as_("author").post(
        "/stories", {"title": " A\x00 \u202etale\n ", "body": "Body\x07 text\r\n"}
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["title"] == "A tale"
    assert response.get_json()["body"] == "Body text"
    assert response.get_json()["published"] is False


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"body": "no title"}, "title"),
        ({"title": "x" * 201, "body": "b"}, "title"),
        ({"title": "\x00\x01 ", "body": "b"}, "title"),
        ({"title": "t", "body": "b" * 50_001}, "body"),
        ({"title": 5, "body": "b"}, "title"),
        ({"title": "t", "body": "b", "published": "yes"}, "published"),
        ({"title": "t", "body": "b", "published": 1}, "published"),
        ({"title": "t", "body": "b", "id": 7}, "id"),
        ({"title": "t", "body": "b", "author": {"id": 3}}, "author"),
        ({"title": "t", "body": "b", "created_at": "2020-01-01T00:00:00Z"}, "created_at"),
        ({"title": "t", "body": "b", "colour": "red"}, "colour"),
        ({"title": "\udcff", "body": "b"}, "title"),
    ],
)
def test_invalid_input_is_422_with_field_errors(app, people, as_, payload, field):
    response = as_("author").post("/stories", payload)
    assert response.status_code == 422
    assert field in problem(response)["errors"]


def test_a_body_that_is_not_an_object_is_422(app, people, as_):
    response = as_("author").post("/stories", [1, 2])
    assert problem(response)["status"] == 422


def test_malformed_json_is_400_and_other_types_415(app, people, as_):
    author = as_("author")
    json_type = {"Content-Type": "application/json"}
    assert problem(author.post("/stories", data="{nope", headers=json_type))["status"] == 400
    deep = "[" * 100_000 + "]" * 100_000
    assert problem(author.post("/stories", data=deep, headers=json_type))["status"] == 400
    assert problem(author.post("/stories", data=b"\xff\xfe", headers=json_type))["status"] == 400
    form = author.post("/stories", data={"title": "t", "body": "b"})
    assert problem(form)["status"] == 415
    text = author.post("/stories", data="{}", headers={"Content-Type": "text/plain"})
    assert problem(text)["status"] == 415


# --- read -----------------------------------------------------------------------
def test_drafts_are_visible_to_owner_and_admin_only(app, people, as_):
    draft = make_story(app, people["author"], published=False)
    for who, status in [(None, 404), ("other", 404), ("author", 200), ("admin", 200)]:
        assert as_(who).get(f"/stories/{draft}").status_code == status, who
    assert problem(as_().get(f"/stories/{draft}"))["status"] == 404
    public = make_story(app, people["author"])
    assert as_().get(f"/stories/{public}").get_json()["id"] == public


def test_lists_show_what_each_role_may_see(app, people, as_):
    public = make_story(app, people["author"])
    draft = make_story(app, people["author"], published=False)
    others_draft = make_story(app, people["other"], published=False)

    def ids(who, query=""):
        response = as_(who).get(f"/stories{query}")
        assert response.status_code == 200, response.get_data(as_text=True)
        return {story["id"] for story in response.get_json()}

    assert ids(None) == {public}
    assert ids("author") == {public, draft}
    assert ids("admin") == {public, draft, others_draft}
    assert ids("author", "?published=false") == {draft}
    assert ids(None, "?published=false") == set()
    assert ids("admin", "?published=false") == {draft, others_draft}
    assert ids("admin", f"?author={people['other']}") == {others_draft}
    assert ids(None, "?published=true") == {public}


def test_ids_out_of_range_are_404(app, people, as_):
    for path in ("/stories/0", "/stories/2147483648", "/stories/99999999999999999999"):
        assert problem(as_().get(path))["status"] == 404


# --- change and delete --------------------------------------------------------------
def test_patch_needs_if_match_and_a_fresh_etag(app, people, as_):
    story = make_story(app, people["author"])
    author = as_("author")
    path = f"/stories/{story}"
    tag = author.etag(path)
    assert problem(author.patch(path, {"title": "New"}))["status"] == 428
    stale = author.patch(path, {"title": "New"}, headers={"If-Match": '"stale"'})
    assert problem(stale)["status"] == 412
    ok = author.patch(path, {"title": "New"}, headers={"If-Match": tag})
    assert ok.status_code == 200, ok.get_data(as_text=True)
    assert ok.get_json()["title"] == "New"
    assert ok.headers["ETag"] != tag
    # The old tag is now stale: a second client cannot overwrite the change.
    assert author.patch(path, {"title": "Lost"}, headers={"If-Match": tag}).status_code == 412
    assert load_story(app, story).title == "New"


def test_if_none_match_gives_304(app, people, as_):
    story = make_story(app, people["author"])
    anonymous = as_()
    tag = anonymous.etag(f"/stories/{story}")
    again = anonymous.get(f"/stories/{story}", headers={"If-None-Match": tag})
    assert again.status_code == 304
    assert again.get_data() == b""
    assert again.headers["ETag"] == tag
    list_tag = anonymous.etag("/stories")
    assert anonymous.get("/stories", headers={"If-None-Match": list_tag}).status_code == 304
    make_story(app, people["author"], title="Another")
    assert anonymous.get("/stories", headers={"If-None-Match": list_tag}).status_code == 200


def test_only_owner_and_admin_change_a_story(app, people, as_):
    story = make_story(app, people["author"])
    path = f"/stories/{story}"
    for who, status in [("other", 403), ("admin", 200), ("author", 200)]:
        client = as_(who)
        response = client.patch(
            path, {"body": f"by {who}"}, headers={"If-Match": client.etag(path)}
        )
        assert response.status_code == status, who
    assert (
        problem(as_("other").patch(path, {"body": "x"}, headers={"If-Match": "*"}))["status"] == 403
    )
    assert load_story(app, story).body == "by author"


def test_patch_refuses_read_only_and_unknown_fields(app, people, as_):
    story = make_story(app, people["author"])
    author = as_("author")
    path = f"/stories/{story}"
    for payload in ({"id": 9}, {"author": None}, {"updated_at": "x"}, {"nope": 1}):
        response = author.patch(path, payload, headers={"If-Match": author.etag(path)})
        assert response.status_code == 422, payload
        assert set(payload) <= set(problem(response)["errors"])


def test_delete_is_soft_and_restore_is_explicit(app, people, as_):
    story = make_story(app, people["author"])
    author, other = as_("author"), as_("other")
    path = f"/stories/{story}"
    tag = author.etag(path)
    assert problem(author.delete(path))["status"] == 428
    assert problem(other.delete(path, headers={"If-Match": tag}))["status"] == 403
    response = author.delete(path, headers={"If-Match": tag})
    assert response.status_code == 204
    assert response.get_data() == b""
    assert load_story(app, story).deleted_at is not None
    assert author.get(path).status_code == 404
    # Someone else's deleted story is not revealed; a live one cannot be restored.
    assert problem(other.post(f"{path}/restore"))["status"] == 404
    assert problem(as_().post(f"{path}/restore"))["status"] == 401
    restored = author.post(f"{path}/restore")
    assert restored.status_code == 200
    assert restored.get_json()["deleted_at"] is None
    assert load_story(app, story).deleted_at is None
    assert author.post(f"{path}/restore").status_code == 404


def test_include_deleted_is_for_admins(app, people, as_):
    live = make_story(app, people["author"])
    gone = make_story(app, people["author"])
    admin = as_("admin")
    admin.delete(f"/stories/{gone}", headers={"If-Match": admin.etag(f"/stories/{gone}")})
    listed = admin.get("/stories?include_deleted=true").get_json()
    assert {story["id"] for story in listed} == {live, gone}
    response = as_("author").get("/stories?include_deleted=true")
    assert problem(response)["status"] == 403
    assert {story["id"] for story in admin.get("/stories").get_json()} == {live}


def test_unsupported_method_is_405_with_allow(app, people, as_):
    response = as_("author").write("PUT", "/stories", {})
    assert problem(response)["status"] == 405
    assert "POST" in response.headers["Allow"]


def test_html_errors_stay_html(app, html):
    """flask-smorest's handler replaced Bastion's: pages outside /api/ still get HTML."""
    response = app.test_client().get("/nowhere", headers=html)
    assert response.status_code == 404
    assert response.mimetype == "text/html"
