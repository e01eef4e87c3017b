"""Does the public story list stay fast from 100 to 100,000 stories?

Run it with ``.venv/bin/python bench/story_list_scale.py`` (PostgreSQL must
answer at ``TEST_POSTGRES_URL``, default
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``).  It is a
benchmark, not a test: it prints a table and exits 0 whatever the ratio; it
exits 1 only when something went wrong (no PostgreSQL, a page did not answer
200, a migration failed).

What it does, in one run:

1. Creates a throwaway database ``bastion_bench_<random>`` and runs the
   migrations into it (``flask_migrate.upgrade``); the database is dropped
   ``WITH (FORCE)`` in a ``finally`` block whatever happens.
2. Inserts 50 users (one disabled, two soft-deleted) and 100 stories from
   the last 30 days (85% published, 10% drafts, 5% soft-deleted), runs
   ``ANALYZE``, then measures ``/stories/``, ``/stories/?page=3`` and one
   story page with the Flask test client of a production app, in process:
   a warm-up, then ``--requests`` requests each; mean and p95 in ms, and SQL
   statements per request (a ``before_cursor_execute`` listener on the
   engine).
3. Back-fills the history: COPYs stories up to ``--stories`` in all, their
   ``created_at`` spread over the three years before those 100 (rows in
   time order, authors skewed over the users, same published / draft /
   deleted mix), runs ``ANALYZE`` and measures the same pages again.  The
   newest stories are the same at both sizes, so every page renders the same
   rows: only the database side grows.
4. Prints the table (page, ms at both sizes, ratio, statements per request)
   and the key lines of ``EXPLAIN (ANALYZE, BUFFERS)`` of the list query and
   of the count query, captured from the app's own statements at the large
   size, plus whether PostgreSQL switched those (server-side prepared, by
   psycopg after five uses) statements to a generic plan.

"About as fast" means the large-size mean is within ``--aim`` (1.5x) of the
small-size mean.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import secrets
import statistics
import string
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy import event, make_url  # noqa: E402

POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
SMALL = 100
USERS = 50
WARMUP = 20
AIM = 1.5
NOW = datetime.now(UTC).replace(microsecond=0)
RECENT_SPAN = timedelta(days=30)
HISTORY_SPAN = timedelta(days=3 * 365)
MANIFEST = ROOT / "app" / "static" / "dist" / "manifest.json"


class BenchError(RuntimeError):
    """Something went wrong: the run's numbers can't be trusted."""


# --- the throwaway database ----------------------------------------------------
def admin_dsn() -> str:
    """libpq DSN of the maintenance database (for CREATE / DROP DATABASE)."""
    return make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def throwaway_database() -> Iterator[tuple[str, str]]:
    """Yield (SQLAlchemy URL, libpq DSN) of a new database; drop it at the end."""
    name = f"bastion_bench_{secrets.token_hex(6)}"
    try:
        with psycopg.connect(admin_dsn(), autocommit=True, connect_timeout=5) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        raise BenchError(f"PostgreSQL is not reachable at {POSTGRES_URL}: {exc}") from exc
    url = make_url(POSTGRES_URL).set(database=name)
    try:
        yield (
            url.render_as_string(hide_password=False),
            url.set(drivername="postgresql").render_as_string(hide_password=False),
        )
    finally:
        with psycopg.connect(admin_dsn(), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        print(f"dropped database {name}", file=sys.stderr)


# --- data ------------------------------------------------------------------------
WORDS = (  # noqa: SIM905
    "harbour lantern winter orchard signal copper meadow quiet river engine paper "
    "thunder garden silver morning island bridge letter window forest stone ember "
    "journey mirror shadow velvet compass kettle ladder marble needle orbit pepper "
    "ribbon saddle tunnel violet whistle yellow zephyr anchor basket candle drizzle"
).split()


def sentence(rng: random.Random, low: int = 6, high: int = 16) -> str:
    words = rng.choices(WORDS, k=rng.randint(low, high))
    return " ".join(words).capitalize() + "."


def markdown_body(rng: random.Random) -> str:
    """A few hundred to ~1,500 characters of Markdown: paragraphs, emphasis, a list, a link."""
    parts = []
    for _ in range(rng.randint(2, 5)):
        text = " ".join(sentence(rng) for _ in range(rng.randint(2, 5)))
        word = rng.choice(WORDS)
        text = text.replace(f" {word} ", f" **{word}** ", 1)
        parts.append(text)
    if rng.random() < 0.4:
        parts.insert(1, "\n".join(f"- {sentence(rng, 2, 5)}" for _ in range(rng.randint(2, 4))))
    if rng.random() < 0.3:
        parts.append(f"See [the {rng.choice(WORDS)}](https://example.com/{rng.choice(WORDS)}).")
    if rng.random() < 0.2:
        parts.insert(0, f"## {sentence(rng, 2, 4)[:-1]}")
    return "\n\n".join(parts)


def title(rng: random.Random) -> str:
    return sentence(rng, 2, 7)[:-1][:200]


@dataclass
class Data:
    """What was inserted: live authors, and the story used for the detail page."""

    author_ids: list[int]
    author_weights: list[float]
    detail_id: int = 0
    stories: int = 0
    bodies: list[str] = field(default_factory=list)


def insert_users(dsn: str, rng: random.Random) -> Data:
    """50 accounts: one disabled, two soft-deleted (their stories are hidden by the list's join)."""
    rows = []
    for i in range(1, USERS + 1):
        created = NOW - HISTORY_SPAN - RECENT_SPAN - timedelta(days=rng.randint(1, 60))
        deleted = NOW - timedelta(days=rng.randint(40, 400)) if i in (USERS - 1, USERS) else None
        rows.append(
            (
                f"user{i}@example.com",
                f"{rng.choice(WORDS).capitalize()} {rng.choice(string.ascii_uppercase)}.",
                "$argon2id$v=19$m=65536,t=3,p=4$bench$notarealhash",
                i == 1,
                i == 2,
                deleted,
                created,
                created,
            )
        )
    with psycopg.connect(dsn) as connection, connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO user_account (email, display_name, password_hash, is_admin,"
            " is_disabled, deleted_at, created_at, updated_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            rows,
        )
        ids = [row[0] for row in connection.execute("SELECT id FROM user_account ORDER BY id")]
    # A few prolific authors, a long tail (Zipf-like).
    weights = [1 / (rank**0.8) for rank in range(1, len(ids) + 1)]
    rng.shuffle(weights)
    bodies = [markdown_body(rng) for _ in range(400)]
    return Data(author_ids=ids, author_weights=weights, bodies=bodies)


def story_rows(
    rng: random.Random, data: Data, count: int, start: datetime, end: datetime, *, fixed_mix: bool
) -> Iterator[tuple[Any, ...]]:
    """``count`` stories with ``created_at`` spread over [start, end), in time order.

    ``fixed_mix``: exactly 5% deleted and 10% drafts (small set); else the same odds at random.
    """
    span = (end - start).total_seconds()
    offsets = sorted(rng.random() * span for _ in range(count))
    authors = rng.choices(data.author_ids, weights=data.author_weights, k=count)
    for i, offset in enumerate(offsets):
        created = start + timedelta(seconds=offset)
        if fixed_mix:
            deleted, draft = i % 20 == 7, i % 10 == 3
        else:
            roll = rng.random()
            deleted, draft = roll < 0.05, 0.05 <= roll < 0.15
        deleted_at = created + timedelta(days=rng.randint(0, 20)) if deleted else None
        if deleted_at is not None and deleted_at > NOW:
            deleted_at = NOW
        yield (
            title(rng),
            rng.choice(data.bodies),
            not draft,
            authors[i],
            deleted_at,
            created,
            created,
        )


COPY_STORY = (
    "COPY story (title, body, published, author_id, deleted_at, created_at, updated_at) FROM STDIN"
)


def copy_stories(dsn: str, rows: Iterator[tuple[Any, ...]]) -> int:
    """COPY ``rows`` into ``story``, then ANALYZE; return how many were written."""
    written = 0
    with psycopg.connect(dsn) as connection:
        with connection.cursor() as cursor, cursor.copy(COPY_STORY) as copy:
            for row in rows:
                copy.write_row(row)
                written += 1
        connection.commit()
        connection.autocommit = True
        connection.execute("ANALYZE user_account")
        connection.execute("ANALYZE story")
    return written


def pick_detail_story(dsn: str) -> int:
    """The newest published, live story of a live author (shown on page 1 at both sizes)."""
    with psycopg.connect(dsn) as connection:
        row = connection.execute(
            "SELECT s.id FROM story s JOIN user_account u ON u.id = s.author_id"
            " WHERE s.published AND s.deleted_at IS NULL AND u.deleted_at IS NULL"
            " ORDER BY s.created_at DESC, s.id DESC LIMIT 1"
        ).fetchone()
    if row is None:
        raise BenchError("no published story to show")
    return int(row[0])


# --- the app and its SQL -----------------------------------------------------------
class StatementLog:
    """Counts (and optionally keeps) the SQL the engine sends to the driver, and times it.

    ``seconds`` is the time from ``before_`` to ``after_cursor_execute``:
    the round trip of ``cursor.execute`` (rows are fetched later, by the ORM).
    """

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0
        self.keep = False
        self.kept: list[tuple[str, Any]] = []
        self._started = 0.0

    def before(self, _conn, _cursor, statement, parameters, _context, executemany) -> None:
        self.count += 1
        if self.keep and not executemany:
            self.kept.append((statement, parameters))
        self._started = time.perf_counter()

    def after(self, *_args: Any) -> None:
        self.seconds += time.perf_counter() - self._started

    def listen(self, engine) -> None:
        event.listen(engine, "before_cursor_execute", self.before)
        event.listen(engine, "after_cursor_execute", self.after)

    def remove(self, engine) -> None:
        event.remove(engine, "before_cursor_execute", self.before)
        event.remove(engine, "after_cursor_execute", self.after)


def make_app(url: str):
    from app import create_app
    from app.config import ProductionConfig

    return create_app(
        {
            "BASTION_CONFIG": "production",
            "SECRET_KEY": secrets.token_hex(32),
            "TRUSTED_HOSTS": ["localhost"],
            "SQLALCHEMY_DATABASE_URI": url,
            "SQLALCHEMY_ENGINE_OPTIONS": ProductionConfig.SQLALCHEMY_ENGINE_OPTIONS,
            "RATELIMIT_ENABLED": False,
            "FORCE_HTTPS": False,
            "LOG_LEVEL": "WARNING",
        }
    )


def ensure_assets() -> None:
    """Production refuses to render without built bundles: build them once if missing."""
    if MANIFEST.exists():
        return
    print("building assets (flask assets build)...", file=sys.stderr)
    env = {**os.environ, "BASTION_CONFIG": "development", "FLASK_APP": "app"}
    subprocess.run(
        [str(Path(sys.executable).parent / "flask"), "assets", "build"],
        cwd=ROOT, env=env, check=True, timeout=120,
    )  # fmt: skip


@dataclass
class Result:
    mean_ms: float
    p95_ms: float
    statements: float
    sql_ms: float


def measure(client, log: StatementLog, path: str, requests: int) -> Result:
    """Warm up, then time ``requests`` GETs of ``path``; statements counted per request."""
    for _ in range(WARMUP):
        response = client.get(path)
        if response.status_code != 200:
            raise BenchError(f"GET {path} answered {response.status_code}")
    timings = []
    before, before_seconds = log.count, log.seconds
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path)
        timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise BenchError(f"GET {path} answered {response.status_code}")
    timings.sort()
    p95 = timings[min(len(timings) - 1, round(0.95 * len(timings)) - 1)]
    return Result(
        statistics.fmean(timings),
        p95,
        (log.count - before) / requests,
        (log.seconds - before_seconds) * 1000 / requests,
    )


def measure_pages(
    client, log: StatementLog, pages: dict[str, str], requests: int
) -> dict[str, Result]:
    results = {}
    for label, path in pages.items():
        results[label] = measure(client, log, path, requests)
        r = results[label]
        print(
            f"  {label:<22} mean {r.mean_ms:7.2f} ms  p95 {r.p95_ms:7.2f} ms"
            f"  {r.statements:g} SQL/request ({r.sql_ms:.2f} ms in execute)",
            file=sys.stderr,
        )
    return results


def capture(client, log: StatementLog, path: str) -> list[tuple[str, Any]]:
    """The statements one GET of ``path`` sends."""
    log.keep, log.kept = True, []
    try:
        if client.get(path).status_code != 200:
            raise BenchError(f"GET {path} failed while capturing its SQL")
        return list(log.kept)
    finally:
        log.keep = False


# --- EXPLAIN -------------------------------------------------------------------------
NODE_RE = re.compile(r"^(\s*)(?:->\s*)?(.*?)\s*\(cost=[^)]*\)\s*(\(actual[^)]*\))?")
KEY_DETAIL_RE = re.compile(
    r"^\s*(Index Cond|Filter|Rows Removed by Filter|Sort Method|Join Filter|Hash Cond|Heap Fetches)"
)


def key_plan_lines(plan: list[str]) -> list[str]:
    """Node lines (no cost estimates), index/filter details, top node's buffers, times."""
    out: list[str] = []
    top_buffers_done = False
    for line in plan:
        node = NODE_RE.match(line)
        if node:
            indent, what, actual = node.groups()
            actual = re.sub(r"actual time=[\d.]+\.\.([\d.]+)", r"\1 ms", actual or "")
            out.append(f"{indent}{'-> ' if '->' in line else ''}{what} {actual}".rstrip())
        elif KEY_DETAIL_RE.match(line):
            out.append(line.rstrip())
        elif line.strip().startswith("Buffers:") and not top_buffers_done:
            out.append(line.rstrip())
            top_buffers_done = True
        elif line.startswith(("Planning Time", "Execution Time")):
            out.append(line.strip())
    return out


def explain(app, statement: str, parameters: Any) -> list[str]:
    from app.extensions import db

    with db.engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters
        ).all()
        connection.rollback()
    return [row[0] for row in rows]


def prepared_plans(app) -> list[tuple[str, int, int]]:
    """Server-side prepared statements (psycopg prepares after 5 uses) and their plan counts.

    ``pg_prepared_statements`` is per connection: read it on every pooled
    connection the benchmark used (the pool has one when requests are serial).
    """
    from app.extensions import db

    with db.engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements"
        ).all()
        connection.rollback()
    return [(str(s), int(g), int(c)) for s, g, c in rows]


# --- the run ------------------------------------------------------------------------
def run(args: argparse.Namespace) -> int:
    ensure_assets()
    rng = random.Random(args.seed)
    started = time.perf_counter()
    with throwaway_database() as (url, dsn):
        app = make_app(url)
        from flask_migrate import upgrade

        from app.extensions import db

        with app.app_context():
            upgrade()
            log = StatementLog()
            log.listen(db.engine)
            try:
                data = insert_users(dsn, rng)
                recent = story_rows(rng, data, SMALL, NOW - RECENT_SPAN, NOW, fixed_mix=True)
                data.stories = copy_stories(dsn, recent)
                data.detail_id = pick_detail_story(dsn)
                pages = {
                    "/stories/": "/stories/",
                    "/stories/?page=3": "/stories/?page=3",
                    "/stories/<id>": f"/stories/{data.detail_id}",
                }
                client = app.test_client()
                print(f"{data.stories} stories:", file=sys.stderr)
                small = measure_pages(client, log, pages, args.requests)

                t0 = time.perf_counter()
                history = story_rows(
                    rng, data, max(0, args.stories - SMALL),
                    NOW - RECENT_SPAN - HISTORY_SPAN, NOW - RECENT_SPAN, fixed_mix=False,
                )  # fmt: skip
                data.stories += copy_stories(dsn, history)
                db.engine.dispose()  # fresh connections: no plan cached at the small size
                print(
                    f"{data.stories} stories (COPY + ANALYZE {time.perf_counter() - t0:.1f} s):",
                    file=sys.stderr,
                )
                if pick_detail_story(dsn) != data.detail_id:
                    raise BenchError("the newest story changed: the sizes would not compare")
                large = measure_pages(client, log, pages, args.requests)
                plans_cached = prepared_plans(app)

                statements = capture(client, log, "/stories/?page=3")
                statements_p1 = capture(client, log, "/stories/")
                list_sql = [s for s in statements_p1 if "ORDER BY" in s[0] and "LIMIT" in s[0]]
                list_sql_p3 = [s for s in statements if "ORDER BY" in s[0] and "LIMIT" in s[0]]
                count_sql = [s for s in statements if "count(*)" in s[0].lower()]
                if not list_sql or not count_sql:
                    raise BenchError(f"list/count statements not found in {statements!r}")
                explained = {
                    "list query, page 1": explain(app, *list_sql[0]),
                    "list query, page 3": explain(app, *list_sql_p3[0]),
                    "count query (capped)": explain(app, *count_sql[0]),
                }
            finally:
                log.remove(db.engine)
                db.session.remove()
                db.engine.dispose()

    report(args, data, small, large, explained, list_sql[0][0], count_sql[0][0], plans_cached)
    print(f"\ntotal run time {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return 0


def report(args, data, small, large, explained, list_sql, count_sql, plans_cached) -> None:
    big = f"ms at {data.stories:,}"
    print()
    print(f"Public story pages, {args.requests} requests each after {WARMUP} warm-up "
          f"(Flask test client, production config, PostgreSQL)")  # fmt: skip
    header = (
        f"{'page':<18} {'ms at 100 (mean/p95)':>21} {big + ' (mean/p95)':>25}"
        f" {'ratio':>6} {'SQL/req 100':>12} {'SQL/req ' + format(data.stories, ','):>14}"
    )
    print(header)
    print("-" * len(header))
    for label in small:
        s, b = small[label], large[label]
        print(
            f"{label:<18} {s.mean_ms:>11.2f} / {s.p95_ms:>7.2f}"
            f" {b.mean_ms:>15.2f} / {b.p95_ms:>7.2f}"
            f" {b.mean_ms / s.mean_ms:>6.2f} {s.statements:>12g} {b.statements:>14g}"
        )
    print("\nof which in cursor.execute (SQL round trips), mean ms per request:")
    for label in small:
        print(f"  {label:<18} {small[label].sql_ms:6.2f} at 100, "
              f"{large[label].sql_ms:6.2f} at {data.stories:,}")  # fmt: skip
    print()
    for label in small:
        ratio = large[label].mean_ms / small[label].mean_ms
        verdict = "about as fast" if ratio <= AIM else f"SLOWER than {AIM}x"
        print(f"{label:<18} {verdict} at {data.stories:,} ({ratio:.2f}x)")

    print(f"\nEXPLAIN (ANALYZE, BUFFERS) at {data.stories:,} stories, key lines:")
    for name, plan in explained.items():
        print(f"\n[{name}]")
        for line in key_plan_lines(plan):
            print(f"  {line}")
        text = "\n".join(plan)
        flags = []
        if "Seq Scan on story" in text:
            flags.append("sequential scan of story")
        if re.search(r"^\s*(->\s*)?Sort\b", text, re.M):
            flags.append("explicit sort")
        if "ix_story_public_list" not in text:
            flags.append("ix_story_public_list not used")
        good = "uses ix_story_public_list, no sort, no seq scan"
        print(f"  => {'; '.join(flags) if flags else good}")

    if args.show_sql:
        print("\nlist SQL:\n" + list_sql + "\n\ncount SQL:\n" + count_sql)

    relevant = [p for p in plans_cached if "FROM story" in p[0]]
    if relevant:
        print("\nserver-side prepared story statements (after the large run):")
        for statement, generic, custom in relevant:
            kind = (
                "count"
                if "count(*)" in statement.lower()
                else ("list" if "LIMIT" in statement else "detail")
            )
            print(f"  {kind:<6} generic_plans={generic} custom_plans={custom}")
    else:
        print(
            "\nno server-side prepared statement outlives a request (psycopg deallocates them"
            " on the pool's reset ROLLBACK): every request gets a custom plan, as EXPLAINed."
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stories", type=int, default=100_000, help="stories at the large size")
    parser.add_argument("--requests", type=int, default=300, help="timed requests per page")
    parser.add_argument("--seed", type=int, default=20261122, help="random seed for the data")
    parser.add_argument("--show-sql", action="store_true", help="print the captured SQL too")
    args = parser.parse_args(argv)
    if args.stories < SMALL or args.requests < 1:
        parser.error(f"--stories must be >= {SMALL} and --requests >= 1")
    try:
        return run(args)
    except (BenchError, subprocess.SubprocessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
