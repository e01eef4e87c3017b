"""Migrations on SQLite and the real PostgreSQL; the contact form stores rows in both."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select

from app.extensions import db
from app.models.contact import ContactMessage
from tests.conftest import make_app
from tests.helpers import contact_form, csrf_token


@pytest.fixture(params=["sqlite", "postgresql"])
def migrated_app(request, tmp_path):
    """An app whose database was built by the migrations, not by create_all()."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'migrated.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    app = make_app(SQLALCHEMY_DATABASE_URI=url, SQLALCHEMY_ENGINE_OPTIONS={})
    with app.app_context():
        upgrade()
        yield app
        db.session.remove()
        downgrade(revision="base")
        db.engine.dispose()


def test_upgrade_creates_the_tables_and_downgrade_removes_them(migrated_app):
    tables = set(inspect(db.engine).get_table_names())
    assert {"contact_message", "alembic_version"} <= tables
    downgrade(revision="base")
    assert "contact_message" not in inspect(db.engine).get_table_names()
    upgrade()
    assert "contact_message" in inspect(db.engine).get_table_names()


def test_models_and_migrations_agree(migrated_app):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_there_is_one_head(migrated_app):
    config = migrated_app.extensions["migrate"].migrate.get_config()
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_contact_form_stores_a_row(migrated_app):
    client = migrated_app.test_client()
    response = client.post("/contact", data=contact_form(csrf_token=csrf_token(client)))
    assert response.status_code == 302
    [row] = db.session.scalars(select(ContactMessage)).all()
    assert row.email == "ada@example.com"
    assert row.created_at.utcoffset().total_seconds() == 0
    db.session.delete(row)
    db.session.commit()


def test_readiness_checks_the_database(migrated_app):
    client = migrated_app.test_client()
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "checks": {"database": "ok"}}
