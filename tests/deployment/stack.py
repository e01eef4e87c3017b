"""The production stack as real processes, for deployment tests and benchmarks.

:func:`start_stack` builds, in one temporary directory:

* a self-signed certificate for ``localhost`` and ``127.0.0.1`` (``openssl``);
* its own PostgreSQL cluster (``initdb`` + ``pg_ctl`` on a free port, the unix
  socket in the temporary directory, run as the ``postgres`` user when we are
  root) and its own ``redis-server`` on a free port, so that fault tests can
  stop and restart them without touching the machine's services;
* the app prepared as the README's "Production" section says (``flask assets
  build``, ``flask db upgrade`` with ``BASTION_CONFIG=production``);
* two gunicorn instances (``deploy/gunicorn.conf.py``, ``wsgi:app``), each on
  its own port;
* nginx running the shipped ``deploy/nginx/*.conf`` with only the ports, the
  paths and the certificate replaced, inside a generated main config that
  keeps its pid file, logs and temporary files in the temporary directory.

Everything binds to 127.0.0.1.  :meth:`Stack.stop` stops every process it
started, by PID (each runs in its own process group), and removes the
directory.  The processes are in :mod:`tests.deployment.processes`, the
HTTP client in :mod:`tests.deployment.client`.

Used by ``tests/deployment/`` and ``bench/load.py``.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import itertools
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

from tests.deployment.client import SERVER_NAME, Client
from tests.deployment.processes import (
    HOST,
    ROOT,
    VENV_BIN,
    Instance,
    Postgres,
    Process,
    Redis,
    StackError,
    free_port,
    postgres_bin_dir,
    run,
    tail,
    wait_for,
)

NGINX_CONF_DIR = ROOT / "deploy" / "nginx"
GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"
DIST_DIR = ROOT / "app" / "static" / "dist"
#: The path prefix nginx strips and the app is told about (``PATH_PREFIX``).
PREFIX = "/some-service/v1"
NGINX_BIN = os.environ.get("NGINX_BIN", "/usr/sbin/nginx")
BROTLI_MODULE = Path("/usr/lib/nginx/modules/ngx_http_brotli_static_module.so")
MIME_TYPES = Path("/etc/nginx/mime.types")


def missing_tools() -> list[str]:
    """Names of the programs the stack needs that this machine lacks (empty: all there)."""
    missing = []
    if not Path(NGINX_BIN).is_file():
        missing.append(f"nginx ({NGINX_BIN}; apt-get install nginx)")
    pg_dir = postgres_bin_dir()
    if pg_dir is None or not (pg_dir / "initdb").is_file() or not (pg_dir / "pg_ctl").is_file():
        missing.append("PostgreSQL server binaries initdb/pg_ctl (apt-get install postgresql)")
    for program, package in (("redis-server", "redis-server"), ("openssl", "openssl")):
        if shutil.which(program) is None:
            missing.append(f"{program} (apt-get install {package})")
    if not (VENV_BIN / "gunicorn").is_file():
        missing.append(f"{VENV_BIN / 'gunicorn'} (make install-dev)")
    return missing


def brotli_module_available() -> bool:
    """True when nginx's brotli_static module is installed (deploy/nginx/brotli.conf needs it)."""
    return BROTLI_MODULE.is_file()


# --- nginx -------------------------------------------------------------------------
def render_nginx_conf(
    name: str,
    *,
    http_port: int,
    https_port: int,
    upstream_ports: list[int],
    cert: Path,
    key: Path,
    dist_dir: Path = DIST_DIR,
) -> str:
    """The shipped ``deploy/nginx/<name>`` with only ports, paths and certificate replaced.

    :raises StackError: when a line the replacement expects is not in the file
        exactly as often as expected (the shipped file changed shape).
    """
    text = (NGINX_CONF_DIR / name).read_text()
    if name == "upstream.conf":
        servers = re.findall(r"^\s*server 127\.0\.0\.1:\d+([^;]*);$", text, re.M)
        if len(servers) < 1:
            raise StackError("deploy/nginx/upstream.conf: no 'server 127.0.0.1:PORT' line")
        options = servers[0]
        text = re.sub(r"^\s*server 127\.0\.0\.1:\d+[^;]*;\n", "", text, flags=re.M)
        lines = "".join(f"    server {HOST}:{port}{options};\n" for port in upstream_ports)
        return text.replace("upstream bastion {\n", "upstream bastion {\n" + lines, 1)
    replacements = [
        ("listen 80;", f"listen {HOST}:{http_port};", 1),
        ("listen 443 ssl http2;", f"listen {HOST}:{https_port} ssl http2;", 1),
        (
            "return 301 https://$host$request_uri;",
            f"return 301 https://$host:{https_port}$request_uri;",
            1,
        ),
        ("/etc/ssl/certs/example.com.pem", str(cert), 1),
        ("/etc/ssl/private/example.com.key", str(key), 1),
        ("/srv/bastion/app/static/dist/", f"{dist_dir}/", 0),  # 0: once or more
    ]
    for old, new, count in replacements:
        found = text.count(old)
        if found != count and not (count == 0 and found):
            expected = count or "1 or more"
            raise StackError(f"deploy/nginx/{name}: {old!r} found {found} times, not {expected}")
        text = text.replace(old, new)
    return text


def readable_by_everyone(directory: Path) -> bool:
    """True if any user can list ``directory`` and read its files (nginx's workers must)."""
    for parent in [directory, *directory.parents]:
        if not parent.stat().st_mode & 0o001:
            return False
    if not directory.stat().st_mode & 0o004:
        return False
    return all(path.stat().st_mode & 0o004 for path in directory.iterdir())


def nginx_main_conf(directory: Path, *, brotli: bool, workers: int, access_log: bool) -> str:
    """A main nginx config that keeps everything in ``directory`` and includes ours."""
    temp = directory / "temp"
    user = ""
    if os.geteuid() == 0:
        user = "user nobody nogroup;\n"
    mime = (
        f"include {MIME_TYPES};"
        if MIME_TYPES.is_file()
        else ("types { text/html html; text/css css; application/javascript js; }")
    )
    return f"""{user}worker_processes {workers};
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
{f"load_module {BROTLI_MODULE};" if brotli else ""}
events {{ worker_connections 1024; }}
http {{
    {mime}
    default_type application/octet-stream;
    sendfile on;
    access_log {f"{directory}/access.log" if access_log else "off"};
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {directory}/upstream.conf;
    include {directory}/bastion.conf;
    {f"include {directory}/brotli.conf;" if brotli else ""}
}}
"""


# --- the whole stack ----------------------------------------------------------------
@dataclass
class Stack:
    """A running stack; build it with :func:`start_stack`, end it with :meth:`stop`."""

    root: Path
    cert: Path
    key: Path
    postgres: Postgres
    redis: Redis
    instances: list[Instance]
    nginx: Process
    nginx_dir: Path
    http_port: int
    https_port: int
    env: dict[str, str]
    brotli: bool
    _addresses: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # addresses and clients
    def new_address(self) -> str:
        """A loopback address no earlier caller got (127.1.0.1, 127.1.0.2, ...).

        Each is a distinct client to nginx, the request log and the rate limiter.
        """
        with self._lock:
            number = next(self._addresses)
        return f"127.{1 + number // 62500}.{number // 250 % 250}.{number % 250 + 1}"

    def client(self, *, https: bool = True, source: str | None = None) -> Client:
        """A client of nginx (HTTPS or plain HTTP port) from a fresh (or given) address."""
        return Client(
            self.https_port if https else self.http_port,
            https=https,
            source=source or self.new_address(),
            cafile=self.cert,
        )

    def direct(self, instance: Instance, *, source: str | None = None) -> Client:
        """A plain-HTTP client of one gunicorn instance, skipping nginx."""
        return Client(
            instance.port,
            https=False,
            source=source or self.new_address(),
            host_header=f"{SERVER_NAME}:{self.https_port}",
        )

    def url(self, path: str) -> str:
        """The public HTTPS URL of ``path`` (which should include the prefix)."""
        return f"https://{SERVER_NAME}:{self.https_port}{path}"

    # the app's commands
    def flask(
        self, *args: str, input_text: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run ``flask <args>`` with the instances' production environment."""
        return run(
            [str(VENV_BIN / "flask"), *args], env=self.env, input_text=input_text, check=check
        )

    def mails_to(self, address: str) -> list[EmailMessage]:
        """The mails the instances wrote to ``address``, oldest first.

        ``MAIL_URL`` is ``file://<root>/mail`` (see :func:`app_environment`).
        """
        found = []
        for path in sorted((self.root / "mail").glob("*.eml"), key=lambda p: p.stat().st_mtime_ns):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if message["To"] == address:
                found.append(message)
        return found  # type: ignore[return-value]

    def mailed_link(self, address: str, path: str) -> str:
        """The path (prefix included) of the link to ``path`` in the newest mail to ``address``.

        :raises AssertionError: when there is no such mail or link.
        """
        mails = self.mails_to(address)
        assert mails, f"no mail to {address}"
        body = mails[-1].get_content()
        match = re.search(rf"{re.escape(self.url(''))}({re.escape(PREFIX + path)}\S+)", body)
        assert match, body
        return match.group(1)

    def create_user(self, email: str, name: str, password: str, *, admin: bool = False) -> None:
        """``flask users create EMAIL --name NAME --password-stdin`` (production config)."""
        extra = ["--admin"] if admin else []
        self.flask("users", "create", email, "--name", name, *extra, "--password-stdin",
                   input_text=password + "\n")  # fmt: skip

    def which_instance(self, request_id: str, offsets: Mapping[str, int] | None = None) -> str:
        """Name of the instance whose log has the request ``request_id`` ('' if none)."""
        for instance in self.instances:
            offset = (offsets or {}).get(instance.name, 0)
            for record in instance.request_records(offset):
                if record.get("request_id") == request_id:
                    return instance.name
        return ""

    def log_offsets(self) -> dict[str, int]:
        """The current size of each instance's log, by instance name."""
        return {instance.name: instance.log_size() for instance in self.instances}

    def wait_ready(self, instance: Instance, timeout: float = 30.0) -> None:
        """Wait until ``instance`` answers ``/healthz`` itself."""

        def healthy() -> bool:
            if not instance.running:
                raise StackError(f"{instance.name} exited:\n{tail(instance.log_path)}")
            return self.direct(instance, source=HOST).get("/healthz", timeout=2).status == 200

        try:
            wait_for(healthy, timeout, f"gunicorn {instance.name} on port {instance.port}")
        except StackError as error:
            raise StackError(f"{error}\n{tail(instance.log_path)}") from None

    def start_instance(self, instance: Instance) -> None:
        """(Re)start one gunicorn instance and wait until it answers."""
        instance.start()
        self.wait_ready(instance)

    def stop(self) -> None:
        """Stop nginx, the instances, Redis and PostgreSQL (by PID); remove the directory.

        Set ``BASTION_KEEP_STACK=1`` to keep the directory (logs) for a post-mortem.
        """
        errors = []
        for stopper in (
            lambda: self.nginx.stop(timeout=10, signum=signal.SIGQUIT),
            *(lambda i=i: i.stop(timeout=20) for i in self.instances),
            self.redis.stop,
            lambda: self.postgres.stop("immediate"),
        ):
            try:
                stopper()
            except Exception as error:  # keep stopping the others
                errors.append(repr(error))
        if os.environ.get("BASTION_KEEP_STACK"):
            print(f"stack kept in {self.root}")
        else:
            shutil.rmtree(self.root, ignore_errors=True)
        if errors:
            raise StackError("; ".join(errors))


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for ``localhost`` and ``127.0.0.1``: ``(cert, key)`` paths."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-days", "2", "-subj", f"/CN={SERVER_NAME}",
            "-addext", f"subjectAltName=DNS:{SERVER_NAME},IP:{HOST}",
            "-keyout", str(key), "-out", str(cert),
        ]
    )  # fmt: skip
    return cert, key


def app_environment(
    *,
    secret_key: str,
    database_url: str,
    redis_url: str,
    extra: Mapping[str, str] | None,
    mail_dir: Path | None = None,
) -> dict[str, str]:
    """The production environment of the app: the README's settings plus ``extra``.

    Mail goes to ``.eml`` files in ``mail_dir`` (:meth:`Stack.mails_to` reads
    them), sent by the instances themselves (``JOBS_REDIS_URL=memory://``: the
    stack runs no worker).
    """
    kept = ("PATH", "HOME", "LANG", "LC_ALL", "TZ")
    env = {name: os.environ[name] for name in kept if name in os.environ}
    env.update(
        {
            "FLASK_APP": "app",
            "BASTION_CONFIG": "production",
            "SECRET_KEY": secret_key,
            "TRUSTED_HOSTS": "localhost,127.0.0.1",
            "DATABASE_URL": database_url,
            "RATELIMIT_STORAGE_URI": redis_url,
            "PROXY_FIX_X_FOR": "1",
            "PROXY_FIX_X_PROTO": "1",
            "PATH_PREFIX": PREFIX,
            "SECURITY_CONTACT": "mailto:security@example.com",
            "WEB_CONCURRENCY": "2",
            "PYTHONDONTWRITEBYTECODE": "1",
            "MAIL_URL": f"file://{mail_dir}" if mail_dir else "console://",
            "JOBS_REDIS_URL": "memory://",
        }
    )
    env.update(extra or {})
    return env


def start_stack(
    *,
    instances: int = 2,
    workers: int = 2,
    env: Mapping[str, str] | None = None,
    gunicorn_args: Iterable[str] = (),
    nginx_workers: int = 1,
    access_log: bool = True,
    log: Callable[[str], None] = lambda message: None,
) -> Stack:
    """Start the whole stack and return it once nginx answers through to the app.

    :param instances: how many gunicorn instances (upstream servers).
    :param workers: ``WEB_CONCURRENCY`` of each instance.
    :param env: extra settings for the app (e.g. ``RATELIMIT_DEFAULT``).
    :param gunicorn_args: extra gunicorn flags (after ``-c deploy/gunicorn.conf.py``).
    :param nginx_workers: nginx ``worker_processes``.
    :param access_log: write nginx's access log (off for benchmarks).
    :param log: called with a line of progress for each step.
    :raises StackError: when a step fails; what was started is stopped again.
    """
    missing = missing_tools()
    if missing:
        raise StackError("missing: " + "; ".join(missing))
    root = Path(tempfile.mkdtemp(prefix="bastion-stack-"))
    root.chmod(0o755)  # postgres and nginx's workers run as other users
    started: list[Callable[[], None]] = []
    try:
        started_at = time.monotonic()
        cert, key = make_certificate(root)
        postgres = Postgres(root / "postgres", free_port())
        postgres.init()
        started.append(lambda: postgres.stop("immediate"))
        log(f"postgres on port {postgres.port} ({time.monotonic() - started_at:.1f} s)")
        redis = Redis(root / "redis", free_port())
        redis.start()
        started.append(redis.stop)
        log(f"redis on port {redis.port}")
        app_env = app_environment(
            secret_key=secrets.token_hex(32),
            database_url=postgres.url,
            redis_url=redis.url,
            extra={"WEB_CONCURRENCY": str(workers), **(env or {})},
            mail_dir=root / "mail",
        )
        flask = [str(VENV_BIN / "flask")]
        run([*flask, "assets", "build"], env=app_env)
        run([*flask, "db", "upgrade"], env=app_env)
        log(f"assets built, database migrated ({time.monotonic() - started_at:.1f} s)")

        servers = []
        for number in range(instances):
            port = free_port()
            instance = Instance(
                f"app{number + 1}",
                [
                    str(VENV_BIN / "gunicorn"),
                    "-c",
                    str(GUNICORN_CONF),
                    *gunicorn_args,
                    "wsgi:app",
                ],
                root / f"app{number + 1}.log",
                env={**app_env, "GUNICORN_BIND": f"{HOST}:{port}"},
            )
            instance.port = port
            instance.start()
            started.append(instance.kill)
            servers.append(instance)

        http_port, https_port = free_port(), free_port()
        nginx_dir = root / "nginx"
        (nginx_dir / "temp").mkdir(parents=True)
        brotli = brotli_module_available()
        dist_dir = DIST_DIR
        if os.geteuid() == 0 and not readable_by_everyone(DIST_DIR):
            # nginx's workers run as nobody; a checkout under /root is closed to them.
            dist_dir = root / "dist"
            shutil.copytree(DIST_DIR, dist_dir)
            for path in [dist_dir, *dist_dir.iterdir()]:
                path.chmod(0o755 if path.is_dir() else 0o644)
        for name in ("upstream.conf", "bastion.conf"):
            (nginx_dir / name).write_text(
                render_nginx_conf(
                    name,
                    http_port=http_port,
                    https_port=https_port,
                    upstream_ports=[server.port for server in servers],
                    cert=cert,
                    key=key,
                    dist_dir=dist_dir,
                )
            )
        if brotli:
            shutil.copy(NGINX_CONF_DIR / "brotli.conf", nginx_dir / "brotli.conf")
        main_conf = nginx_dir / "nginx.conf"
        main_conf.write_text(
            nginx_main_conf(nginx_dir, brotli=brotli, workers=nginx_workers, access_log=access_log)
        )
        nginx_command = [NGINX_BIN, "-p", str(nginx_dir), "-c", str(main_conf)]
        run([*nginx_command, "-t", "-q"])
        nginx = Process("nginx", [*nginx_command, "-g", "daemon off;"], nginx_dir / "stdout.log")
        nginx.start()
        started.append(lambda: nginx.stop(timeout=5, signum=signal.SIGQUIT))

        stack = Stack(
            root=root,
            cert=cert,
            key=key,
            postgres=postgres,
            redis=redis,
            instances=servers,
            nginx=nginx,
            nginx_dir=nginx_dir,
            http_port=http_port,
            https_port=https_port,
            env=app_env,
            brotli=brotli,
        )
        for server in servers:
            stack.wait_ready(server)
        log(f"{instances} gunicorn instances ready ({time.monotonic() - started_at:.1f} s)")

        def through_nginx() -> bool:
            if not nginx.running:
                raise StackError(f"nginx exited:\n{tail(nginx_dir / 'error.log')}")
            return stack.client(source=HOST).get(f"{PREFIX}/healthz", timeout=2).status == 200

        wait_for(through_nginx, 15, f"nginx on ports {http_port}/{https_port}")
        log(f"nginx on https://{SERVER_NAME}:{https_port}{PREFIX}/ "
            f"({time.monotonic() - started_at:.1f} s)")  # fmt: skip
        return stack
    except BaseException:
        for stop in reversed(started):
            with contextlib.suppress(Exception):
                stop()
        if os.environ.get("BASTION_KEEP_STACK"):
            print(f"stack kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
        raise
