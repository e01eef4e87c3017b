"""MDN HTTP Observatory scores of the deployment's pages, and the score each must reach.

The scanner is the npm package ``@mdn/mdn-http-observatory`` (version pinned
in ``audit/observatory/package-lock.json``), installed by :func:`install`
with ``npm ci --ignore-scripts`` (its postinstall would download the HSTS
preload list; we write ``conf/hsts-preload.json`` as ``{}`` instead, so no
host is ever "preloaded").  ``audit/observatory/scan-pages.mjs`` scores
pages with the package's own retriever, tests and grader (see that file for
why not its CLI); it runs under ``node`` with ``NODE_EXTRA_CA_CERTS`` set to
the stack's self-signed certificate, so the TLS connection is verified.

What each page can reach (algorithm version 4): 100, plus 10 for a CSP with
``default-src 'none'``, 10 for ``Cross-Origin-Resource-Policy``, 5 for a
private ``Referrer-Policy``, 5 for ``frame-ancestors``, 5 for SRI on every
script, and 5 when every cookie is Secure, HttpOnly and SameSite:

* an HTML page with scripts: **135**, **140** when it sets a cookie;
* anything else (CSS, JS, SVG, text, JSON, nginx's own HTML error pages that
  load no script): **130**, since the SRI credit is given to HTML pages
  that load scripts only;
* ``/healthz`` and ``/readyz``: **80** (B+): they answer over plain http for
  load balancers, and a missing redirect costs 20 points and the extra
  credit; every other test must still pass (see :data:`HEALTH`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess  # nosec B404
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OBSERVATORY_DIR = ROOT / "audit" / "observatory"
PACKAGE_DIR = OBSERVATORY_DIR / "node_modules" / "@mdn" / "mdn-http-observatory"
SCRIPT = OBSERVATORY_DIR / "scan-pages.mjs"
HSTS_PRELOAD = PACKAGE_DIR / "conf" / "hsts-preload.json"

#: Target scores (see the module's docstring).
PAGE = 135
PAGE_WITH_COOKIE = 140
NOT_A_PAGE = 130
HEALTH = 80
#: The one test a health check may fail (it answers over plain http on purpose).
HEALTH_MAY_FAIL = frozenset({"redirection"})


class ObservatoryError(RuntimeError):
    """The scanner could not be installed or run."""


@dataclass(frozen=True)
class Target:
    """A path to score and the score it must reach.

    :param path: the path on the site (with the prefix), query included.
    :param score: the least score that passes.
    :param may_fail: names of Observatory tests allowed to fail.
    :param status: the HTTP status the page must answer with (``None``: any).
    """

    path: str
    score: int
    may_fail: frozenset[str] = frozenset()
    status: int | None = None


@dataclass
class Score:
    """One page's result, as ``scan-pages.mjs`` printed it."""

    url: str
    status: int | None = None
    grade: str | None = None
    score: int | None = None
    tests: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: str | None = None

    def failed_tests(self) -> list[str]:
        """Names of the Observatory tests this page failed."""
        return sorted(name for name, test in self.tests.items() if not test.get("pass"))

    def summary(self) -> str:
        """``A+ 135 (200)`` or the error."""
        if self.error:
            return f"error: {self.error}"
        return f"{self.grade} {self.score} ({self.status})"


def missing() -> str | None:
    """Why the scanner can't run here (``None``: it can)."""
    if shutil.which("node") is None:
        return "node is not installed (apt-get install nodejs; Node 20 or later)"
    if not (PACKAGE_DIR / "package.json").is_file():
        return f"the Observatory is not installed in {OBSERVATORY_DIR} (make observatory)"
    return None


def install() -> None:
    """``npm ci --ignore-scripts`` in ``audit/observatory/`` and an empty HSTS preload list.

    :raises ObservatoryError: when npm is missing or fails.
    """
    npm = shutil.which("npm")
    if npm is None:
        raise ObservatoryError("npm is not installed (apt-get install npm)")
    # fixed arguments
    result = subprocess.run(  # noqa: S603  # nosec B603
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
        cwd=OBSERVATORY_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise ObservatoryError(f"npm ci failed:\n{result.stdout}{result.stderr}")
    ensure_hsts_list()


def ensure_hsts_list() -> None:
    """Write ``conf/hsts-preload.json`` as ``{}`` when the package has none."""
    if PACKAGE_DIR.is_dir() and not HSTS_PRELOAD.is_file():
        HSTS_PRELOAD.parent.mkdir(parents=True, exist_ok=True)
        HSTS_PRELOAD.write_text("{}\n")


def scan(
    urls: Sequence[str],
    *,
    http_port: int,
    cafile: Path,
    sources: Sequence[str | None] | None = None,
    timeout: float = 120.0,
) -> list[Score]:
    """Score each of ``urls`` (``https://localhost:PORT/path``), in order.

    :param http_port: the site's plain-http port (for the redirection test).
    :param cafile: the certificate to trust (``NODE_EXTRA_CA_CERTS``).
    :param sources: for each URL, the loopback address to connect from
        (a client of its own for the rate limiter), or ``None``.
    :raises ObservatoryError: when the scanner is missing or prints no result.
    """
    reason = missing()
    if reason:
        raise ObservatoryError(reason)
    ensure_hsts_list()
    node = shutil.which("node") or "node"
    env = {**os.environ, "NODE_EXTRA_CA_CERTS": str(cafile)}
    arguments: list[str] = []
    for url, source in zip(urls, sources or [None] * len(urls), strict=True):
        if source:
            arguments += ["--source", source]
        arguments.append(url)
    # our script, our loopback stack
    result = subprocess.run(  # noqa: S603  # nosec B603
        [node, str(SCRIPT), "--http-port", str(http_port), *arguments],
        cwd=OBSERVATORY_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    scores = []
    for line in result.stdout.splitlines():
        if line.startswith("{"):
            data = json.loads(line)
            scores.append(
                Score(
                    url=data["url"],
                    status=data.get("status"),
                    grade=data.get("grade"),
                    score=data.get("score"),
                    tests=data.get("tests", {}),
                    error=data.get("error"),
                )
            )
    if len(scores) != len(urls):
        raise ObservatoryError(
            f"scan-pages.mjs exited {result.returncode} with {len(scores)} of {len(urls)} "
            f"results:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )
    return scores


def shortfalls(targets: Iterable[Target], scores: Iterable[Score]) -> list[str]:
    """One line for each page below its target (empty: every page reached it)."""
    problems = []
    for target, score in zip(targets, scores, strict=True):
        if score.error:
            problems.append(f"{target.path}: {score.error}")
            continue
        unexpected = [name for name in score.failed_tests() if name not in target.may_fail]
        if (score.score or 0) < target.score or unexpected:
            below = {
                name: test["result"]
                for name, test in score.tests.items()
                if not test.get("pass") or test.get("modifier", 0) < 0
            }
            problems.append(
                f"{target.path}: {score.summary()}, target {target.score}; failed {below}"
            )
        if target.status is not None and score.status != target.status:
            problems.append(f"{target.path}: answered {score.status}, expected {target.status}")
    return problems


def report(targets: Iterable[Target], scores: Iterable[Score]) -> str:
    """A table: path, status, grade and score, target."""
    lines = [f"{'page':58} {'status':>6}  {'score':9} target"]
    for target, score in zip(targets, scores, strict=True):
        shown = score.error or f"{score.grade} {score.score}"
        mark = "" if not shortfalls([target], [score]) else "  << BELOW"
        lines.append(f"{target.path:58} {score.status or '-':>6}  {shown:9} {target.score}{mark}")
    return "\n".join(lines)
