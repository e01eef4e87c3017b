"""Load through nginx and TLS on the production stack, and the workers' memory.

Run it with ``.venv/bin/python bench/load.py`` (``--duration 10`` for a quick
look).  It is a benchmark, not a test: it prints a table and exits 0 whatever
the figures; it exits 1 only when something went wrong (the stack did not
start, wrk failed, a request was answered with 5xx or not at all).

What it does:

1. Starts the stack of ``tests/deployment/stack.py``: nginx with the shipped
   ``deploy/nginx/*.conf`` (TLS, HTTP/1.1 keep-alive from wrk), two gunicorn
   instances (``deploy/gunicorn.conf.py``, ``WEB_CONCURRENCY`` workers
   each), their own PostgreSQL and Redis.  The rate limit is raised to
   ``1000000 per second; 60000000 per minute`` so that it never answers
   for the load, but it is still checked and counted in Redis on every
   request, as in production.  Workers are not recycled (``--max-requests
   0``) so that their memory can be followed; pass ``--max-requests 10000``
   for the production setting.
2. Creates an account and ``--stories`` published stories through the web
   form.
3. Runs ``wrk`` ``--runs`` times (default 3 x 60 s, 64 connections) against
   the home page, a story page and the story list in turn, each request with
   ``Accept-Encoding: br, gzip`` as browsers send it.  A small Lua script
   counts the answers by status.
4. Prints, per run, requests per second, p50/p99 latency, non-2xx and 5xx
   answers and socket errors, and the workers' resident memory (VmRSS from
   ``/proc/<pid>/status``) before the first run and after each run, with
   the growth in percent.

Every process is stopped (by PID) at the end, also on failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.wrk import Run, parse_output, script  # noqa: E402 - after the path is set
from tests.deployment.client import SERVER_NAME  # noqa: E402
from tests.deployment.processes import StackError, resident_kib  # noqa: E402
from tests.deployment.stack import PREFIX, Stack, start_stack  # noqa: E402

BENCH_RATE_LIMIT = "1000000 per second; 60000000 per minute"
PASSWORD = "quiet-lantern-harbour-9f3a"  # noqa: S105 - a throw-away account in a throw-away database

LUA = script(
    init=r"""
-- Rotate over the paths given after "--" (the first argument is the Host).
function init(args)
  host = args[1]
  paths = {}
  for i = 2, #args do paths[#paths + 1] = args[i] end
  counts = {}
  sent = 0
end

function request()
  sent = sent + 1
  local path = paths[(sent % #paths) + 1]
  return wrk.format("GET", path, {
    ["Host"] = host,
    ["Accept"] = "text/html",
    ["Accept-Encoding"] = "br, gzip",
  })
end
"""
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see ``--help``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=60, help="seconds per run (60)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (64)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("--runs", type=int, default=3, help="how many runs (3)")
    parser.add_argument("--stories", type=int, default=20, help="stories to create first (20)")
    parser.add_argument("--workers", type=int, default=2, help="WEB_CONCURRENCY per instance (2)")
    parser.add_argument(
        "--max-requests", type=int, default=0, help="gunicorn max_requests (0: never recycle)"
    )
    return parser.parse_args(argv)


def create_stories(stack: Stack, count: int) -> list[str]:
    """Create an account and ``count`` published stories; return the stories' paths."""
    stack.create_user("bench@example.com", "Bench Writer", PASSWORD)
    client = stack.client()
    signed_in = client.post_form(
        f"{PREFIX}/sign-in", {"email": "bench@example.com", "password": PASSWORD}
    )
    if signed_in.status != 302:
        raise StackError(f"sign-in answered {signed_in.status}")
    paths = []
    for number in range(count):
        body = f"Story {number} of the load benchmark.\n\n" + "Some *Markdown* text. " * 40
        response = client.post_form(
            f"{PREFIX}/stories/new",
            {"title": f"Benchmark story {number}", "body": body, "published": "y"},
        )
        location = response.header("Location") or ""
        if response.status != 302 or "/stories/" not in location:
            raise StackError(f"creating a story answered {response.status} {location!r}")
        paths.append(location.split(f"{SERVER_NAME}:{stack.https_port}")[-1])
    return paths


def workers_memory(stack: Stack, key: str = "VmRSS") -> dict[int, int]:
    """``key`` (``VmRSS`` or ``RssAnon``) in KiB of every gunicorn worker, by PID."""
    memory = {}
    for instance in stack.instances:
        for pid in instance.worker_pids():
            rss = resident_kib(pid, key)
            if rss is not None:
                memory[pid] = rss
    return memory


def run_wrk(stack: Stack, args: argparse.Namespace, paths: list[str], script: Path) -> Run:
    """One wrk run through nginx; its figures.

    :raises StackError: when wrk fails or prints no summary.
    """
    command = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{args.duration}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        f"https://127.0.0.1:{stack.https_port}{paths[0]}",
        "--",
        f"{SERVER_NAME}:{stack.https_port}",
        *paths,
    ]
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=args.duration + 60, check=False
    )
    run = parse_output(completed.stdout)
    if completed.returncode != 0 or run is None:
        raise StackError(
            f"wrk failed ({completed.returncode}):\n{completed.stdout}{completed.stderr}"
        )
    return run


def mib(kib: int) -> str:
    """KiB as ``12.3 MiB``."""
    return f"{kib / 1024:.1f} MiB"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when it ran cleanly, 1 when something failed."""
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 1
    print(
        f"bench/load.py: {args.runs} x {args.duration} s, {args.connections} connections, "
        f"{args.threads} wrk threads, through nginx (TLS) to 2 gunicorn instances x "
        f"{args.workers} sync workers, PostgreSQL and Redis of their own"
    )
    print(f"rate limit raised to '{BENCH_RATE_LIMIT}' for the benchmark (still in Redis)")
    print(f"gunicorn max_requests = {args.max_requests}; Accept-Encoding: br, gzip")
    stack = None
    failed = False
    scratch = Path(tempfile.mkdtemp(prefix="bastion-load-"))
    try:
        stack = start_stack(
            workers=args.workers,
            env={"RATELIMIT_DEFAULT": BENCH_RATE_LIMIT},
            gunicorn_args=["--max-requests", str(args.max_requests)],
            log=lambda message: print(f"  {message}"),
        )
        stories = create_stories(stack, args.stories)
        paths = [f"{PREFIX}/", stories[len(stories) // 2], f"{PREFIX}/stories/"]
        print(f"  {len(stories)} stories; paths: {', '.join(paths)}")
        script = scratch / "count.lua"
        script.write_text(LUA)

        before = workers_memory(stack)
        anon_before = workers_memory(stack, "RssAnon")
        print(f"\nworkers before: {len(before)}, VmRSS {mib(sum(before.values()))} "
              f"(largest {mib(max(before.values()))})")  # fmt: skip
        header = (
            f"{'run':>3} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'5xx':>6} "
            f"{'sock err':>8} {'RSS total':>11} {'growth':>7}"
        )
        print(header)
        runs = []
        memory = before
        for number in range(1, args.runs + 1):
            run = run_wrk(stack, args, paths, script)
            runs.append(run)
            memory = workers_memory(stack)
            growth = 100.0 * (sum(memory.values()) - sum(before.values())) / sum(before.values())
            print(
                f"{number:>3} {run.rps:>8.1f} {run.p50_ms:>8.1f} {run.p99_ms:>8.1f} "
                f"{run.non_2xx:>8} {run.server_errors:>6} {sum(run.socket_errors.values()):>8} "
                f"{mib(sum(memory.values())):>11} {growth:>+6.1f}%"
            )
            if run.server_errors or any(run.socket_errors.values()):
                failed = True
                print(f"    statuses {run.statuses}, socket errors {run.socket_errors}")
        anon_after = workers_memory(stack, "RssAnon")
        if set(memory) != set(before):
            print("note: worker PIDs changed during the runs (a worker was replaced)")
        rates = [run.rps for run in runs]
        print(
            f"\nmedian {statistics.median(rates):.1f} req/s; worker memory "
            f"{mib(sum(before.values()))} -> {mib(sum(memory.values()))} "
            f"({100.0 * (sum(memory.values()) / sum(before.values()) - 1):+.1f}%); per worker: "
            + ", ".join(
                f"{pid}: {mib(before[pid])} -> {mib(memory.get(pid, 0))}" for pid in sorted(before)
            )
        )
        # VmRSS counts the pages a worker shares with the master (preload_app) in
        # every worker; RssAnon is each worker's private memory, where a leak shows.
        anon_growth = 100.0 * (sum(anon_after.values()) / sum(anon_before.values()) - 1)
        print(
            f"private memory (RssAnon) of the workers: {mib(sum(anon_before.values()))} -> "
            f"{mib(sum(anon_after.values()))} ({anon_growth:+.1f}%)"
        )
    except (StackError, subprocess.SubprocessError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        failed = True
    finally:
        if stack is not None:
            stack.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
