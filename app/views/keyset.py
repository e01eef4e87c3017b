"""Keyset (cursor) pagination: every row reachable, each page as fast as the first.

Page-number pagination (``LIMIT n OFFSET k``) reads and throws away ``k``
rows, so deep pages grow slow, and a count is needed to know the last page;
capping both left everything past the newest 1,000 rows unreachable.  A
keyset page instead starts *after the last row shown*::

    WHERE (created_at, id) < (:created_at, :id)
    ORDER BY created_at DESC, id DESC
    LIMIT :per_page + 1

which an index on ``(created_at, id)`` answers by reading ``per_page + 1``
entries wherever the page is (Markus Winand, "Paging Through Results",
use-the-index-luke.com; the technique GitHub's and Slack's APIs expose as
cursors).  Rows inserted or deleted between two pages neither repeat nor
go missing: a cursor names a position in the order, not a row number.

A :class:`Keyset` is an ordering, written as model attribute names in the
Django style (``("-created_at", "-id")``: newest first).  Its last key must
be unique (the primary key), so the order is total; every key goes the same
direction, so a row-value comparison (SQL-92, supported by PostgreSQL and
SQLite >= 3.15) selects the rest of the order.

A cursor is opaque to users: URL-safe base64 of a JSON array ``[direction,
value, ...]``, where the direction is ``"n"`` (the rows after the values:
"Older" on a newest-first list) or ``"p"`` (the rows before them: "Newer").
Anything that does not decode to the ordering's types (a damaged link, a
cursor of another list, a naive timestamp, an id out of range) raises
:class:`InvalidCursor`, which the HTML views answer with a 400 page and the
API with ``application/problem+json``; never a 500.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, tuple_
from sqlalchemy.orm import Session, scoped_session
from sqlalchemy.sql.expression import literal

#: Cursor directions: the rows after the cursor's values, or before them.
AFTER, BEFORE = "n", "p"
#: A cursor longer than this is refused before it is decoded (characters).
MAX_CURSOR_LENGTH = 512
#: Limits of a cursor value: integers that PostgreSQL's ``bigint`` holds, short strings.
MAX_INT = 2**63 - 1
MAX_TEXT = 200


def encode_cursor(direction: str, values: Sequence[Any]) -> str:
    """The cursor of ``direction`` (:data:`AFTER` or :data:`BEFORE`) at key ``values``.

    Timestamps are written in ISO 8601 with their offset; the JSON is
    base64url-encoded without padding (RFC 4648, section 5), so a cursor
    needs no escaping in a URL.
    """
    plain = [value.isoformat() if isinstance(value, datetime) else value for value in values]
    raw = json.dumps([direction, *plain], separators=(",", ":"), ensure_ascii=True).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


class InvalidCursor(ValueError):
    """A cursor that is malformed, of another ordering, or out of range.

    The message says what is wrong in words a person understands; it never
    echoes the cursor.
    """


def parse_timestamp(value: Any) -> datetime:
    """An ISO 8601 timestamp with an offset, as aware UTC.

    :raises InvalidCursor: for anything else: not a string, naive (its zone
        is unknown), or without a UTC time (``0001-01-01T00:00+01:00``).
    """
    if isinstance(value, str) and len(value) <= 40:
        try:
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is not None:
                return moment.astimezone(UTC)
        except (ValueError, OverflowError):
            pass
    raise InvalidCursor("the page link is damaged")


@dataclass(frozen=True)
class KeysetPage:
    """One page of a keyset-paginated list.

    :ivar items: the rows of this page, in the ordering's order.
    :ivar next_cursor: the cursor of the page after this one, or ``None`` at the end.
    :ivar prev_cursor: the cursor of the page before this one, or ``None`` at the start.
    :ivar per_page: the page size that was asked for.
    :ivar cursor: the cursor this page was read from (``None`` for the first page).
    """

    items: Sequence[Any]
    next_cursor: str | None
    prev_cursor: str | None
    per_page: int
    cursor: str | None = None

    @property
    def has_next(self) -> bool:
        """Whether rows follow this page."""
        return self.next_cursor is not None

    @property
    def has_prev(self) -> bool:
        """Whether rows precede this page."""
        return self.prev_cursor is not None

    @property
    def is_first(self) -> bool:
        """Whether this is the first page (read without a cursor)."""
        return self.cursor is None


class Keyset:
    """An ordering of ``model`` rows that pages by cursor.

    :param model: the mapped class whose attributes are the keys.
    :param keys: attribute names, each optionally prefixed by ``-`` for
        descending; all the same direction, the last one unique (e.g. ``id``).
    :raises ValueError: for no keys, an unknown attribute, or mixed directions.

    >>> Keyset(Story, ("-created_at", "-id"))  # doctest: +SKIP
    """

    def __init__(self, model: type[Any], keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("a keyset needs at least one key (the last one unique)")
        descending = {key.startswith("-") for key in keys}
        if len(descending) != 1:
            raise ValueError(f"keyset keys must all go the same direction, got {list(keys)}")
        self.model = model
        self.descending = descending.pop()
        self.names = tuple(key.lstrip("-") for key in keys)
        missing = [name for name in self.names if not hasattr(model, name)]
        if missing:
            raise ValueError(f"{model.__name__} has no attribute {missing[0]!r} to order by")
        self.columns = tuple(getattr(model, name) for name in self.names)
        self.types = tuple(column.type for column in self.columns)

    # --- cursors -----------------------------------------------------------------
    def cursor_for(self, row: Any, direction: str) -> str:
        """The cursor that starts after (``AFTER``) or before (``BEFORE``) ``row``."""
        return encode_cursor(direction, [getattr(row, name) for name in self.names])

    def decode(self, cursor: str) -> tuple[str, tuple[Any, ...]]:
        """The direction and key values of ``cursor``.

        :raises InvalidCursor: when it is not a cursor of this ordering.
        """
        if not cursor or len(cursor) > MAX_CURSOR_LENGTH or not cursor.isascii():
            raise InvalidCursor("the page link is damaged")
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            data = json.loads(raw)
        except (binascii.Error, ValueError):
            raise InvalidCursor("the page link is damaged") from None
        if (
            not isinstance(data, list)
            or len(data) != len(self.names) + 1
            or data[0] not in (AFTER, BEFORE)
        ):
            raise InvalidCursor("the page link belongs to another list")
        values = tuple(
            self._value(value, column_type.python_type)
            for value, column_type in zip(data[1:], self.types, strict=True)
        )
        return data[0], values

    @staticmethod
    def _value(value: Any, expected: type) -> Any:
        if expected is datetime:
            return parse_timestamp(value)
        if expected is int and type(value) is int and -MAX_INT <= value <= MAX_INT:
            return value
        if (
            expected is str
            and isinstance(value, str)
            and len(value) <= MAX_TEXT
            and "\x00" not in value
        ):
            return value
        raise InvalidCursor("the page link is damaged")

    # --- statements --------------------------------------------------------------
    def order(self, statement: Select[Any], *, reverse: bool = False) -> Select[Any]:
        """``statement`` ordered by the keys (``reverse``: the other way round)."""
        descending = self.descending != reverse
        return statement.order_by(
            *(column.desc() if descending else column.asc() for column in self.columns)
        )

    def beyond(self, statement: Select[Any], values: Sequence[Any], direction: str) -> Select[Any]:
        """``statement`` limited to rows after (``AFTER``) or before (``BEFORE``) ``values``."""
        row = tuple_(*self.columns)
        bound = tuple_(
            *(
                literal(value, column_type)
                for value, column_type in zip(values, self.types, strict=True)
            )
        )
        later = (row < bound) if self.descending else (row > bound)
        earlier = (row > bound) if self.descending else (row < bound)
        return statement.where(later if direction == AFTER else earlier)

    def page(
        self,
        session: Session | scoped_session[Session],
        statement: Select[Any],
        *,
        cursor: str | None,
        per_page: int,
    ) -> KeysetPage:
        """Read one page of ``statement`` (an unordered ORM ``select()``) from ``cursor``.

        One statement of ``per_page + 1`` rows (the extra one tells whether
        more follow), whatever the page's depth; a ``BEFORE`` cursor with no
        rows before it (the list's start moved) reads the first page instead.

        :param session: the SQLAlchemy session.
        :param statement: the rows to page through, without ``order_by``.
        :param cursor: a cursor from :meth:`cursor_for`, or ``None`` for the first page.
        :param per_page: rows per page (at least 1).
        :raises InvalidCursor: for a cursor that is not one of this ordering.
        """
        if cursor is None:
            return self._first(session, statement, per_page)
        direction, values = self.decode(cursor)
        if direction == AFTER:
            rows = self._fetch(session, self.order(self.beyond(statement, values, AFTER)), per_page)
            items = rows[:per_page]
            return KeysetPage(
                items=items,
                next_cursor=self.cursor_for(items[-1], AFTER) if len(rows) > per_page else None,
                # The row the cursor came from (or its position) precedes this page.
                prev_cursor=self.cursor_for(items[0], BEFORE)
                if items
                else encode_cursor(BEFORE, values),
                per_page=per_page,
                cursor=cursor,
            )
        rows = self._fetch(
            session, self.order(self.beyond(statement, values, BEFORE), reverse=True), per_page
        )
        if not rows:
            return self._first(session, statement, per_page)
        items = list(reversed(rows[:per_page]))
        return KeysetPage(
            items=items,
            next_cursor=self.cursor_for(items[-1], AFTER),
            prev_cursor=self.cursor_for(items[0], BEFORE) if len(rows) > per_page else None,
            per_page=per_page,
            cursor=cursor,
        )

    def _first(
        self, session: Session | scoped_session[Session], statement: Select[Any], per_page: int
    ) -> KeysetPage:
        rows = self._fetch(session, self.order(statement), per_page)
        items = rows[:per_page]
        return KeysetPage(
            items=items,
            next_cursor=self.cursor_for(items[-1], AFTER) if len(rows) > per_page else None,
            prev_cursor=None,
            per_page=per_page,
        )

    @staticmethod
    def _fetch(
        session: Session | scoped_session[Session], statement: Select[Any], per_page: int
    ) -> list[Any]:
        return list(session.scalars(statement.limit(per_page + 1)).unique().all())
