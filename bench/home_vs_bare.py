"""Requests per second of Bastion in production config against a bare Flask app.

Run it with ``make bench`` or ``.venv/bin/python bench/home_vs_bare.py``
(``--rounds 2 --duration 3`` for a quick look).  It is a benchmark, not a
test: it prints tables and exits 0 whatever the ratios; it exits 1 only when
something went wrong (a server did not start, an answer was not 2xx, wrk
failed or counted socket errors).

What it measures is what users deploy (``bench/production.py``):
``BASTION_CONFIG=production`` on a throw-away PostgreSQL database (one
account, 20 published stories), rate limits counted in Redis (the two
default limits, raised so that they never trip), HTTPS forwarded by the
proxy (``PROXY_FIX_X_PROTO=1`` and ``X-Forwarded-Proto: https``, as nginx
sends), assets built, and every request asking for ``Accept-Encoding: br,
gzip``.  Bastion (``wsgi:app``) and ``bench/bare_app.py`` run under gunicorn
with ``deploy/gunicorn.conf.py`` and the same ``--workers``, each on a free
port of 127.0.0.1.

For each page (``/``, ``/stories/``, ``/healthz``) it then:

1. warms both apps up with ``--warmup`` seconds of wrk per target;
2. counts the Redis commands per request: ``MONITOR`` while one client sends
   ``--redis-requests`` requests in a row, counting the commands of the
   connections that touch this run's key prefix;
3. runs ``wrk`` ``--duration`` seconds at a time in ``--rounds`` interleaved
   rounds (each round: every page, bare then Bastion), with a Lua script
   that counts the answers by status;
4. reports the median requests/s of each, the median of the rounds' ratios
   Bastion / bare, and the target of issue 8 next to it (information only).

The load average is printed before and after; every process is stopped by
its PID, the database dropped and the Redis keys deleted, also on failure.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.production import (  # noqa: E402
    ACCEPT_ENCODING,
    PROXY_HEADERS,
    BenchError,
    Setup,
    production_setup,
)
from bench.wrk import Run, parse_output, script  # noqa: E402 - after the path is set
from tests.deployment.processes import (  # noqa: E402
    HOST,
    VENV_BIN,
    Process,
    StackError,
    free_port,
    tail,
    wait_for,
)

GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"
HEADERS = {**PROXY_HEADERS, "Accept-Encoding": ACCEPT_ENCODING}
#: Issue 8's targets, Bastion / bare (printed as information, never a verdict).
TARGETS = {"/": 0.30, "/stories/": 0.15, "/healthz": 0.6}
PAGES = tuple(TARGETS)

LUA = script()


@dataclass
class Server:
    """One gunicorn master (and its workers) started by this script."""

    name: str
    port: int
    process: Process


# --- servers ---------------------------------------------------------------------
def start_gunicorn(
    name: str, target: str, chdir: Path, args: argparse.Namespace, env: dict[str, str], tmp: Path
) -> Server:
    """Start ``gunicorn -c deploy/gunicorn.conf.py target`` on a free port."""
    port = free_port()
    command = [
        str(VENV_BIN / "gunicorn"),
        "--config",
        str(GUNICORN_CONF),
        "--workers",
        str(args.workers),
        "--bind",
        f"{HOST}:{port}",
        *(["--max-requests", str(args.max_requests)] if args.max_requests is not None else []),
        "--chdir",
        str(chdir),
        target,
    ]
    process = Process(name, command, tmp / f"{name}.log", env=env)
    process.start()
    return Server(name, port, process)


def get(port: int, path: str, timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    """``GET path`` with the benchmark's headers: status, headers (lower-case names), body."""
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request("GET", path, headers=HEADERS)
        response = connection.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        connection.close()


def wait_ready(server: Server) -> None:
    """Wait until ``/healthz`` answers 200; :raises BenchError: naming the log's tail."""

    def ready() -> bool:
        if not server.process.running:
            raise BenchError(f"{server.name} exited:\n{tail(server.process.log_path)}")
        return get(server.port, "/healthz", timeout=1)[0] == 200

    try:
        wait_for(ready, 30, f"{server.name} on port {server.port}", interval=0.2)
    except StackError as error:
        raise BenchError(f"{error}\n{tail(server.process.log_path)}") from None


def check_pages(bare: Server, ours: Server) -> dict[str, str]:
    """Each page answers what we mean to measure; return Bastion's answer sizes by page."""
    sizes = {}
    for path in PAGES:
        status, headers, body = get(bare.port, path)
        if status != 200:
            raise BenchError(f"bare app: {path} answered {status} {body[:80]!r}")
        status, headers, body = get(ours.port, path)
        if status != 200:
            location = headers.get("location", "")
            raise BenchError(f"Bastion: {path} answered {status} {location} {body[:120]!r}")
        if path != "/healthz" and "content-security-policy" not in headers:
            raise BenchError(f"Bastion: {path} came without its security headers")
        encoding = headers.get("content-encoding", "identity")
        if path != "/healthz" and encoding != "br":
            raise BenchError(f"Bastion: {path} answered with Content-Encoding {encoding}")
        sizes[path] = f"{len(body)} B {encoding}"
    return sizes


# --- Redis commands per request -----------------------------------------------------
MONITOR_RE = re.compile(r'^\d+\.\d+ \[(\d+) ([^\]]+)\] "([^"]+)"(.*)$')


@dataclass
class RedisCount:
    """Redis commands seen during ``requests`` requests of one page."""

    requests: int
    commands: Counter[str]  # sent by the app's connections, by command name
    in_scripts: int  # run inside Lua scripts those commands started
    whole_db: int  # sent by any client to the rate-limit database (a cross-check)

    def per_request(self) -> float:
        return sum(self.commands.values()) / self.requests

    def describe(self) -> str:
        names = ", ".join(
            f"{name} {n / self.requests:.2f}" for name, n in self.commands.most_common()
        )
        text = f"{self.per_request():.2f}" + (f" ({names})" if names else "")
        if self.in_scripts:
            text += f"; {self.in_scripts / self.requests:.2f} more run inside scripts"
        if self.whole_db != sum(self.commands.values()):
            text += f"; all clients of the database: {self.whole_db / self.requests:.2f}"
        return text


def parse_monitor(text: str, db: int, prefix: str, requests: int) -> RedisCount:
    """Count the commands of the connections that touched ``prefix`` in ``db``."""
    lines = []
    for line in text.splitlines():
        match = MONITOR_RE.match(line)
        if match and int(match.group(1)) == db:
            lines.append((match.group(2), match.group(3).upper(), match.group(4)))
    ours = {source for source, _, rest in lines if source != "lua" and prefix in rest}
    commands: Counter[str] = Counter()
    in_scripts = 0
    last_source = ""
    for source, name, _ in lines:
        if source == "lua":
            in_scripts += last_source in ours
            continue
        last_source = source
        if source in ours:
            commands[name] += 1
    whole_db = sum(1 for source, _, _ in lines if source != "lua")
    return RedisCount(requests, commands, in_scripts, whole_db)


def count_redis_commands(
    server: Server, setup: Setup, requests: int, tmp: Path
) -> dict[str, RedisCount]:
    """For each page: ``MONITOR`` while one client sends ``requests`` requests in a row."""
    url = urlsplit(setup.redis_url)
    db = int(url.path.strip("/") or 0)
    counts = {}
    for path in PAGES:
        log = tmp / f"monitor{len(counts)}.log"
        monitor = Process(
            "redis-monitor",
            [shutil.which("redis-cli") or "redis-cli", "-h", url.hostname or HOST,
             "-p", str(url.port or 6379), "monitor"],
            log,
        )  # fmt: skip
        monitor.start()
        try:
            wait_for(lambda log=log: log.read_text().startswith("OK"), 10, "redis-cli monitor")
            for _ in range(requests):
                status = get(server.port, path)[0]
                if status != 200:
                    raise BenchError(f"Bastion: {path} answered {status} while counting")
            time.sleep(0.3)  # let the last lines arrive
        except StackError as error:
            raise BenchError(str(error)) from None
        finally:
            monitor.stop(timeout=5)
        counts[path] = parse_monitor(log.read_text(errors="replace"), db, setup.key_prefix,
                                     requests)  # fmt: skip
    return counts


# --- load ------------------------------------------------------------------------------
def run_wrk(port: int, path: str, seconds: float, args: argparse.Namespace, script: Path) -> Run:
    """One wrk run against ``path``; :raises BenchError: when wrk fails."""
    command = [
        shutil.which("wrk") or "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{seconds:g}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
    ]
    for name, value in HEADERS.items():
        command += ["-H", f"{name}: {value}"]
    command.append(f"http://{HOST}:{port}{path}")
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=seconds + 60, check=False
        )
    except subprocess.TimeoutExpired:
        raise BenchError(f"wrk did not finish within {seconds + 60:g} s") from None
    run = parse_output(done.stdout)
    if done.returncode != 0 or run is None:
        raise BenchError(f"wrk failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return run


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1, 5, 15 min; {os.cpu_count()} cores)"


def print_results(
    results: dict[str, dict[str, list[Run]]], sizes: dict[str, str], redis: dict[str, RedisCount]
) -> None:
    """The table: per page, medians of each target, median ratio, the target."""
    print()
    header = (
        f"{'page':<10} {'bare req/s':>10} {'Bastion req/s':>13} {'ratio':>6} {'target':>7}  "
        f"{'Bastion p50/p99 ms':>18}  {'Bastion answer':<14}  rounds' ratios"
    )
    print(header)
    print("-" * len(header))
    for path in PAGES:
        bare, ours = results[path]["bare"], results[path]["bastion"]
        ratios = [o.rps / b.rps for b, o in zip(bare, ours, strict=True) if b.rps]
        p50 = statistics.median(run.p50_ms for run in ours)
        p99 = statistics.median(run.p99_ms for run in ours)
        print(
            f"{path:<10} {statistics.median(r.rps for r in bare):>10.0f} "
            f"{statistics.median(r.rps for r in ours):>13.0f} "
            f"{statistics.median(ratios):>5.2f}x {'>= ' + f'{TARGETS[path]:.2f}x':>7}  "
            f"{f'{p50:.1f} / {p99:.1f}':>18}  {sizes[path]:<14}  "
            + " ".join(f"{ratio:.2f}" for ratio in ratios)
        )
    print("(ratio: median over the rounds of Bastion / bare, each round's pair run back to back;")
    print(" targets from issue 8, shown for information)")
    print()
    print("Redis commands per request (MONITOR, one client, requests in a row; target: at most")
    print("one round trip per request for rate limiting):")
    for path in PAGES:
        print(f"  {path:<10} {redis[path].describe()}")
    if not redis["/"].commands:
        print("  note: no Redis command for / at all: were the limits counted in Redis?")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see ``--help``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds per page (5)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (10)")
    parser.add_argument(
        "--warmup", type=int, default=3, help="unrecorded seconds per target and page (3, >= 1)"
    )
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (8)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (1)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per app (2)")
    parser.add_argument(
        "--max-requests",
        type=int,
        default=None,
        help="gunicorn --max-requests (default: deploy/gunicorn.conf.py's 10000 + jitter)",
    )
    parser.add_argument("--stories", type=int, default=20, help="published stories (20)")
    parser.add_argument(
        "--redis-db", type=int, default=13, help="Redis database number for the counters (13)"
    )
    parser.add_argument(
        "--redis-requests", type=int, default=20, help="requests per page under MONITOR (20)"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.rounds <= 50:
        parser.error("--rounds must be between 1 and 50")
    if not 1 <= args.duration <= 600:
        parser.error("--duration must be between 1 and 600 seconds")
    if not 1 <= args.warmup <= 60:
        parser.error("--warmup must be between 1 and 60 seconds")
    if not 1 <= args.connections <= 256:
        parser.error("--connections must be between 1 and 256")
    if not 1 <= args.threads <= args.connections:
        parser.error("--threads must be between 1 and --connections")
    if not 1 <= args.workers <= 64:
        parser.error("--workers must be between 1 and 64")
    if not 1 <= args.redis_requests <= 1000:
        parser.error("--redis-requests must be between 1 and 1000")
    return args


def bench(args: argparse.Namespace, tmp: Path, servers: list[Server]) -> list[str]:
    """The whole run; returns the failures (empty when every answer was 2xx)."""
    script = tmp / "count.lua"
    script.write_text(LUA)
    with production_setup(redis_db=args.redis_db, stories=args.stories) as setup:
        env = {**setup.env, "PYTHONDONTWRITEBYTECODE": "1"}
        servers.append(start_gunicorn("bare", "bare_app:app", ROOT / "bench", args, env, tmp))
        servers.append(start_gunicorn("bastion", "wsgi:app", ROOT, args, env, tmp))
        bare, ours = servers
        for server in servers:
            wait_ready(server)
        sizes = check_pages(bare, ours)

        max_requests = args.max_requests if args.max_requests is not None else "10000 (+ jitter)"
        print("settings:")
        for line in setup.describe():
            print(f"  {line}")
        print(
            f"  gunicorn -c deploy/gunicorn.conf.py --workers {args.workers} (sync), "
            f"max_requests {max_requests}, both apps\n"
            f"  wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s, "
            f"{args.rounds} rounds per page (bare, Bastion, bare, ...), {args.warmup:g} s "
            f"warm-up per target and page\n"
            "  request headers: " + ", ".join(f"{name}: {value}" for name, value in HEADERS.items())
        )

        targets = {"bare": bare, "bastion": ours}
        # Warm-up under load first: every worker has its connections when Redis is watched.
        for path in PAGES:
            for server in targets.values():
                run_wrk(server.port, path, args.warmup, args, script)
        print(f"counting Redis commands ({args.redis_requests} requests per page) ...", flush=True)
        redis = count_redis_commands(ours, setup, args.redis_requests, tmp)
        results: dict[str, dict[str, list[Run]]] = {
            path: {name: [] for name in targets} for path in PAGES
        }
        failures = []
        for number in range(1, args.rounds + 1):
            figures = []
            for path in PAGES:
                for name, server in targets.items():
                    run = run_wrk(server.port, path, args.duration, args, script)
                    results[path][name].append(run)
                    figures.append(f"{path} {name} {run.rps:.0f}")
                    if run.problems():
                        failures.append(f"round {number}, {name} {path}: {run.problems()}")
            print(f"round {number}/{args.rounds}: " + ", ".join(figures), flush=True)
        for server in servers:
            if not server.process.running:
                failures.append(f"{server.name} gunicorn exited during the run")
        print_results(results, sizes, redis)
    return failures


def interrupted(signum: int, frame: object) -> None:
    """SIGTERM handler: stop like Ctrl-C, through every ``finally`` block."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when it ran cleanly, 1 when something failed."""
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("bench error: wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, interrupted)  # clean up on SIGTERM as on Ctrl-C
    print(f"bench/home_vs_bare.py: load average before: {load_average()}", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="bastion-bench-"))
    servers: list[Server] = []
    failures: list[str] = []
    try:
        failures = bench(args, tmp, servers)
    except (BenchError, StackError, OSError, subprocess.SubprocessError) as error:
        failures = [str(error)]
    except KeyboardInterrupt:
        failures = ["interrupted"]
    finally:
        for server in servers:
            server.process.stop(timeout=20)
        print(f"load average after: {load_average()}")
        if failures:
            print(f"logs kept in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    for failure in failures:
        print(f"bench error: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
