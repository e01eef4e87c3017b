"""Where one Bastion request spends its time, in production config.

Run it with ``.venv/bin/python bench/profile_request.py [--path /stories/]``.
It prepares the same production setup as ``bench/home_vs_bare.py``
(``bench/production.py``: PostgreSQL, rate limits in Redis, proxy headers,
``Accept-Encoding: br, gzip``), creates the app in this process and sends
``--requests`` requests to ``--path`` through ``app.test_client()``, after a
warm-up.  It prints:

* the mean time per request, Bastion's and the bare app's (same client);
* Redis round trips (``send_packed_command`` calls of redis-py: a pipeline
  is one) and SQL statements per request;
* two samplings of the same requests, one on the wall clock (``ITIMER_REAL``:
  waiting for Redis and PostgreSQL counts) and one on CPU time
  (``ITIMER_PROF``), each sample put in the category of the innermost frame
  that belongs to a known component (rate limiting, Jinja, compression,
  security headers, request log, SQL, ...), with the share of each category and the
  functions with the most samples of their own.

The request log lines go to a temporary file, as they go to gunicorn's
stderr in production.  The test client is not gunicorn: its share (and the
sampler's own) is shown as "harness" and is not part of a served request.
Only loopback services are used; the database is dropped and the Redis keys
deleted at the end.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.production import (  # noqa: E402 - after the path is set
    ACCEPT_ENCODING,
    PROXY_HEADERS,
    BenchError,
    production_setup,
)

HEADERS = {**PROXY_HEADERS, "Accept-Encoding": ACCEPT_ENCODING}
STDLIB = os.path.dirname(os.__file__) + "/"
STDLIB_KEPT = ("/logging/", "/gzip.py")  # standard library modules with a category
#: (category, path fragments of the frames' files), the first match wins for a frame.
CATEGORIES: list[tuple[str, tuple[str, ...]]] = [
    ("rate limiting: Redis client I/O", ("/redis/",)),
    (
        "rate limiting: flask_bastion.ratelimit, limits",
        (
            "/limits/",
            "/flask_bastion/ratelimit.py",
            "/flask_bastion/limit_rules.py",
            "/flask_bastion/counters.py",
        ),
    ),
    ("compression (Flask-Compress, brotli)", ("/flask_compress/", "/brotli", "/gzip.py", "zstd")),
    ("templates (Jinja2, MarkupSafe)", ("/jinja2/", "/markupsafe/", "/app/templates/", ".html")),
    ("headers (flask_bastion.headers)", ("/flask_bastion/headers",)),
    ("request log (flask_bastion.request_log, logging)", ("/request_log.py", "/logging/")),
    ("SQL (SQLAlchemy, psycopg)", ("/sqlalchemy/", "/flask_sqlalchemy/", "/psycopg")),
    (
        "session, login, CSRF (Flask-Login, Flask-WTF, itsdangerous)",
        ("/flask_login/", "/flask_wtf/", "/wtforms/", "/itsdangerous/", "/sessions.py"),
    ),
    ("Markdown (markdown-it, nh3)", ("/markdown_it/", "/nh3", "/app/stories/markdown")),
    ("URL building, routing (werkzeug.routing, app.urls)", ("/werkzeug/routing/", "/app/urls.py")),
    ("proxy fix", ("/proxy_fix.py", "/flask_bastion/proxy.py")),
    ("security layer, other (hosts, user agents, errors)", ("/flask_bastion/",)),
    ("app code (views, assets, forms)", ("/app/",)),
    ("Flask, Werkzeug (request, response, dispatch)", ("/flask/", "/werkzeug/")),
]
#: Frames at or above these are not part of a served request.
HARNESS = ("/werkzeug/test.py", __file__)
#: Helpers every component calls (context locals, header maps, the standard
#: library): a sample in one of them belongs to its caller's category.
SHARED = (
    "/werkzeug/local.py",
    "/werkzeug/datastructures/",
    "/werkzeug/http.py",
    "/werkzeug/sansio/",
    "/werkzeug/wrappers/",
    "/werkzeug/utils.py",
    "/flask/globals.py",
    "/flask/wrappers.py",
    "/flask/helpers.py",
)


HARNESS_CATEGORY = "harness: test client, this sampler (not part of a served request)"
_CODE_CATEGORY: dict[CodeType, str] = {}


def code_category(code: CodeType) -> str:
    """The category of frames running ``code``; '' for :data:`SHARED` and unknown code."""
    found = _CODE_CATEGORY.get(code)
    if found is None:
        filename = code.co_filename
        found = ""
        if any(part in filename for part in HARNESS):
            found = HARNESS_CATEGORY
        elif not any(part in filename for part in SHARED) and (
            not filename.startswith(STDLIB) or any(part in filename for part in STDLIB_KEPT)
        ):
            found = next(
                (name for name, parts in CATEGORIES if any(part in filename for part in parts)), ""
            )
        _CODE_CATEGORY[code] = found
    return found


def category(frame: FrameType | None) -> str:
    """The category of the innermost frame of ``frame``'s stack that has one.

    Frames of :data:`SHARED` helpers and of the standard library (but
    :data:`STDLIB_KEPT`) pass the sample on to their caller.
    """
    while frame is not None:
        found = code_category(frame.f_code)
        if found:
            return found
        frame = frame.f_back
    return "other"


def where(frame: FrameType) -> str:
    """``module-ish path:function`` of a frame, shortened."""
    filename = frame.f_code.co_filename
    for marker in ("site-packages/", str(ROOT) + "/", STDLIB):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
            break
    return f"{filename}:{frame.f_code.co_name}"


class Sampler:
    """Samples the stack on a timer (``ITIMER_REAL`` or ``ITIMER_PROF``) every ``interval`` s."""

    def __init__(self, timer: int, interval: float = 0.001) -> None:
        self.timer = timer
        self.signum = signal.SIGALRM if timer == signal.ITIMER_REAL else signal.SIGPROF
        self.interval = interval
        self.categories: Counter[str] = Counter()
        self.functions: Counter[str] = Counter()

    def _sample(self, signum: int, frame: FrameType | None) -> None:
        if frame is None:
            return
        name = category(frame)
        self.categories[name] += 1
        self.functions[f"{where(frame)}  [{name.split(' (')[0]}]"] += 1

    def run(self, work: Callable[[], None]) -> None:
        previous = signal.signal(self.signum, self._sample)
        signal.setitimer(self.timer, self.interval, self.interval)
        try:
            work()
        finally:
            signal.setitimer(self.timer, 0, 0)
            signal.signal(self.signum, previous)

    def report(self, title: str, top: int) -> None:
        total = sum(self.categories.values())
        print(f"\n{title}: {total} samples")
        for name, count in self.categories.most_common():
            print(f"  {100 * count / total:5.1f}%  {name}")
        print(f"  functions with the most samples of their own (top {top}):")
        for name, count in self.functions.most_common(top):
            print(f"  {100 * count / total:5.1f}%  {name}")


def count_calls(owner: Any, name: str, counter: Counter[str], key: str) -> Callable[[], None]:
    """Count calls of ``owner.name`` in ``counter[key]``; returns the undo."""
    original = getattr(owner, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        counter[key] += 1
        return original(*args, **kwargs)

    setattr(owner, name, counted)
    return lambda: setattr(owner, name, original)


def mean_ms(client: Any, path: str, requests: int) -> float:
    """Mean milliseconds per ``GET path``, all answers checked to be 200."""
    started = time.perf_counter()
    for _ in range(requests):
        response = client.get(path, headers=HEADERS)
        if response.status_code != 200:
            raise BenchError(f"{path} answered {response.status_code}")
    return 1000 * (time.perf_counter() - started) / requests


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see ``--help``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--path", default="/", help="the page to request (/)")
    parser.add_argument("--requests", type=int, default=1000, help="requests per pass (1000)")
    parser.add_argument("--warmup", type=int, default=100, help="unmeasured requests first (100)")
    parser.add_argument("--stories", type=int, default=20, help="published stories (20)")
    parser.add_argument("--redis-db", type=int, default=13, help="Redis database number (13)")
    parser.add_argument("--top", type=int, default=15, help="functions to list (15)")
    return parser.parse_args(argv)


def profile(args: argparse.Namespace, log_file: Path) -> None:
    """Create the app from the production environment and profile ``args.path``."""
    import redis.connection
    from sqlalchemy import event

    from app import create_app
    from app.extensions import db

    # The app's stderr logging (request log) goes to a file, as under gunicorn.
    saved_stderr = os.dup(2)
    with log_file.open("ab") as log:
        os.dup2(log.fileno(), 2)
    try:
        app = create_app()
        client = app.test_client()
        mean_ms(client, args.path, args.warmup)
        bastion_ms = mean_ms(client, args.path, args.requests)

        counts: Counter[str] = Counter()
        undo = count_calls(
            redis.connection.AbstractConnection, "send_packed_command", counts, "redis"
        )
        with app.app_context():
            engine = db.engine

        def on_execute(*_: Any) -> None:
            counts["sql"] += 1

        event.listen(engine, "before_cursor_execute", on_execute)
        try:
            mean_ms(client, args.path, args.requests)
        finally:
            undo()
            event.remove(engine, "before_cursor_execute", on_execute)

        samplers = {
            "wall clock (ITIMER_REAL)": Sampler(signal.ITIMER_REAL),
            "CPU time (ITIMER_PROF)": Sampler(signal.ITIMER_PROF),
        }
        for title, sampler in samplers.items():
            # CPU timers tick with the kernel's clock (4 ms at HZ=250): more requests.
            repeat = 1 if title.startswith("wall") else 8
            sampler.run(lambda repeat=repeat: mean_ms(client, args.path, repeat * args.requests))

        sys.path.insert(0, str(ROOT / "bench"))
        from bare_app import app as bare_app

        bare = bare_app.test_client()
        mean_ms(bare, args.path, args.warmup)
        bare_ms = mean_ms(bare, args.path, args.requests)
    finally:
        sys.stderr.flush()
        os.dup2(saved_stderr, 2)
        os.close(saved_stderr)

    print(
        f"\nGET {args.path} x {args.requests} through app.test_client(), headers: "
        + ", ".join(f"{k}: {v}" for k, v in HEADERS.items())
    )
    print(
        f"mean per request: Bastion {bastion_ms:.3f} ms, bare Flask {bare_ms:.3f} ms "
        f"(ratio {bare_ms / bastion_ms:.2f}x, test client included in both)"
    )
    print(
        f"per request: {counts['redis'] / args.requests:.2f} Redis round trips, "
        f"{counts['sql'] / args.requests:.2f} SQL statements"
    )
    for title, sampler in samplers.items():
        sampler.report(title, args.top)


def main(argv: list[str] | None = None) -> int:
    """Profile; 0 when it ran, 1 when something failed."""
    args = parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bastion-profile-"))
    try:
        with production_setup(redis_db=args.redis_db, stories=args.stories) as setup:
            for line in setup.describe():
                print(f"  {line}")
            os.environ.clear()
            os.environ.update(setup.env)
            profile(args, tmp / "app.log")
    except BenchError as error:
        print(f"profile error: {error}", file=sys.stderr)
        return 1
    finally:
        for path in tmp.iterdir():
            path.unlink()
        tmp.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
