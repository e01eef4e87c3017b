"""``make audit``: Bastion seen as attackers see it, against a real deployment on loopback.

Starts the stack of ``tests/deployment/stack.py`` (nginx with TLS, two
gunicorn instances, PostgreSQL, Redis; production config) and runs:

1. semgrep with ``audit/semgrep.yml`` on the source: no finding;
2. the MDN HTTP Observatory on every kind of page (``audit/site.py``):
   A+ 135 on pages that set no cookie, 140 on those that do, 130 on files
   and other non-HTML answers, 80 on the health checks;
3. on a second stack whose rate limits are raised out of the way (the
   scanners would otherwise see only 429s and test nothing): sqlmap on the
   sign-in form (email, password; a fresh CSRF token per request) and on
   the story list's ``cursor``: nothing injectable; then wapiti, signed in,
   crawling and attacking the site: nothing above "low".

It prints each score and verdict with its time and exits 1 when any target
is missed, 2 when a scanner is missing (``make audit-tools observatory``;
``apt-get install sqlmap wapiti``).  Every process it started is stopped by
PID at the end.  Usage: ``.venv/bin/python audit/run.py [--skip-slow]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from audit import observatory, scanners  # noqa: E402 - after the path is set
from audit.site import OLDER_CURSOR, prepare, run_observatory  # noqa: E402
from tests.deployment.client import Client  # noqa: E402
from tests.deployment.processes import HOST  # noqa: E402
from tests.deployment.stack import PREFIX, Stack, start_stack  # noqa: E402

T = TypeVar("T")
#: Limits of the scanners' stack: counted in Redis as in production, never reached.
OUT_OF_THE_WAY = "1000000 per second"


def timed(label: str, step: Callable[[], T]) -> T:
    """Run ``step``, print how long it took."""
    started = time.monotonic()
    value = step()
    print(f"[{time.monotonic() - started:6.1f} s] {label}", flush=True)
    return value


def slow_scanners(stack: Stack, work: Path) -> list[scanners.Result]:
    """sqlmap on the sign-in form and the story list, then wapiti signed in."""
    site = prepare(stack)
    base = stack.url(PREFIX)
    results = [
        timed("sqlmap sign-in form", lambda: scanners.sqlmap(
            f"{base}/sign-in",
            data="email=someone%40example.com&password=guess-guess-1&csrf_token=x",
            params="email,password", csrf_url=f"{base}/sign-in", output_dir=work / "sqlmap",
        )),
        timed("sqlmap story list", lambda: scanners.sqlmap(
            f"{base}/stories/?cursor={OLDER_CURSOR}", params="cursor", level=3,
            output_dir=work / "sqlmap",
        )),
    ]  # fmt: skip
    # wapiti connects from 127.0.0.1 with USER_AGENT: the session must be made the same way.
    writer = Client(stack.https_port, source=HOST, cafile=stack.cert)
    writer.user_agent = scanners.USER_AGENT
    signed_in = writer.post_form(
        f"{PREFIX}/sign-in", {"email": site.email, "password": site.password}
    )
    if signed_in.status != 302 or writer.get(f"{PREFIX}/account").status != 200:
        raise RuntimeError(f"wapiti's session could not sign in ({signed_in.status})")
    cookies = scanners.wapiti_cookie_file(work / "cookies.json", writer.cookies, PREFIX)
    results.append(
        timed("wapiti signed in", lambda: scanners.wapiti(
            f"{base}/", output=work / "wapiti.json", cookie_file=cookies,
            exclude=[f"{base}/sign-out", f"{base}/account/*"],
        ))
    )  # fmt: skip
    return results


def main(argv: list[str] | None = None) -> int:
    """Run the audit; 0 when every target is met."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-slow", action="store_true", help="semgrep and Observatory only")
    args = parser.parse_args(argv)
    missing = [m for m in [observatory.missing()] if m]
    missing += [m for m in scanners.missing_scanners() if args.skip_slow is False or "semgrep" in m]
    if missing:
        print("missing: " + "; ".join(missing), file=sys.stderr)
        return 2
    started = time.monotonic()
    results: list[scanners.Result] = [timed("semgrep", scanners.semgrep)]

    stack = timed("stack (production config)", lambda: start_stack())
    try:
        site = timed("site prepared", lambda: prepare(stack))
        targets, scores = timed("Observatory", lambda: run_observatory(stack, site))
    finally:
        stack.stop()
    print("\nMDN HTTP Observatory\n" + observatory.report(targets, scores) + "\n")
    below = observatory.shortfalls(targets, scores)
    results.append(
        scanners.Result("observatory", not below, f"{len(scores)} pages, {len(below)} below", below)
    )

    if not args.skip_slow:
        limits = {name: OUT_OF_THE_WAY for name in
                  ("RATELIMIT_DEFAULT", "SIGNIN_RATE_LIMIT", "REGISTER_RATE_LIMIT")}  # fmt: skip
        stack = timed("stack (rate limits out of the way)", lambda: start_stack(env=limits))
        try:
            with tempfile.TemporaryDirectory(prefix="bastion-audit-") as work:
                results += slow_scanners(stack, Path(work))
        finally:
            stack.stop()

    print("\nVerdicts")
    for result in results:
        print(f"  {'ok  ' if result.ok else 'FAIL'} {result.name}: {result.summary}")
        for finding in result.findings:
            print(f"         {finding}")
    print(f"\naudit took {time.monotonic() - started:.0f} s")
    return 0 if all(result.ok for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
