"""Database outages: a 503 page with every security header, one log line per request.

When PostgreSQL is down or restarting, a view's query raises
:class:`sqlalchemy.exc.OperationalError` (or ``InterfaceError`` for a
connection that died in use).  Without this module that is a 500, logged
with a full traceback per request, and the error page itself queries the
database again to show the signed-in user.  Here:

* the session is rolled back and the request is answered with a 503
  (``Retry-After: 5``) through the normal error page, so it still carries
  the CSP, HSTS and the request id;
* the request's single log line (``bastion.request``) gets
  ``"error": "database unavailable (OperationalError)"``; a traceback is
  logged at most once every :data:`TRACEBACK_INTERVAL` seconds per process;
* a connection that dies after the view finished (the database stopped
  between the last query and the end of the request) no longer turns the
  finished response into a bare 500 from gunicorn: the session is closed
  before Flask-SQLAlchemy's own teardown, and a failing rollback there is
  noted on the request's log line instead of escaping Flask;
* ``g.database_unavailable`` is set, so the user loader
  (:func:`app.auth.login.load_user`) treats the visitor as signed out for
  the rest of the request instead of querying again.

Every error page, not only the 503, renders after a database error (issue 9):
:func:`roll_back_before_error_page` runs before each error response
(:func:`flask_bastion.before_error_response`), so no page runs a statement
in a transaction PostgreSQL has aborted (``InFailedSqlTransaction``), and
the 5xx pages (``app/templates/bastion/error.html``) leave out the account
menu, so they render without any query at all.

A pooled connection that died while idle (a database restart, a terminated
backend) is replaced at checkout, so the app recovers by itself as soon as
the database answers and no request fails for it:
:func:`discard_dead_connection` looks at the connection's socket, which
costs a ``select()`` call where ``pool_pre_ping`` cost a round trip to the
server on every request (a quarter of a story list page's time).
"""

from __future__ import annotations

import contextlib
import logging
import select
import time
from typing import Any

from flask import Flask, Response, g, request
from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError, SQLAlchemyError

from app.extensions import db
from flask_bastion.errors import MESSAGES, before_error_response, error_response
from flask_bastion.request_log import LOG_ERROR_ENVIRON_KEY

logger = logging.getLogger("bastion.database")

#: Errors that mean "the database can't be reached", not "this query is wrong".
OUTAGE_ERRORS = (OperationalError, InterfaceError)
#: Seconds between two logged tracebacks of outages (per process).
TRACEBACK_INTERVAL = 300.0
#: Seconds a client is asked to wait before retrying (``Retry-After``).
RETRY_AFTER_SECONDS = 5

_last_traceback = -TRACEBACK_INTERVAL


def rollback_quietly() -> None:
    """Roll the session back; a dead connection may make that fail too."""
    with contextlib.suppress(SQLAlchemyError):
        db.session.rollback()


def driver_error(error: BaseException) -> BaseException:
    """The database driver's exception behind a SQLAlchemy one (its ``orig``), else ``error``."""
    return getattr(error, "orig", None) or error


def note_outage(error: SQLAlchemyError, what: str) -> None:
    """Mark this request as hit by a database outage.

    Rolls the session back, sets ``g.database_unavailable`` (the user loader
    then stops querying) and leaves ``"<what> (<driver error class>)"`` for
    the request's log line.
    """
    rollback_quietly()
    g.database_unavailable = True
    request.environ[LOG_ERROR_ENVIRON_KEY] = f"{what} ({type(driver_error(error)).__name__})"


def handle_database_outage(error: SQLAlchemyError) -> Response:
    """Answer a request whose database work failed to connect with a 503 page.

    :param error: the ``OperationalError`` or ``InterfaceError`` raised.
    :returns: the 503 response (HTML or problem+json, as the client prefers).
    """
    global _last_traceback
    note_outage(error, "database unavailable")
    now = time.monotonic()
    if now - _last_traceback >= TRACEBACK_INTERVAL:
        _last_traceback = now
        logger.error(
            "database unavailable; answering 503 (traceback shown once per %d s)",
            int(TRACEBACK_INTERVAL),
            exc_info=error,
        )
    return outage_response()


def outage_response() -> Response:
    """The 503 "temporarily unavailable" page (or problem+json) with ``Retry-After``.

    Also used where the visitor could not be loaded because the database is
    down and a page needs a signed-in user: a sign-in redirect would mislead.
    """
    return error_response(
        503,
        "Service Unavailable",
        MESSAGES[503],
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def close_session_quietly(error: BaseException | None = None) -> None:
    """Close the request's session; a connection that died meanwhile can't fail the request.

    Registered with ``teardown_request``, so it runs before Flask-SQLAlchemy's
    ``teardown_appcontext`` (which then finds nothing to close).  Rolling back
    on a connection the server just closed raises ``OperationalError``; Flask
    would let that escape and gunicorn would answer a bare 500 in place of
    the response the view already made.  A request that never used the
    database (a health check, a kept page) has no session to close.
    """
    if not db.session.registry.has():
        return
    try:
        db.session.remove()
    except SQLAlchemyError as failure:
        reason = type(driver_error(failure)).__name__
        request.environ.setdefault(
            LOG_ERROR_ENVIRON_KEY, f"database connection lost while closing ({reason})"
        )
        with contextlib.suppress(SQLAlchemyError):
            db.session.remove()


def roll_back_before_error_page(status: int) -> None:
    """Roll back the request's open transaction before an error response is built.

    Registered with :func:`flask_bastion.before_error_response`.  Whatever
    failed (a query PostgreSQL refused, a flush, a view's ``abort``), nothing
    of the failed request is kept, and the error page reads, if it reads at
    all, in a new transaction: after a refused statement PostgreSQL answers
    every further one of the same transaction with ``InFailedSqlTransaction``,
    so a page loading the signed-in user failed as well (a bare 500 from
    gunicorn, issue 9).

    :param status: the status code of the error response (not used: every
        error rolls back).
    """
    if db.session().in_transaction():
        rollback_quietly()


def discard_dead_connection(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """``checkout`` pool event: refuse a connection whose server has hung up.

    An idle PostgreSQL connection has nothing to read.  When its socket is
    readable, the server has closed it or sent a last error (a restart,
    ``pg_terminate_backend``, an idle timeout); raising
    :class:`~sqlalchemy.exc.DisconnectionError` here makes the pool drop it
    and check out (or open) another, up to three times (SQLAlchemy docs,
    "Dealing with Disconnects", custom pessimistic checks).  A connection
    without a socket (SQLite) is left alone.

    :raises sqlalchemy.exc.DisconnectionError: for a closed or readable connection.
    """
    fileno = getattr(dbapi_connection, "fileno", None)
    if fileno is None:
        return
    if getattr(dbapi_connection, "closed", False):
        raise DisconnectionError("the connection is closed")
    try:
        readable, _, _ = select.select([fileno()], [], [], 0)
    except Exception as error:  # OSError, or the driver's own "the connection is closed"
        raise DisconnectionError(f"the connection failed: {type(error).__name__}") from None
    if readable:
        raise DisconnectionError("the server closed the connection while it was idle")


def init_outages(app: Flask) -> None:
    """Register :func:`handle_database_outage` for :data:`OUTAGE_ERRORS` on ``app``,
    :func:`close_session_quietly` as a ``teardown_request`` function,
    :func:`roll_back_before_error_page` before every error response and
    :func:`discard_dead_connection` on the checkout of every engine's pool."""
    with app.app_context():
        for engine in db.engines.values():
            event.listen(engine, "checkout", discard_dead_connection)
    for error_class in OUTAGE_ERRORS:
        app.register_error_handler(error_class, handle_database_outage)
    app.teardown_request(close_session_quietly)
    before_error_response(app, roll_back_before_error_page)
