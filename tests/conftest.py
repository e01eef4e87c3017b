"""Fixtures: ``app`` (configured by ``@pytest.mark.settings``), ``client``, ``runner``.

Each test gets an application with empty tables on an in-memory SQLite database
(made once per worker and settings, see :func:`app`; tables
created from the models; the migrations are tested separately, on SQLite and
PostgreSQL).  ``@pytest.mark.settings(KEY=value, ...)`` overrides config keys,
in the manner of Flask-Security-Too's test suite.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from jinja2.bccache import Bucket, BytecodeCache
from sqlalchemy import make_url, text
from sqlalchemy.pool import StaticPool

from app import create_app
from app.extensions import db
from flask_bastion.counters import MemoryCounters
from tests.services import POSTGRES_URL, REDIS_URL, TEST_KEY_PREFIX, port_open, require_service

BASE_SETTINGS: dict[str, Any] = {
    "BASTION_CONFIG": "testing",
    "SQLALCHEMY_DATABASE_URI": "sqlite://",
    # One shared in-memory database for every connection of this app.
    "SQLALCHEMY_ENGINE_OPTIONS": {
        "poolclass": StaticPool,
        "connect_args": {"check_same_thread": False},
    },
}


class MemoryBytecodeCache(BytecodeCache):
    """Compiled Jinja templates shared by every test app of the run.

    Each test makes a new app, so a new Jinja environment that would compile
    every template it renders again (about 60 ms for a page with Bootstrap-Flask's
    form macros: half the suite's time).  Jinja checks each entry against a
    checksum of the template's source, so a changed template is compiled anew.
    """

    def __init__(self) -> None:
        self.store: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        """Fill ``bucket`` from the store, if it holds its template."""
        if bucket.key in self.store:
            bucket.bytecode_from_string(self.store[bucket.key])

    def dump_bytecode(self, bucket: Bucket) -> None:
        """Keep the bytecode of ``bucket`` for the next app."""
        self.store[bucket.key] = bucket.bytecode_to_string()


TEMPLATE_CACHE = MemoryBytecodeCache()


def share_url_builders() -> None:
    """Let every test app reuse Werkzeug's URL builder functions for equal rules.

    Werkzeug compiles two Python functions per URL rule (``Rule._compile_builder``,
    through ``ast`` and ``compile``) when a rule joins an app's map: over half of
    the 40 ms ``create_app`` takes, paid again by each of the suite's ~1,400
    apps.  The function depends only on the rule's text, its parsed parts, its
    defaults and ``append_unknown``; converters are looked up on the bound rule
    when a URL is built, so one function serves every app.  Tests only: a
    private Werkzeug method, so if it ever changes shape the suite runs
    unpatched (slower, not wrong).
    """
    from werkzeug.routing.rules import Rule

    compile_builder = getattr(Rule, "_compile_builder", None)
    if compile_builder is None or getattr(compile_builder, "shared", False):
        return
    builders: dict[tuple[Any, ...], Any] = {}

    def shared_builder(rule: Rule, append_unknown: bool = True) -> Any:
        converters = tuple((name, type(c).__name__) for name, c in rule._converters.items())
        defaults = tuple(sorted((k, repr(v)) for k, v in (rule.defaults or {}).items()))
        key = (rule.rule, tuple(rule._trace), converters, defaults, append_unknown)
        builder = builders.get(key)
        if builder is None:
            builder = builders[key] = compile_builder(rule, append_unknown)
        return builder

    shared_builder.shared = True  # type: ignore[attr-defined]
    Rule._compile_builder = shared_builder  # type: ignore[method-assign]


share_url_builders()


def make_app(**settings: Any) -> Flask:
    """Create a testing app with ``settings`` on top of :data:`BASE_SETTINGS`."""
    application = create_app({**BASE_SETTINGS, **settings})
    application.jinja_env.bytecode_cache = TEMPLATE_CACHE
    return application


@contextmanager
def app_with_tables(**settings: Any) -> Iterator[Flask]:
    """A testing app (``settings`` as for :func:`make_app`) whose tables exist while it is used.

    Any tables left by an interrupted run are dropped first; afterwards the
    session is removed, the tables dropped and the pool closed (on the real
    PostgreSQL, nothing is left behind).
    """
    application = make_app(**settings)
    with application.app_context():
        db.drop_all()
        db.create_all()
    try:
        yield application
    finally:
        with application.app_context():
            db.session.remove()
            db.drop_all()
            db.engine.dispose()


#: Apps kept for the next test with the same settings (this worker's), by their settings.
SHARED_APPS: dict[str, tuple[Flask, Any]] = {}


def registered(functions: Any) -> Any:
    """Flask's hook and handler registries without the empty entries its lookups add.

    They are ``defaultdict``s: serving a request reads them by blueprint name
    and error class, and each read of a missing name leaves an empty entry.
    """
    if isinstance(functions, dict):
        kept = {name: registered(value) for name, value in functions.items()}
        return {name: value for name, value in kept.items() if value}
    return functions


def app_shape(application: Flask) -> Any:
    """What a test could change in ``application`` beyond its rows and its caches.

    Its config (each value's ``repr``, so a list changed in place shows, and an
    object replaced shows by its address), its routes, hooks, handlers,
    template globals and extensions.
    """
    config = {name: repr(value) for name, value in application.config.items()}
    hooks = [
        registered(functions)
        for functions in (
            application.before_request_funcs,
            application.after_request_funcs,
            application.teardown_request_funcs,
            application.url_value_preprocessors,
            application.url_default_functions,
            application.template_context_processors,
            application.error_handler_spec,
        )
    ]
    return (
        config,
        sorted((rule.rule, rule.endpoint) for rule in application.url_map.iter_rules()),
        sorted(application.view_functions),
        repr([hooks, application.teardown_appcontext_funcs]),
        sorted(application.jinja_env.globals),
        sorted(application.jinja_env.filters),
        {name: id(value) for name, value in application.extensions.items()},
        (id(application.session_interface), id(application.jinja_env)),
    )


def forget_state(application: Flask) -> None:
    """Empty ``application``'s tables, mail outbox, rate-limit counters and page caches.

    Also drops the Redis client that ``/readyz`` keeps (made again when asked for).
    """
    application.extensions.pop("mail_outbox", None)
    application.extensions.pop("bastion.redis_health", None)
    for name in ("bastion.page_cache", "bastion.story_cards", "bastion.url_cache"):
        cache = application.extensions.get(name)
        if cache is not None:
            cache.entries.clear()
    counters = getattr(application.extensions.get("bastion.limiter"), "counters", None)
    if isinstance(counters, MemoryCounters):
        counters.reset()
    with application.app_context():
        db.session.remove()
        empty_tables()
        db.session.remove()


@pytest.fixture
def app(request: pytest.FixtureRequest) -> Iterator[Flask]:
    """An app with empty tables, configured by the test's ``settings`` markers.

    Creating an app costs more than most tests, so an app goes on to the next
    test with the same settings when the test changed nothing of it but rows,
    mail, counters and caches (:func:`app_shape`), which :func:`forget_state`
    empties; any other change (a setting, a route, a hook) retires it.  A test
    that adds routes (Flask refuses them once an app has served a request) is
    marked ``@pytest.mark.own_app`` and gets a new app, which no test reuses.
    """
    settings: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers("settings"))):
        settings.update(marker.kwargs)
    key = repr(sorted(settings.items()))
    own = request.node.get_closest_marker("own_app") is not None
    application, shape = (None, None) if own else SHARED_APPS.pop(key, (None, None))
    if application is None:
        application = make_app(**settings)
        with application.app_context():
            db.create_all()
        shape = app_shape(application)
    yield application
    shared = not own
    if shared:
        try:
            forget_state(application)
        except Exception:  # e.g. a test that pointed the app at a database that is gone
            shared = False
    if shared and app_shape(application) == shape:
        SHARED_APPS[key] = (application, shape)
    else:
        with application.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def people(app: Flask) -> dict[str, int]:
    """Ids of an author, another user and an admin (all with the test password)."""
    from tests.test_auth import make_user

    return {
        "author": make_user(app, email="author@example.com", name="Author"),
        "other": make_user(app, email="other@example.com", name="Other"),
        "admin": make_user(app, email="admin@example.com", name="Admin", is_admin=True),
    }


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client for :func:`app`."""
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    """A CLI runner for :func:`app`."""
    return app.test_cli_runner()


@pytest.fixture
def html() -> dict[str, str]:
    """Request headers of a browser asking for a page."""
    return {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.fixture
def json_accept() -> dict[str, str]:
    """Request headers of an API client."""
    return {"Accept": "application/json"}


@pytest.fixture(autouse=True)
def _quiet_request_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bastion")


@contextmanager
def new_postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database (its URL), dropped when the block ends."""
    require_service("PostgreSQL", POSTGRES_URL)
    name = f"bastion_test_{uuid.uuid4().hex[:12]}"
    admin = make_url(POSTGRES_URL).set(drivername="postgresql")
    dsn = admin.render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A new, empty PostgreSQL database for this run, dropped at the end."""
    with new_postgres_database() as url:
        yield url


@pytest.fixture
def fresh_postgres_url() -> Iterator[str]:
    """A PostgreSQL database of this test's own (for migrations: nothing else's tables in it)."""
    with new_postgres_database() as url:
        yield url


@pytest.fixture
def production_pg_app(postgres_url: str) -> Iterator[Flask]:
    """An app with its tables on the real PostgreSQL, with production's engine options."""
    from app.config import ProductionConfig

    with app_with_tables(
        SQLALCHEMY_DATABASE_URI=postgres_url,
        SQLALCHEMY_ENGINE_OPTIONS=ProductionConfig.SQLALCHEMY_ENGINE_OPTIONS,
    ) as application:
        yield application


@pytest.fixture
def redis_url() -> str:
    """The real Redis (skipped, or failed under CI, when it isn't running)."""
    require_service("Redis", REDIS_URL)
    return REDIS_URL


@pytest.fixture(scope="session", autouse=True)
def _no_redis_keys_left_behind() -> Iterator[None]:
    """The run leaves no keys in the shared Redis: tests prefix theirs (rate limits, job
    queues), and RQ's own unprefixed keys lose what names ours: the set of queue names
    (``rq:queues``; Redis drops it once empty) and the records of stopped workers."""
    yield
    if port_open(REDIS_URL):
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"*{TEST_KEY_PREFIX}*", count=1000))
        if keys:
            client.delete(*keys)
        ours = TEST_KEY_PREFIX.encode()
        queues = [name for name in client.smembers("rq:queues") if ours in name]
        if queues:
            client.srem("rq:queues", *queues)
        # A stopped RQ worker's record lives on for a minute; ours name our queues.
        workers = [
            key
            for key in client.scan_iter(match="rq:worker:*", count=1000)
            if ours in (client.hget(key, "queues") or b"")
        ]
        if workers:
            client.delete(*workers)


def empty_tables() -> None:
    """Delete every row; ids start again from 1.

    On PostgreSQL in one round trip: ``DELETE`` from each table, children first,
    then ``ALTER SEQUENCE ... RESTART`` for each sequence of the schema.  A
    ``TRUNCATE`` of the same few rows costs ten times as much (19 ms against
    2 ms here): it replaces each table's files.
    """
    tables = list(reversed(db.metadata.sorted_tables))
    if db.engine.dialect.name == "postgresql":
        sequences = db.session.scalars(
            text("SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()")
        )
        quote = db.engine.dialect.identifier_preparer.quote  # names of our own schema
        statements = [f"DELETE FROM {quote(table.name)}" for table in tables]  # noqa: S608
        statements += [f"ALTER SEQUENCE {quote(name)} RESTART" for name in sequences]
        db.session.execute(text("; ".join(statements)))
    else:
        for table in tables:
            db.session.execute(table.delete())
    db.session.commit()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def db_app(request: pytest.FixtureRequest) -> Iterator[Flask]:
    """The app with its tables on SQLite, then on the real PostgreSQL (made once per module)."""
    settings: dict[str, Any] = {}
    if request.param == "postgresql":
        settings = {
            "SQLALCHEMY_DATABASE_URI": request.getfixturevalue("postgres_url"),
            "SQLALCHEMY_ENGINE_OPTIONS": {},
        }
    with app_with_tables(**settings) as application:
        yield application


@pytest.fixture
def any_db(db_app: Flask) -> Iterator[Flask]:
    """:func:`db_app` with empty tables for each test."""
    yield db_app
    with db_app.app_context():
        empty_tables()
