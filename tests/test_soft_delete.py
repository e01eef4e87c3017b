"""Soft delete on SQLite and the real PostgreSQL: deleted rows stay out of every ORM SELECT.

The relationship and join tests use scratch models on their own declarative
base (not ``db.Model``), so the migrations' autogenerate comparison never sees
them; their tables, like the app's, are made once per database and emptied after each test.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, timedelta, timezone

import pytest
from flask import Flask
from sqlalchemy import ForeignKey, String, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    joinedload,
    mapped_column,
    relationship,
    selectinload,
)

from app.extensions import db
from app.models import INCLUDE_DELETED, SoftDeleteMixin, utcnow
from app.models.user import User
from tests.conftest import empty_tables, make_app

WITH_DELETED = {INCLUDE_DELETED: True}


class ScratchBase(DeclarativeBase):
    """Test-only models, kept out of ``db.metadata``."""


class Author(SoftDeleteMixin, ScratchBase):
    __tablename__ = "scratch_author"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    books: Mapped[list[Book]] = relationship(back_populates="author", order_by="Book.id")


class Book(SoftDeleteMixin, ScratchBase):
    __tablename__ = "scratch_book"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(40))
    author_id: Mapped[int] = mapped_column(ForeignKey("scratch_author.id"))
    author: Mapped[Author] = relationship(back_populates="books")


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def tables_app(request: pytest.FixtureRequest) -> Iterator[Flask]:
    """An app with the app's and the scratch tables (made once per database), dropped afterwards."""
    if request.param == "sqlite":
        application = make_app()
    else:
        url = request.getfixturevalue("postgres_url")
        application = make_app(SQLALCHEMY_DATABASE_URI=url, SQLALCHEMY_ENGINE_OPTIONS={})
    with application.app_context():
        db.create_all()
        ScratchBase.metadata.create_all(db.engine)
    yield application
    with application.app_context():
        db.session.remove()
        ScratchBase.metadata.drop_all(db.engine)
        db.drop_all()
        db.engine.dispose()


@pytest.fixture
def db_app(tables_app: Flask) -> Iterator[Flask]:
    """:func:`tables_app` inside its context, every row deleted afterwards."""
    with tables_app.app_context():
        try:
            yield tables_app
        finally:
            db.session.remove()
            for table in reversed(ScratchBase.metadata.sorted_tables):
                db.session.execute(table.delete())
            db.session.commit()
            empty_tables()


@pytest.fixture
def library(db_app: Flask) -> dict[str, int]:
    """Ada (live, one live and one deleted book) and Bob (deleted, one live book); ids by name."""
    ada, bob = Author(name="Ada"), Author(name="Bob")
    ada.books = [Book(title="Notes"), Book(title="Draft")]
    bob.books = [Book(title="Orphan")]
    db.session.add_all([ada, bob])
    db.session.flush()
    ada.books[1].soft_delete()
    bob.soft_delete()
    db.session.commit()
    ids = {"Ada": ada.id, "Bob": bob.id}
    ids.update({book.title: book.id for book in ada.books + bob.books})
    db.session.remove()
    return ids


def titles(books) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(book.title for book in books)


def names(authors) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(author.name for author in authors)


# --- plain selects, get() and counts -------------------------------------------


def test_select_skips_deleted_rows(library):
    assert names(db.session.scalars(select(Author))) == ["Ada"]
    assert titles(db.session.scalars(select(Book))) == ["Notes", "Orphan"]


def test_select_where_cannot_reach_a_deleted_row(library):
    assert db.session.scalar(select(Author).where(Author.name == "Bob")) is None


def test_include_deleted_shows_every_row(library):
    query = select(Author).execution_options(**WITH_DELETED)
    assert names(db.session.scalars(query)) == ["Ada", "Bob"]
    books = select(Book).execution_options(**WITH_DELETED)
    assert titles(db.session.scalars(books)) == ["Draft", "Notes", "Orphan"]


def test_get_returns_none_for_a_deleted_row_in_a_fresh_session(library):
    assert db.session.get(Author, library["Bob"]) is None
    assert db.session.get(Author, library["Ada"]).name == "Ada"
    hidden = db.session.get(Author, library["Bob"], execution_options=WITH_DELETED)
    assert hidden is not None
    assert hidden.is_deleted


def held_then_deleted() -> tuple[Author, int]:
    """Add an author and soft-delete it; the caller holds it, so it stays in the identity map."""
    author = Author(name="Cy")
    db.session.add(author)
    db.session.commit()
    author_id = author.id
    author.soft_delete()
    db.session.commit()
    return author, author_id


def test_held_objects_stay_readable_after_expire_all(db_app):
    # As documented in app/models/soft_delete.py: a refresh is not filtered.
    held, author_id = held_then_deleted()
    db.session.expire_all()
    assert db.session.get(Author, author_id) is held
    assert held.is_deleted


def test_get_sees_the_deletion_with_populate_existing_or_a_new_session(db_app):
    held, author_id = held_then_deleted()
    assert db.session.get(Author, author_id) is held  # identity map: no filtering
    assert db.session.get(Author, author_id, populate_existing=True) is None
    db.session.remove()
    assert db.session.get(Author, author_id) is None


def test_counts_skip_deleted_rows(library):
    assert db.session.scalar(select(func.count()).select_from(Book)) == 2
    assert db.session.scalar(select(func.count(Author.id))) == 1
    everything = select(func.count()).select_from(Book).execution_options(**WITH_DELETED)
    assert db.session.scalar(everything) == 3


# --- relationships and joins ---------------------------------------------------


def test_lazy_relationship_skips_deleted_children(library):
    ada = db.session.get(Author, library["Ada"])
    assert titles(ada.books) == ["Notes"]


@pytest.mark.parametrize("loader", [selectinload, joinedload], ids=["selectin", "joined"])
def test_eager_relationship_skips_deleted_children(library, loader):
    query = select(Author).options(loader(Author.books))
    [ada] = db.session.scalars(query).unique().all()
    assert titles(ada.books) == ["Notes"]


def test_many_to_one_to_a_deleted_parent_loads_as_none(library):
    orphan = db.session.get(Book, library["Orphan"])
    assert orphan.author is None


def test_join_does_not_match_through_a_deleted_child(library):
    by_title = select(Author).join(Author.books).where(Book.title == "Draft")
    assert db.session.scalars(by_title).all() == []
    live = select(Author).join(Author.books).where(Book.title == "Notes")
    assert names(db.session.scalars(live)) == ["Ada"]


def test_join_to_a_deleted_parent_drops_its_children(library):
    query = select(Book).join(Book.author)
    assert titles(db.session.scalars(query)) == ["Notes"]
    everything = query.execution_options(**WITH_DELETED)
    assert titles(db.session.scalars(everything)) == ["Draft", "Notes", "Orphan"]


# --- the mixin itself -----------------------------------------------------------


def test_restore_brings_a_row_back(library):
    bob = db.session.get(Author, library["Bob"], execution_options=WITH_DELETED)
    assert bob.is_deleted
    bob.restore()
    assert not bob.is_deleted
    db.session.commit()
    db.session.remove()
    assert names(db.session.scalars(select(Author))) == ["Ada", "Bob"]
    assert db.session.get(Author, library["Bob"]).deleted_at is None


def test_deleted_at_is_aware_utc_after_a_round_trip(db_app):
    before = utcnow()
    author = Author(name="Di")
    db.session.add(author)
    db.session.flush()
    assert author.deleted_at is None
    assert not author.is_deleted
    author_id = author.id
    author.soft_delete()
    db.session.commit()
    db.session.remove()
    stored = db.session.get(Author, author_id, execution_options=WITH_DELETED).deleted_at
    assert stored.tzinfo is not None
    assert stored.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=1) <= stored <= utcnow() + timedelta(seconds=1)


def test_soft_delete_at_a_given_time_and_other_zones_are_stored_as_utc(db_app):
    when = utcnow().replace(microsecond=0) - timedelta(days=3)
    author = Author(name="Ed")
    author.soft_delete(when.astimezone(timezone(timedelta(hours=5))))
    db.session.add(author)
    db.session.commit()
    db.session.remove()
    stored = db.session.scalar(select(Author.deleted_at).execution_options(**WITH_DELETED))
    assert stored == when
    assert stored.tzinfo == UTC


def test_a_held_object_can_still_be_read_after_its_deletion_is_committed(db_app):
    author = Author(name="Fay")
    db.session.add(author)
    db.session.commit()
    author.soft_delete()
    db.session.commit()  # expires the object; reloading its columns must still work
    assert author.name == "Fay"
    assert author.is_deleted


# --- User: email unique among live rows only -------------------------------------


def add_user(email: str, deleted: bool = False) -> User:
    user = User(email=email, display_name="Someone", password_hash="x")
    if deleted:
        user.soft_delete()
    db.session.add(user)
    db.session.commit()
    return user


def test_two_live_users_cannot_share_an_email(db_app):
    add_user("ada@example.com")
    with pytest.raises(IntegrityError):
        add_user("ada@example.com")
    db.session.rollback()


def test_an_email_can_register_again_after_its_account_was_deleted(db_app):
    first = add_user("ada@example.com")
    first.soft_delete()
    db.session.commit()
    second = add_user("ada@example.com")
    assert second.id != first.id
    live = db.session.scalars(select(User).where(User.email == "ada@example.com")).all()
    assert [user.id for user in live] == [second.id]


def test_deleted_rows_may_share_an_email(db_app):
    add_user("ada@example.com", deleted=True)
    add_user("ada@example.com", deleted=True)
    add_user("ada@example.com")
    query = select(func.count()).select_from(User).execution_options(**WITH_DELETED)
    assert db.session.scalar(query) == 3
    assert db.session.scalar(select(func.count()).select_from(User)) == 1
