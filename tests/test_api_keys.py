"""API keys: issuing, checking, expiry, revocation, scopes, hostile keys, the account page."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from flask import request
from sqlalchemy import event, func, select, text, update
from sqlalchemy.exc import IntegrityError

from app.auth import api_keys
from app.auth.api_keys import (
    KEY_LENGTH,
    authenticate_key,
    has_scope,
    issue_key,
    key_from_request,
    parse_expiry,
    revoke,
    touch,
)
from app.extensions import db
from app.models.api_key import ApiKey
from app.models.base import utcnow
from app.models.user import User
from tests.test_auth import make_user


def new_key(app, email="ada@example.com", scope="read", expires_in=timedelta(days=90), **kw):
    """Make the account if needed, issue a key; return (key id, raw key)."""
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
    user_id = user.id if user else make_user(app, email=email, name=email.split("@")[0])
    with app.app_context():
        user = db.session.get(User, user_id)
        key, raw = issue_key(
            user, name=kw.get("name", "laptop"), scope=scope, expires_in=expires_in
        )
        return key.id, raw


def check(app, raw) -> int | None:
    """Authenticate ``raw`` in a fresh app context; the key's id or None."""
    with app.app_context():
        key = authenticate_key(raw)
        return None if key is None else key.id


def change(app, key_id, **values) -> None:
    with app.app_context():
        db.session.execute(update(ApiKey).where(ApiKey.id == key_id).values(**values))
        db.session.commit()


def change_user(app, email="ada@example.com", **values) -> None:
    with app.app_context():
        db.session.execute(update(User).where(User.email == email).values(**values))
        db.session.commit()


def load_key(app, key_id) -> ApiKey | None:
    with app.app_context():
        return db.session.get(ApiKey, key_id)


def key_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(ApiKey))


def flip(raw: str, index: int) -> str:
    """``raw`` with one character changed, keeping its shape."""
    return raw[:index] + ("A" if raw[index] != "A" else "B") + raw[index + 1 :]


# --- lifecycle ---------------------------------------------------------------


def test_a_new_key_has_the_documented_shape_and_authenticates(any_app):
    key_id, raw = new_key(any_app)
    marker, prefix, secret = raw[:4], raw[4:12], raw[13:]
    assert (marker, raw[12], len(raw), len(secret)) == ("bst_", "_", KEY_LENGTH, 43)
    assert prefix.isascii()
    assert prefix.isalnum()
    assert check(any_app, raw) == key_id
    assert load_key(any_app, key_id).prefix == prefix


def test_the_row_stores_the_hash_never_the_key(any_app):
    key_id, raw = new_key(any_app)
    secret = raw[13:]
    with any_app.app_context():
        row = db.session.execute(text("SELECT * FROM api_key")).one()
    stored = " ".join(str(value) for value in row)
    assert raw not in stored
    assert secret not in stored
    assert secret[:16] not in stored
    assert load_key(any_app, key_id).key_hash == hashlib.sha256(raw.encode()).hexdigest()


def test_wrong_secrets_and_unknown_prefixes_are_refused(any_app):
    _, raw = new_key(any_app)
    assert check(any_app, flip(raw, 30)) is None
    assert check(any_app, flip(raw, KEY_LENGTH - 1)) is None
    assert check(any_app, flip(raw, 6)) is None  # another prefix
    assert check(any_app, raw) is not None


def test_unknown_prefix_and_wrong_secret_cost_the_same_work(app, monkeypatch):
    _, raw = new_key(app)
    calls = []
    real_hash, real_compare = api_keys.hash_key, api_keys.hmac.compare_digest
    monkeypatch.setattr(api_keys, "hash_key", lambda v: calls.append("hash") or real_hash(v))
    monkeypatch.setattr(
        api_keys.hmac, "compare_digest", lambda a, b: calls.append("compare") or real_compare(a, b)
    )
    for candidate in (flip(raw, 30), flip(raw, 6), raw):
        calls.clear()
        with app.app_context(), count_queries() as queries:
            authenticate_key(candidate)
        assert (calls, len(queries)) == (["hash", "compare"], 1), candidate


def test_expired_keys_are_refused(any_app):
    key_id, raw = new_key(any_app, expires_in=timedelta(minutes=5))
    assert check(any_app, raw) == key_id
    change(any_app, key_id, expires_at=utcnow() - timedelta(seconds=1))
    assert check(any_app, raw) is None
    assert load_key(any_app, key_id).status() == "expired"


def test_keys_without_expiry_stay_valid(app):
    key_id, raw = new_key(app, expires_in=None)
    assert load_key(app, key_id).expires_at is None
    assert check(app, raw) == key_id


def test_expiry_is_set_from_now(app):
    before = utcnow()
    key_id, _ = new_key(app, expires_in=timedelta(hours=12))
    expires_at = load_key(app, key_id).expires_at
    assert before + timedelta(hours=12) <= expires_at <= utcnow() + timedelta(hours=12)
    assert expires_at.tzinfo is not None


def test_revoked_keys_are_refused(any_app):
    key_id, raw = new_key(any_app)
    with any_app.app_context():
        key = db.session.get(ApiKey, key_id)
        assert revoke(key) is True
        assert revoke(key) is False
    assert load_key(any_app, key_id).status() == "revoked"
    assert check(any_app, raw) is None


@pytest.mark.parametrize(
    "owner_change",
    [{"is_disabled": True}, {"deleted_at": utcnow()}],
    ids=["disabled", "deleted"],
)
def test_keys_of_disabled_or_deleted_accounts_are_refused(any_app, owner_change):
    key_id, raw = new_key(any_app)
    change_user(any_app, **owner_change)
    assert check(any_app, raw) is None
    change_user(any_app, is_disabled=False, deleted_at=None)
    assert check(any_app, raw) == key_id


def test_removing_the_account_for_good_removes_its_keys_on_postgresql(production_pg_app):
    key_id, raw = new_key(production_pg_app)
    with production_pg_app.app_context():
        db.session.execute(text("DELETE FROM user_account"))
        db.session.commit()
    assert load_key(production_pg_app, key_id) is None  # ON DELETE CASCADE
    assert check(production_pg_app, raw) is None


def test_scopes_write_includes_read(app):
    read_id, _ = new_key(app, scope="read")
    write_id, _ = new_key(app, scope="write")
    with app.app_context():
        reader, writer = db.session.get(ApiKey, read_id), db.session.get(ApiKey, write_id)
        assert has_scope(reader, "read")
        assert not has_scope(reader, "write")
        assert has_scope(writer, "read")
        assert has_scope(writer, "write")
        with pytest.raises(ValueError, match="unknown scope"):
            has_scope(writer, "admin")


# --- issuing: what is refused, what is cleaned --------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": ""}, "name must be 1 to 80"),
        ({"name": "\x00\u202e\x1b "}, "name must be 1 to 80"),
        ({"name": "n" * 81}, "name must be 1 to 80"),
        ({"scope": "admin"}, "scope must be one of read, write"),
        ({"expires_in": timedelta(0)}, "expires_in must be positive"),
        ({"expires_in": timedelta(days=-1)}, "expires_in must be positive"),
    ],
)
def test_issue_key_refuses_bad_values(app, fields, message):
    user_id = make_user(app)
    arguments = {"name": "ok", "scope": "read", "expires_in": None, **fields}
    with app.app_context():
        user = db.session.get(User, user_id)
        with pytest.raises(ValueError, match=message):
            issue_key(user, **arguments)
    assert key_count(app) == 0


def test_names_are_cleaned_like_other_stored_text(any_app):
    key_id, _ = new_key(any_app, name="  my\x00 deploy\u202e\tkey\x1b ")
    assert load_key(any_app, key_id).name == "my deploy key"


def test_a_taken_prefix_is_drawn_again(app, monkeypatch):
    _, first = new_key(app)
    real = api_keys._new_key
    draws = iter([(first[4:12], first[:13] + "x" * 43)])
    monkeypatch.setattr(api_keys, "_new_key", lambda: next(draws, None) or real())
    key_id, raw = new_key(app)
    assert raw[4:12] != first[4:12]
    assert check(app, raw) == key_id
    monkeypatch.setattr(api_keys, "_new_key", lambda: (first[4:12], first))
    with pytest.raises(IntegrityError):
        new_key(app)
    assert key_count(app) == 2


# --- hostile and malformed keys: None, never an exception, no query ------------

MALFORMED = [
    None,
    "",
    "bst_",
    "Bearer",
    "x" * KEY_LENGTH,
    "bst_" + "a" * 10**6,
    b"bst_aaaaaaaa_" + b"a" * 43,
    12345,
    ["bst_"],
]


def hostile_variants(raw: str) -> list[object]:
    """Well-sized but malformed versions of a real key."""
    return [
        raw[:20] + "\x00" + raw[21:],
        raw[:5] + "\x00" + raw[6:],
        raw[:20] + "é" + raw[21:],
        raw[:6] + "\u0663" + raw[7:],
        raw[:30] + "\udcff" + raw[31:],
        raw[:-1] + "\n",
        " " + raw[:-1],
        raw + "x",
        raw[:-1],
        "BST_" + raw[4:],
        raw[:12] + "-" + raw[13:],
        raw[:6] + "_" + raw[7:],
        raw[:6] + "'" + raw[7:],
        raw[:4] + "a' OR '1'='1"[:8] + raw[12:],
        raw[:20] + "+" + raw[21:],
        raw.replace("bst_", "bst-", 1),
    ]


@contextmanager
def count_queries() -> Iterator[list[str]]:
    """Collect the SQL statements run on ``db.engine`` inside the block."""
    statements: list[str] = []

    def record(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def test_malformed_and_hostile_keys_are_none_without_a_query(any_app):
    key_id, raw = new_key(any_app)
    with any_app.app_context():
        for candidate in [*MALFORMED, *hostile_variants(raw)]:
            with count_queries() as queries:
                assert authenticate_key(candidate) is None, repr(candidate)[:80]
            assert queries == [], repr(candidate)[:80]
        assert authenticate_key(raw).id == key_id


def test_hostile_keys_through_request_headers(any_app):
    _, raw = new_key(any_app)
    with any_app.app_context():
        for candidate in hostile_variants(raw):
            if "\n" in candidate or "\udcff" in candidate:
                continue  # no client can send these in a header
            value = candidate.encode("utf-8").decode("latin-1")  # as a WSGI server decodes
            with any_app.test_request_context(headers={"X-API-Key": value}):
                assert authenticate_key(key_from_request(request)) is None


# --- reading the key from a request --------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Authorization": "Bearer KEY"}, "KEY"),
        ({"Authorization": "bearer KEY"}, "KEY"),
        ({"Authorization": "BEARER   KEY  "}, "KEY"),
        ({"X-API-Key": "KEY"}, "KEY"),
        ({"X-API-Key": " KEY "}, "KEY"),
        ({"Authorization": "Basic dXNlcjpwYXNz", "X-API-Key": "KEY"}, "KEY"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, None),
        ({"Authorization": "Bearer"}, None),
        ({"Authorization": "Bearer "}, None),
        ({"Authorization": "BearerKEY"}, None),
        ({"X-API-Key": ""}, None),
        ({}, None),
        ({"Authorization": "Bearer KEY", "X-API-Key": "KEY"}, None),  # RFC 6750 section 2
    ],
)
def test_key_from_request(app, headers, expected):
    with app.test_request_context(headers=headers):
        assert key_from_request(request) == expected


# --- last use ------------------------------------------------------------------


def test_touch_writes_at_most_once_a_minute(any_app):
    key_id, raw = new_key(any_app)
    now = utcnow()
    with any_app.app_context():
        key = authenticate_key(raw)
        assert touch(key, now) is True
        with count_queries() as queries:
            assert touch(key, now + timedelta(seconds=59)) is False
        assert queries == []
        assert touch(key, now + timedelta(seconds=61)) is True
    assert load_key(any_app, key_id).last_used_at == now + timedelta(seconds=61)


def test_touch_does_not_overwrite_another_instances_recent_write(app):
    key_id, raw = new_key(app)
    now = utcnow()
    with app.app_context():
        key = authenticate_key(raw)  # loaded before the other instance writes
        change(app, key_id, last_used_at=now)
        assert touch(key, now + timedelta(seconds=10)) is False
    assert load_key(app, key_id).last_used_at == now


# --- lifetimes ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text_value", "expected"),
    [
        ("90d", timedelta(days=90)),
        ("12h", timedelta(hours=12)),
        ("30m", timedelta(minutes=30)),
        (" 7D ", timedelta(days=7)),
        ("3650d", timedelta(days=3650)),
        ("never", None),
        ("Never", None),
    ],
)
def test_parse_expiry(text_value, expected):
    assert parse_expiry(text_value) == expected


@pytest.mark.parametrize(
    ("text_value", "message"),
    [
        ("", "is not a lifetime"),
        (None, "is not a lifetime"),
        ("90", "is not a lifetime"),
        ("d", "is not a lifetime"),
        ("1.5d", "is not a lifetime"),
        ("-1d", "is not a lifetime"),
        ("10s", "is not a lifetime"),
        ("2w", "is not a lifetime"),
        ("\u0669\u0660d", "is not a lifetime"),
        ("9" * 40 + "d", "is not a lifetime"),
        ("0d", "at least a minute"),
        ("3651d", "at most 3650d"),
        ("999999h", "at most 3650d"),
    ],
)
def test_parse_expiry_refuses(text_value, message):
    with pytest.raises(ValueError, match=message):
        parse_expiry(text_value)
