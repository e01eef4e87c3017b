"""Production gunicorn settings for Bastion: ``gunicorn -c deploy/gunicorn.conf.py wsgi:app``.

gunicorn runs behind nginx (or another reverse proxy) on the same host.
Two settings come from the environment; the rest are fixed here on purpose.
Command-line flags still override this file (``bench/home_vs_bare.py`` does
that for ``--bind`` and ``--workers``).

``bind`` (``GUNICORN_BIND``, default ``127.0.0.1:8000``)
    Loopback only: nginx terminates TLS and is the only client.  Listening on
    ``0.0.0.0`` would let anyone skip the proxy (and its TLS, buffering and
    request limits) and talk to gunicorn directly.

``workers`` (``WEB_CONCURRENCY``, default ``2 * cores + 1``)
    gunicorn's own rule of thumb ("Design", "How Many Workers?"): one worker
    computes while another waits for the database or the network.
    ``WEB_CONCURRENCY`` is the name most platforms already set.

``worker_class = "sync"``
    Each worker serves one request at a time: no monkey-patching, and a slow
    view can't stall other requests in the same process.  It relies on nginx
    buffering slow clients (gunicorn docs, "Deploying Gunicorn"); without such
    a proxy, slow clients can tie up every sync worker.

``timeout = 30``
    A worker that has not answered for 30 s is killed and replaced, so a hung
    request (a dead database connection, say) frees its worker.  Keep it above
    the slowest real request and below nginx's ``proxy_read_timeout`` (60 s by
    default).

``graceful_timeout = 30``
    On restart/``SIGTERM`` workers get 30 s to finish the requests in
    flight before they are killed.

``keepalive = 5``
    Seconds an idle keep-alive connection is held.  The sync worker does not
    use keep-alive (it closes after each response); the value matters only if
    ``worker_class`` changes to a threaded/async one.  Keep it below the
    proxy's upstream idle timeout.

``preload_app = True``
    The master imports the app and runs ``create_app`` once, then forks the
    workers.  A refused start (no ``SECRET_KEY``, assets not built) is then
    one line and exit code 3 from the master, instead of every worker failing
    to boot; workers share the loaded code's memory (copy-on-write); and a
    replaced worker starts in milliseconds.  ``create_app`` opens no database
    or Redis connection, so no socket is shared across the fork.  Code changes
    need a restart (``kill -HUP`` re-forks but does not re-import).

``max_requests = 10000``, ``max_requests_jitter = 1000``
    Each worker is replaced after 10000 to 11000 requests, which limits the
    damage of a slow memory leak (ours or a library's).  The jitter
    keeps workers from restarting all at once.

``forwarded_allow_ips = ""``, ``secure_scheme_headers = {}``
    gunicorn itself never interprets ``X-Forwarded-*`` headers (by default it
    trusts ``X-Forwarded-Proto`` from 127.0.0.1).  The app decides, through
    its ``PROXY_FIX_*`` settings, which proxy headers to trust: one place,
    trusting nothing by default.

``control_socket_disable = not os.environ.get("GUNICORN_CONTROL_SOCKET")
if not control_socket_disable:
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]

accesslog = None``
    No gunicorn access log: the app writes one JSON line per request itself
    (``flask_bastion/request_log.py``), with a request id and secrets left
    out of the query string; a second, plain-text log would only double the
    I/O.

``control_socket_disable`` (unless ``GUNICORN_CONTROL_SOCKET`` is set)
    gunicorn 25+ opens a control socket for ``gunicornc`` at one fixed path
    per user (``~/.gunicorn/gunicorn.ctl``), so two instances on one host
    would share it and control each other.  Off by default; set
    ``GUNICORN_CONTROL_SOCKET=/run/bastion/app-8000.ctl`` (one path per
    instance) to use it.

``errorlog = "-"``
    gunicorn's own messages (worker boots, timeouts, crashes) go to stderr,
    where systemd/journald or the container runtime collects them.

``limit_request_line = 8190``, ``limit_request_fields = 100``,
``limit_request_field_size = 8190``
    Bounds on the request line, the number of headers and each header's
    size, written out so that they are visible and can't drift with
    gunicorn's defaults (which are 4094, 100 and 8190).  The request line
    is raised to 8190, gunicorn's maximum, to match nginx's
    ``large_client_header_buffers`` (4 x 8k): a URL nginx accepts is not
    refused by gunicorn.  An oversized request is refused with a 4xx before
    any of our Python code runs.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count() * 2 + 1)
worker_class = "sync"

timeout = 30
graceful_timeout = 30
keepalive = 5

preload_app = True

max_requests = 10000
max_requests_jitter = 1000

forwarded_allow_ips = ""
secure_scheme_headers: dict[str, str] = {}

control_socket_disable = not os.environ.get("GUNICORN_CONTROL_SOCKET")
if not control_socket_disable:
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]

accesslog = None
errorlog = "-"

limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
