"""Reach the real PostgreSQL and Redis, or skip (fail under CI) with a reason."""

from __future__ import annotations

import contextlib
import os
import socket
from urllib.parse import urlsplit

import pytest

POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
#: Every Redis key a test makes starts with this; conftest removes them after the run.
#: It names the pytest-xdist worker, so one worker's clean-up never removes the
#: keys of a test another worker is still running.
TEST_KEY_PREFIX = f"bastion-test-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-"


def under_ci() -> bool:
    """True when the suite runs under CI (``CI=true``): a missing service is a failure."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def port_open(url: str, timeout: float = 0.5) -> bool:
    """True if something accepts TCP connections at the host and port of ``url``."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port), timeout):
            return True
    except OSError:
        return False


def require_service(name: str, url: str) -> None:
    """Skip the test (or fail it under CI) when the service at ``url`` is unreachable."""
    if port_open(url):
        return
    parts = urlsplit(url)
    reason = f"{name} is not reachable at {parts.hostname}:{parts.port}"
    if under_ci():
        pytest.fail(f"{reason} (CI=true: a missing service is a failure)")
    pytest.skip(f"{reason}; start it to run this test")


class TCPProxy:
    """A loopback TCP forwarder to a real service, which a test can cut.

    Lets a test make Redis "fail mid-flight" without touching the shared
    server: traffic goes through this proxy until :meth:`stop` closes every
    connection and the listening socket (new connections are then refused).
    """

    def __init__(self, target_host: str, target_port: int, port: int = 0) -> None:
        import threading

        self.target = (target_host, target_port)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))  # port: reopen a stopped proxy's port
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        import threading

        while self.running:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target, timeout=2)
            with self.lock:
                self.sockets += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        """Close the listener and every forwarded connection."""
        self.running = False
        # shutdown() wakes the thread blocked in accept(); close() alone would not.
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        with self.lock:
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self.sockets.clear()
