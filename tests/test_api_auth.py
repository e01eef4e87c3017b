"""API keys on /api/v1: key only (no cookie fallback), no CSRF, scopes, 401s, per-key limits."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.auth.api_keys import issue_key, revoke
from app.extensions import db
from app.models.api_key import ApiKey
from app.models.user import User
from tests.api_client import ApiClient
from tests.helpers import problem
from tests.test_stories import load_story, make_story

STORY = {"title": "By key", "body": "Written with an API key."}


def key_for(app, user_id: int, scope: str = "write", expires_in=None) -> str:
    with app.app_context():
        _, raw = issue_key(
            db.session.get(User, user_id), name="test", scope=scope, expires_in=expires_in
        )
    return raw


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def test_a_write_key_creates_without_csrf(app, people):
    client = app.test_client()
    raw = key_for(app, people["author"])
    response = client.post("/api/v1/stories", json=STORY, headers=bearer(raw))
    assert response.status_code == 201, response.get_data(as_text=True)
    assert load_story(app, response.get_json()["id"]).author_id == people["author"]
    also = client.post("/api/v1/stories", json=STORY, headers={"X-API-Key": raw})
    assert also.status_code == 201


def test_a_read_key_reads_but_may_not_write(app, people):
    draft = make_story(app, people["author"], published=False)
    raw = key_for(app, people["author"], scope="read")
    client = app.test_client()
    assert client.get(f"/api/v1/stories/{draft}", headers=bearer(raw)).status_code == 200
    refused = client.post("/api/v1/stories", json=STORY, headers=bearer(raw))
    assert problem(refused)["status"] == 403
    assert "write scope" in problem(refused)["detail"]


def test_bad_keys_are_one_401(app, people):
    raw = key_for(app, people["author"])
    client = app.test_client()
    wrong_secret = raw[:-4] + ("AAAA" if not raw.endswith("AAAA") else "BBBB")
    unknown_prefix = raw[:4] + "zzzzzzzz" + raw[12:]
    bodies = []
    for headers in (
        bearer(wrong_secret),
        bearer(unknown_prefix),
        bearer("nonsense"),
        {"Authorization": "Bearer"},
        {"X-API-Key": ""},
        {**bearer(raw), "X-API-Key": raw},  # two credentials at once (RFC 6750 section 2)
    ):
        response = client.get("/api/v1/stories", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        body = problem(response)
        bodies.append((body["title"], body["detail"], response.headers["WWW-Authenticate"]))
    assert len(set(bodies)) == 1


def test_expired_and_revoked_keys_are_401(app, people):
    raw = key_for(app, people["author"], expires_in=timedelta(minutes=1))
    client = app.test_client()
    assert client.get("/api/v1/stories", headers=bearer(raw)).status_code == 200
    with app.app_context():
        key = db.session.query(ApiKey).filter_by(prefix=raw[4:12]).one()
        revoke(key)
    assert client.get("/api/v1/stories", headers=bearer(raw)).status_code == 401


def test_a_key_never_falls_back_to_the_cookie(app, people):
    """A signed-in browser session plus a bad key: 401, not the session's user."""
    signed_in = ApiClient(app, "author")
    response = signed_in.post("/stories", STORY, headers=bearer("bst_bad"))
    assert problem(response)["status"] == 401
    assert signed_in.get("/stories").get_json() == []


def test_a_key_may_not_change_other_peoples_stories(app, people):
    story = make_story(app, people["author"])
    raw = key_for(app, people["other"])
    client = app.test_client()
    tag = client.get(f"/api/v1/stories/{story}").headers["ETag"]
    response = client.patch(
        f"/api/v1/stories/{story}",
        json={"title": "Mine now"},
        headers={**bearer(raw), "If-Match": tag},
    )
    assert problem(response)["status"] == 403
    assert load_story(app, story).title == "A story"


@pytest.mark.settings(
    RATELIMIT_ENABLED=True, RATELIMIT_DEFAULT="100 per second", API_RATE_LIMIT="3 per minute"
)
def test_requests_are_limited_per_key(app, people):
    one, two = key_for(app, people["author"]), key_for(app, people["other"])
    client = app.test_client()
    statuses = [client.get("/api/v1/users", headers=bearer(one)).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = client.get("/api/v1/users", headers=bearer(one))
    assert int(limited.headers["Retry-After"]) >= 1
    assert problem(limited)["status"] == 429
    # Another key has its own budget.
    assert client.get("/api/v1/users", headers=bearer(two)).status_code == 200
