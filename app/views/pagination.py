"""Page-number pagination that stays fast on large tables.

``Pagination.query`` fetches ``per_page + 1`` rows (the extra one says
whether a next page exists) and counts matching rows only up to a cap
(``count_limit``), so the first pages of a 100,000-row table cost about
what they cost at 100 rows: a full ``COUNT(*)`` would not.  Beyond the cap
the page shows "more" instead of a last page number.  Rows and count are
one statement: the count is a scalar subquery, a last column of every row
(an empty page has nothing to count).

Rules for ``?page=``: a whole number from 1, in ASCII digits; anything else
(``0``, ``-1``, ``abc``, ``²``, a tenth digit) or a page past the end is a
404, as Flask-SQLAlchemy's ``paginate(error_out=True)`` does.  Pages stop at
the counted rows (``count_limit``, 1000 by default): OFFSET costs grow with
depth (55 ms at row 80,000 of 100,000 measured by
``bench/story_list_scale.py``), so deep pages are refused rather than slow;
an archive needs other navigation.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from flask import abort, request
from sqlalchemy import Select, func, select
from sqlalchemy.orm import scoped_session

#: A page number: 1 to 9 ASCII digits, no leading zero (``re.ASCII``: ``[0-9]`` only).
PAGE_NUMBER = re.compile(r"[1-9][0-9]{0,8}", re.ASCII)


@dataclass(frozen=True)
class Pagination:
    """One page of results.

    :ivar items: the rows of this page.
    :ivar page: its number, from 1.
    :ivar per_page: rows per page.
    :ivar total: matching rows, counted up to ``count_limit``.
    :ivar total_is_exact: false when there are more than ``count_limit``.
    :ivar has_next: whether a next page exists.
    """

    items: Sequence[Any]
    page: int
    per_page: int
    total: int
    total_is_exact: bool
    has_next: bool

    @property
    def has_prev(self) -> bool:
        """Whether a previous page exists."""
        return self.page > 1

    @property
    def pages(self) -> int:
        """Number of pages known from the (capped) count."""
        return max(1, -(-self.total // self.per_page))

    def iter_pages(self, around: int = 2) -> Iterator[int | None]:
        """Page numbers to show: first, last known, and ``around`` each side; ``None`` for a gap."""
        last = self.pages
        shown = {1, last, *range(self.page - around, self.page + around + 1)}
        previous = 0
        for number in sorted(n for n in shown if 1 <= n <= last):
            if number - previous > 1:
                yield None
            yield number
            previous = number

    @classmethod
    def query(
        cls,
        session: scoped_session,
        statement: Select[Any],
        *,
        page: int,
        per_page: int,
        count_limit: int = 1000,
    ) -> Pagination:
        """Run ``statement`` for one page.

        :param session: the SQLAlchemy session.
        :param statement: an ORM ``select()`` with its ``order_by``.
        :param page: page number, from 1.
        :param per_page: rows per page.
        :param count_limit: count no further than this many rows.
        :raises werkzeug.exceptions.NotFound: for a page past the end (except page
            1) or past the counted rows.
        """
        if (page - 1) * per_page >= count_limit and page != 1:
            abort(404)
        counted = (
            statement.with_only_columns(*statement.selected_columns[:1], maintain_column_froms=True)
            .order_by(None)
            .limit(count_limit + 1)
        )
        # One statement: the capped count rides along as a last column (an
        # uncorrelated subquery, computed once), so a page is one round trip.
        count = select(func.count()).select_from(counted.subquery()).scalar_subquery()
        rows = session.execute(
            statement.add_columns(count).limit(per_page + 1).offset((page - 1) * per_page)
        )
        found = rows.unique().all()
        items = [row[0] for row in found]
        has_next = len(items) > per_page and page * per_page < count_limit
        items = items[:per_page]
        if not items and page != 1:
            abort(404)
        total = found[0][-1] if found else 0
        return cls(
            items=items,
            page=page,
            per_page=per_page,
            total=min(total, count_limit),
            total_is_exact=total <= count_limit,
            has_next=has_next,
        )


def page_argument(name: str = "page") -> int:
    """The ``?page=`` number of this request (default 1).

    :raises werkzeug.exceptions.NotFound: for anything but 1 to 9 ASCII digits
        making a number >= 1 (``str.isdigit`` alone accepts ``²``, which ``int``
        refuses: a 500, issue 9).
    """
    raw = request.args.get(name, "1")
    if not PAGE_NUMBER.fullmatch(raw):
        abort(404)
    return int(raw)
