"""Requests per second of Bastion's home page against a bare Flask app.

Run it with ``make bench`` or ``.venv/bin/python bench/home_vs_bare.py``.
It is a benchmark, not a test: it prints a table and exits 0 whatever the
ratio; it exits 1 only when something went wrong (a server did not start,
a request failed, the load generator errored).

What it does, in one run:

1. Prepares a production environment in a temporary directory
   (``BASTION_CONFIG=production``, a random ``SECRET_KEY``, SQLite in the
   temporary directory, rate limits raised to ``1000000 per second; 60000000 per minute`` (the
   same two limits as the default, far above the load) but
   still on, ``PROXY_FIX_X_PROTO=1`` so that the load generator can send
   ``X-Forwarded-Proto: https`` as nginx would), then runs
   ``flask assets build`` and ``flask db upgrade`` in it.
2. Starts Bastion (``wsgi:app``) and ``bench/bare_app.py`` under gunicorn
   with the same settings (``deploy/gunicorn.conf.py`` plus ``-w/-k/-b``
   flags), each on a free port of 127.0.0.1, and waits for both to answer.
3. Loads them one after the other with the same generator, ``wrk`` if it is
   on ``PATH`` (``apt-get install wrk``), else a bounded Python generator:
   bare, Bastion, Bastion with ``Accept-Encoding: gzip, br``, bare again
   (the two bare runs are averaged to cancel drift).
4. Prints requests per second and the ratio Bastion / bare (aim: >= 0.3).

Both gunicorn process groups are stopped in a ``finally`` block.

``--max-requests`` defaults to 0 (no worker recycling) so that the numbers
measure per-request cost; ``deploy/gunicorn.conf.py`` recycles workers
after about 10000 requests in production, which costs a ``create_app`` per
worker restart: pass ``--max-requests 10000`` to include that.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"
HOST = "127.0.0.1"
AIM = 0.3
READY_TIMEOUT = 15.0
COMMAND_TIMEOUT = 180

HTTPS_HEADER = {"X-Forwarded-Proto": "https"}
COMPRESS_HEADERS = {"X-Forwarded-Proto": "https", "Accept-Encoding": "gzip, br"}


class BenchError(RuntimeError):
    """Something went wrong: the run's numbers can't be trusted."""


@dataclass
class Server:
    """A gunicorn process group started by this script."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Result:
    """One measured run of one target."""

    requests_per_second: float
    requests: int
    bad_status: int = 0
    errors: int = 0
    notes: list[str] = field(default_factory=list)


# --- environment and servers ----------------------------------------------


def venv_command(name: str) -> list[str]:
    """The console script ``name`` next to this interpreter, or ``python -m name``."""
    script = Path(sys.executable).parent / name
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", name]


def production_env(tmpdir: Path) -> dict[str, str]:
    """The environment Bastion runs in for this benchmark."""
    env = dict(os.environ)
    for name in ("FLASK_DEBUG", "GUNICORN_CMD_ARGS", "WEB_CONCURRENCY", "GUNICORN_BIND"):
        env.pop(name, None)
    env.update(
        {
            "BASTION_CONFIG": "production",
            "FLASK_APP": "app",
            "SECRET_KEY": secrets.token_hex(32),
            "TRUSTED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": f"sqlite:///{tmpdir}/bench.db",
            "RATELIMIT_DEFAULT": "1000000 per second; 60000000 per minute",
            "PROXY_FIX_X_PROTO": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def run_flask(args: list[str], env: dict[str, str]) -> None:
    """Run ``flask ARGS`` in the repository; raise :class:`BenchError` if it fails."""
    command = [*venv_command("flask"), *args]
    try:
        done = subprocess.run(
            command,
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise BenchError(f"`flask {' '.join(args)}` took over {COMMAND_TIMEOUT} s") from None
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip()
        raise BenchError(f"`flask {' '.join(args)}` failed ({done.returncode}):\n{output}")


def prepare(env: dict[str, str]) -> None:
    """Build the asset bundles and migrate the benchmark database.

    ``ASSETS_BUILD_ON_START`` lets a production ``create_app`` start on a
    checkout whose bundles were never built (it refuses to otherwise).
    """
    run_flask(["assets", "build"], {**env, "ASSETS_BUILD_ON_START": "1"})
    run_flask(["db", "upgrade"], env)


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def gunicorn_flags() -> list[str]:
    """Extra flags for this gunicorn version.

    gunicorn 25+ opens a control socket at ``~/.gunicorn/gunicorn.ctl`` by
    default; two masters (ours and the bare app) would fight over it, and
    the first to stop would remove the other's.  Older versions have no
    such socket and no ``--no-control-socket`` flag.
    """
    try:
        help_text = subprocess.run(
            [*venv_command("gunicorn"), "--help"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        ).stdout
    except (OSError, subprocess.TimeoutExpired) as error:
        raise BenchError(f"gunicorn --help failed: {error}") from None
    if "usage:" not in help_text.lower():
        raise BenchError("gunicorn is not installed in this virtualenv (pip install -e .)")
    return ["--no-control-socket"] if "--no-control-socket" in help_text else []


def start_gunicorn(
    name: str, target: str, args: argparse.Namespace, env: dict[str, str], tmpdir: Path
) -> Server:
    """Start ``gunicorn target`` in its own process group, logging to ``tmpdir``."""
    port = free_port()
    command = [
        *venv_command("gunicorn"),
        "--config",
        str(GUNICORN_CONF),
        "--workers",
        str(args.workers),
        "--worker-class",
        "sync",
        "--bind",
        f"{HOST}:{port}",
        "--max-requests",
        str(args.max_requests),
        *args.gunicorn_flags,
        "--chdir",
        str(ROOT if target.startswith("wsgi:") else BENCH_DIR),
        target,
    ]
    log_path = tmpdir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, stopped as one
        )
    return Server(name=name, port=port, process=process, log_path=log_path)


def stop(server: Server) -> None:
    """Stop the server's process group: SIGTERM, then SIGKILL after 10 s."""
    pgid = server.process.pid  # start_new_session: the group id is the leader's pid
    if server.process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.process.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)  # any worker left behind
    if server.process.poll() is None:
        server.process.wait(timeout=5)


def get(port: int, headers: dict[str, str], timeout: float = 5.0) -> http.client.HTTPResponse:
    """``GET /`` on 127.0.0.1:``port``; the response's body is read (``.body``)."""
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request("GET", "/", headers=headers)
        response = connection.getresponse()
        response.body = response.read()  # type: ignore[attr-defined]
        return response
    finally:
        connection.close()


def wait_ready(server: Server, headers: dict[str, str]) -> None:
    """Poll ``/`` until it answers, for at most ``READY_TIMEOUT`` seconds."""
    deadline = time.monotonic() + READY_TIMEOUT
    last_error = "no answer"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise BenchError(
                f"{server.name} gunicorn exited with {server.process.returncode}:\n"
                + server.log_tail()
            )
        try:
            get(server.port, headers, timeout=1.0)
            return
        except OSError as error:
            last_error = str(error)
            time.sleep(0.2)
    raise BenchError(
        f"{server.name} did not answer within {READY_TIMEOUT:.0f} s ({last_error}):\n"
        + server.log_tail()
    )


def check_responses(bare: Server, ours: Server) -> dict[str, str]:
    """Check that each target answers what we mean to measure; return body sizes."""
    sizes: dict[str, str] = {}
    response = get(bare.port, HTTPS_HEADER)
    if response.status != 200 or response.body != b"Hello, World!":  # type: ignore[attr-defined]
        raise BenchError(f"bare app answered {response.status} {response.body[:80]!r}")  # type: ignore[attr-defined]
    sizes["bare"] = f"{len(response.body)} B"  # type: ignore[attr-defined]

    response = get(ours.port, HTTPS_HEADER)
    body = response.body  # type: ignore[attr-defined]
    if response.status != 200 or b"Welcome to" not in body:
        location = response.getheader("Location") or ""
        raise BenchError(
            f"Bastion's home page answered {response.status} {location} {body[:120]!r}\n"
            + ours.log_tail()
        )
    if not response.getheader("Content-Security-Policy"):
        raise BenchError("Bastion's home page came without its security headers")
    if response.getheader("Content-Encoding"):
        raise BenchError("Bastion compressed a response the client did not ask to be compressed")
    sizes["ours"] = f"{len(body)} B"

    response = get(ours.port, COMPRESS_HEADERS)
    encoding = response.getheader("Content-Encoding") or ""
    if response.status != 200 or encoding not in {"br", "gzip"}:
        raise BenchError(
            f"Bastion's compressed home page answered {response.status} "
            f"with Content-Encoding {encoding!r}"
        )
    sizes["ours_compressed"] = f"{len(response.body)} B {encoding}"  # type: ignore[attr-defined]
    return sizes


# --- load generators ------------------------------------------------------

WRK_RPS_RE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)
WRK_TOTAL_RE = re.compile(r"^\s*(\d+) requests in", re.M)
WRK_BAD_RE = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
WRK_SOCKET_RE = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


def run_wrk(
    port: int, headers: dict[str, str], duration: float, args: argparse.Namespace
) -> Result:
    """Load ``/`` with wrk for ``duration`` seconds."""
    command = [
        shutil.which("wrk") or "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "5s",
    ]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    command.append(f"http://{HOST}:{port}/")
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=duration + 30, check=False
        )
    except subprocess.TimeoutExpired:
        raise BenchError(f"wrk did not finish within {duration + 30:.0f} s") from None
    output = done.stdout + done.stderr
    rps = WRK_RPS_RE.search(output)
    total = WRK_TOTAL_RE.search(output)
    if done.returncode != 0 or rps is None or total is None:
        raise BenchError(f"wrk failed ({done.returncode}):\n{output.strip()}")
    result = Result(requests_per_second=float(rps.group(1)), requests=int(total.group(1)))
    bad = WRK_BAD_RE.search(output)
    if bad:
        result.bad_status = int(bad.group(1))
    sockets = WRK_SOCKET_RE.search(output)
    if sockets:
        connect, read, write, timeout = (int(n) for n in sockets.groups())
        # The sync worker closes every connection after its response; wrk
        # sees that as a clean close, so any count here is a real failure.
        result.errors = connect + write + timeout + read
        result.notes.append(sockets.group(0))
    return result


def run_python(
    port: int, headers: dict[str, str], duration: float, args: argparse.Namespace
) -> Result:
    """Load ``/`` from ``--connections`` threads for ``duration`` seconds (no wrk)."""
    deadline = time.monotonic() + duration
    lock = threading.Lock()
    totals = {"ok": 0, "bad": 0, "errors": 0}

    def worker() -> None:
        ok = bad = errors = 0
        connection = http.client.HTTPConnection(HOST, port, timeout=5)
        while time.monotonic() < deadline:
            try:
                connection.request("GET", "/", headers=headers)
                response = connection.getresponse()
                response.read()
                if 200 <= response.status < 400:
                    ok += 1
                else:
                    bad += 1
                if response.will_close:
                    connection.close()
            except (OSError, http.client.HTTPException):
                errors += 1
                connection.close()
                connection = http.client.HTTPConnection(HOST, port, timeout=5)
        connection.close()
        with lock:
            totals["ok"] += ok
            totals["bad"] += bad
            totals["errors"] += errors

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(args.connections)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=duration + 30)
    if any(thread.is_alive() for thread in threads):
        raise BenchError("the Python load generator did not stop in time")
    elapsed = time.monotonic() - started
    done = totals["ok"] + totals["bad"]
    return Result(
        requests_per_second=done / elapsed,
        requests=done,
        bad_status=totals["bad"],
        errors=totals["errors"],
    )


# --- the run -----------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10, help="seconds per run (10)")
    parser.add_argument("--connections", type=int, default=8, help="open connections (8)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument(
        "--warmup", type=float, default=2, help="unrecorded seconds per target first (2)"
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per app (2)")
    parser.add_argument(
        "--max-requests",
        type=int,
        default=0,
        help="gunicorn --max-requests (0: never recycle workers during the run)",
    )
    parser.add_argument(
        "--loadgen",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="load generator: wrk if installed (auto), or the built-in Python one",
    )
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.duration > 600:
        parser.error("--duration must be between 0 and 600 seconds")
    if args.warmup < 0 or args.warmup > 60:
        parser.error("--warmup must be between 0 and 60 seconds")
    if not 1 <= args.connections <= 1000:
        parser.error("--connections must be between 1 and 1000")
    if not 1 <= args.threads <= args.connections:
        parser.error("--threads must be between 1 and --connections")
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    return args


def print_table(
    bare_runs: list[Result],
    ours: Result,
    ours_compressed: Result,
    sizes: dict[str, str],
) -> None:
    bare_rps = sum(run.requests_per_second for run in bare_runs) / len(bare_runs)
    bare_each = " / ".join(f"{run.requests_per_second:.0f}" for run in bare_runs)
    rows = [
        (f"bare Flask ({sizes['bare']}; runs {bare_each})", bare_rps, "1.00"),
        (
            f"Bastion home ({sizes['ours']})",
            ours.requests_per_second,
            f"{ours.requests_per_second / bare_rps:.2f}",
        ),
        (
            f"Bastion home, Accept-Encoding: gzip, br ({sizes['ours_compressed']})",
            ours_compressed.requests_per_second,
            f"{ours_compressed.requests_per_second / bare_rps:.2f}",
        ),
    ]
    width = max(len(row[0]) for row in rows)
    print(f"{'target':<{width}}  {'requests/s':>10}  {'ours/bare':>9}")
    print(f"{'-' * width}  {'-' * 10}  {'-' * 9}")
    for label, rps, ratio in rows:
        print(f"{label:<{width}}  {rps:>10.1f}  {ratio:>9}")
    ratio = ours.requests_per_second / bare_rps
    verdict = "met" if ratio >= AIM else "NOT met"
    print(f"\naim: Bastion home >= {AIM:.2f} x bare; {ratio:.2f} x: {verdict}")
    low = min(run.requests_per_second for run in bare_runs)
    high = max(run.requests_per_second for run in bare_runs)
    if low and (high - low) / low > 0.10:
        print(f"note: the two bare runs differ by {100 * (high - low) / low:.0f}% (noisy machine)")


def bench(args: argparse.Namespace, tmpdir: Path, servers: list[Server]) -> int:
    use_wrk = args.loadgen == "wrk" or (args.loadgen == "auto" and shutil.which("wrk"))
    if args.loadgen == "wrk" and not shutil.which("wrk"):
        raise BenchError("wrk is not on PATH (apt-get install wrk), or use --loadgen python")
    load = run_wrk if use_wrk else run_python

    args.gunicorn_flags = gunicorn_flags()
    env = production_env(tmpdir)
    print("preparing: flask assets build, flask db upgrade (production config) ...", flush=True)
    prepare(env)

    bare = start_gunicorn("bare", "bare_app:app", args, env, tmpdir)
    servers.append(bare)
    ours = start_gunicorn("bastion", "wsgi:app", args, env, tmpdir)
    servers.append(ours)
    wait_ready(bare, HTTPS_HEADER)
    wait_ready(ours, HTTPS_HEADER)
    sizes = check_responses(bare, ours)

    generator = (
        f"wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s"
        if use_wrk
        else f"Python http.client, {args.connections} threads, {args.duration:g} s"
    )
    print(
        f"gunicorn -c deploy/gunicorn.conf.py -w {args.workers} -k sync "
        f"--max-requests {args.max_requests}; {os.cpu_count()} cores; load: {generator}; "
        "header X-Forwarded-Proto: https",
        flush=True,
    )

    targets = {
        "bare": (bare.port, HTTPS_HEADER),
        "ours": (ours.port, HTTPS_HEADER),
        "ours_compressed": (ours.port, COMPRESS_HEADERS),
    }
    if args.warmup:
        for port, headers in targets.values():
            load(port, headers, args.warmup, args)

    results: dict[str, list[Result]] = {name: [] for name in targets}
    for name in ("bare", "ours", "ours_compressed", "bare"):
        port, headers = targets[name]
        print(f"  measuring {name} ...", flush=True)
        results[name].append(load(port, headers, args.duration, args))

    print()
    print_table(results["bare"], results["ours"][0], results["ours_compressed"][0], sizes)

    failures = [
        f"{name}: {run.bad_status} non-2xx/3xx responses, {run.errors} socket errors"
        for name, runs in results.items()
        for run in runs
        if run.bad_status or run.errors
    ]
    for server in servers:
        if server.process.poll() is not None:
            failures.append(f"{server.name} gunicorn exited during the run")
    if failures:
        raise BenchError("some requests failed, the numbers are not valid:\n" + "\n".join(failures))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tmpdir = Path(tempfile.mkdtemp(prefix="bastion-bench-"))
    servers: list[Server] = []
    failed = True
    try:
        status = bench(args, tmpdir, servers)
        failed = False
        return status
    except BenchError as error:
        print(f"bench error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench interrupted", file=sys.stderr)
        return 130
    finally:
        for server in servers:
            stop(server)
        if failed:
            print(f"logs kept in {tmpdir}", file=sys.stderr)
        else:
            shutil.rmtree(tmpdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
