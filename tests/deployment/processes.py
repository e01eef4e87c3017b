"""Processes the deployment stack is made of: a runner, PostgreSQL, Redis, gunicorn.

Each long-running program is a :class:`Process` in its own process group,
logging to a file; it is stopped by its PID (and its group), never by name.
:class:`Postgres` and :class:`Redis` are throw-away servers on free ports of
127.0.0.1 that a test may stop and start again; :class:`Instance` is one
gunicorn instance of the app, whose JSON request log :func:`request_records`
reads back.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
HOST = "127.0.0.1"
COMMAND_TIMEOUT = 120


class StackError(RuntimeError):
    """A part of the stack failed to start or to answer; the message says which."""


# --- small helpers -----------------------------------------------------------
def free_port() -> int:
    """Return a TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def postgres_bin_dir() -> Path | None:
    """The directory of ``initdb``/``pg_ctl``: ``$PG_BIN``, else the newest Debian one."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1]
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def wait_for(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> float:
    """Call ``check`` until it returns true; return the seconds it took.

    :raises StackError: naming ``what`` when ``timeout`` seconds pass first.
    """
    started = time.monotonic()
    while True:
        with contextlib.suppress(Exception):
            if check():
                return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise StackError(f"{what}: not within {timeout:.0f} s")
        time.sleep(interval)


def tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` lines of a log file ('' if it does not exist)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def run(
    command: list[str],
    *,
    env: Mapping[str, str] | None = None,
    input_text: str | None = None,
    cwd: Path = ROOT,
    timeout: float = COMMAND_TIMEOUT,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` to completion and return it (stdout and stderr captured as text).

    :raises StackError: when ``check`` and the exit code is not 0 (with its output).
    """
    completed = subprocess.run(
        command,
        env=dict(env) if env is not None else None,
        input=input_text,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and completed.returncode != 0:
        raise StackError(
            f"{' '.join(command)} exited {completed.returncode}:\n"
            f"{completed.stdout[-2000:]}{completed.stderr[-2000:]}"
        )
    return completed


def as_user(user: str | None) -> list[str]:
    """Command prefix that runs a program as ``user`` when we are root (else nothing)."""
    if user and os.geteuid() == 0:
        return ["runuser", "-u", user, "--"]
    return []


@dataclass
class Process:
    """A long-running program we started, in its own process group, logging to a file."""

    name: str
    command: list[str]
    log_path: Path
    env: dict[str, str] | None = None
    cwd: Path = ROOT
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the program (a no-op while it runs)."""
        if self.running:
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                self.command,
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int | None:
        """The PID of the program's main process, or ``None`` when not started."""
        return self.popen.pid if self.popen else None

    @property
    def running(self) -> bool:
        """True while the main process has not exited."""
        return self.popen is not None and self.popen.poll() is None

    def signal_group(self, signum: int) -> None:
        """Send ``signum`` to the process group we created for it (by its PID)."""
        if self.popen is not None and self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signum)

    def stop(self, timeout: float = 15.0, signum: int = signal.SIGTERM) -> None:
        """Ask the program to stop; kill its group after ``timeout`` seconds."""
        if self.popen is None:
            return
        self.signal_group(signum)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.signal_group(signal.SIGKILL)
            self.popen.wait(5)
        # Children left in the group (gunicorn workers) go too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)

    def kill(self) -> None:
        """SIGKILL the whole process group at once (a crash, not a shutdown)."""
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(5)

    def log_size(self) -> int:
        """Current size of the log file (an offset for :meth:`log_since`)."""
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log_since(self, offset: int = 0) -> str:
        """The log text written after byte ``offset``."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(offset)
                return log.read().decode(errors="replace")
        except OSError:
            return ""


# --- PostgreSQL ----------------------------------------------------------------
class Postgres:
    """A throw-away PostgreSQL cluster on 127.0.0.1:``port``, owned by ``user`` if root.

    :param directory: an empty directory for the cluster, its socket and log.
    :param port: the TCP port.
    """

    database = "bastion"

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.port = port
        self.data = directory / "data"
        self.socket_dir = directory / "socket"
        self.log_path = directory / "postgres.log"
        self.bin = postgres_bin_dir() or Path("/usr/lib/postgresql/15/bin")
        self.user = "postgres" if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the app's database (``DATABASE_URL``)."""
        return f"postgresql+psycopg://postgres@{HOST}:{self.port}/{self.database}"

    def _pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        options = f"-h {HOST} -p {self.port} -k {self.socket_dir}"
        return run(
            [
                *as_user(self.user),
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.log_path),
                "-o",
                options,
                *args,
            ],
            check=check,
            cwd=self.directory,
        )

    def init(self) -> None:
        """``initdb`` the cluster, start it and create the app's database."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        if self.user:
            shutil.chown(self.directory, self.user, self.user)
            shutil.chown(self.socket_dir, self.user, self.user)
        run(
            [
                *as_user(self.user),
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            cwd=self.directory,
        )
        self.start()
        with self.connect("postgres") as connection:
            connection.autocommit = True
            connection.execute(f"CREATE DATABASE {self.database}")

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        self._pg_ctl("-w", "-t", "30", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: roll back open transactions, close connections)."""
        self._pg_ctl("-w", "-t", "30", "-m", mode, "stop", check=False)

    def restart(self, mode: str = "fast") -> None:
        """``pg_ctl restart``: stop and start again, waiting for both."""
        self._pg_ctl("-w", "-t", "30", "-m", mode, "restart")

    def connect(self, database: str | None = None) -> Any:
        """A new psycopg connection as ``postgres`` (the caller closes it)."""
        import psycopg

        return psycopg.connect(
            host=HOST,
            port=self.port,
            user="postgres",
            dbname=database or self.database,
            connect_timeout=3,
        )

    def query(self, sql: str, params: Iterable[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement in the app's database and return its rows."""
        with self.connect() as connection:
            cursor = connection.execute(sql, tuple(params or ()))  # type: ignore[arg-type]
            return list(cursor.fetchall()) if cursor.description else []


# --- Redis ------------------------------------------------------------------------
class Redis:
    """A throw-away ``redis-server`` on 127.0.0.1:``port`` with no persistence."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.port = port
        directory.mkdir(parents=True, exist_ok=True)
        self.process = Process(
            "redis",
            [
                shutil.which("redis-server") or "redis-server",
                "--bind",
                HOST,
                "--port",
                str(port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(directory),
                "--protected-mode",
                "yes",
            ],
            directory / "redis.log",
        )

    @property
    def url(self) -> str:
        """The ``RATELIMIT_STORAGE_URI`` of this server."""
        return f"redis://{HOST}:{self.port}/0"

    def start(self) -> None:
        """Start the server (empty) and wait until it answers PING."""
        self.process.start()
        wait_for(lambda: bool(self.client().ping()), 10, f"redis-server on port {self.port}")

    def stop(self) -> None:
        """Stop the server (SIGTERM to its PID); its counters are gone."""
        self.process.stop(timeout=10)
        self.process.popen = None

    def client(self) -> Any:
        """A ``redis.Redis`` client for this server."""
        import redis

        return redis.Redis(
            host=HOST, port=self.port, socket_timeout=1, socket_connect_timeout=1, db=0
        )

    def keys(self, pattern: str = "*") -> list[str]:
        """Every key matching ``pattern`` (decoded)."""
        return sorted(key.decode() for key in self.client().scan_iter(match=pattern, count=1000))


# --- gunicorn ---------------------------------------------------------------------
class Instance(Process):
    """One gunicorn instance of the app (a master and ``WEB_CONCURRENCY`` workers)."""

    port: int = 0

    def worker_pids(self) -> list[int]:
        """PIDs of the master's current worker processes (from /proc)."""
        if not self.running or self.pid is None:
            return []
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        with contextlib.suppress(OSError):
            return [int(pid) for pid in children.read_text().split()]
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == self.pid:
                    pids.append(int(stat.parent.name))
        return pids

    def request_records(self, offset: int = 0) -> list[dict[str, Any]]:
        """The app's JSON request-log records written after ``offset``."""
        return request_records(self.log_since(offset))


REQUEST_LINE_RE = re.compile(r" bastion\.request (\{.*\})\s*$")


def request_records(text: str) -> list[dict[str, Any]]:
    """Parse the ``bastion.request`` JSON lines out of a log text."""
    records = []
    for line in text.splitlines():
        match = REQUEST_LINE_RE.search(line)
        if match:
            with contextlib.suppress(ValueError):
                records.append(json.loads(match.group(1)))
    return records


def resident_kib(pid: int, key: str = "VmRSS") -> int | None:
    """A memory figure of process ``pid`` from ``/proc/<pid>/status``, in KiB.

    :param key: ``VmRSS`` (resident, shared pages included) or ``RssAnon``
        (private anonymous memory: what a leak makes grow).
    :returns: the value, or ``None`` if the process is gone.
    """
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None
