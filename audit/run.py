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
   crawling and attacking the site: nothing above "low";
4. Lighthouse 12 (mobile preset, Debian's Chromium) on the home page, the
   story list, a story and the sign-in form: 100 in performance,
   accessibility, best practices and SEO (``audit/lighthouse.py``); the JSON
   reports go to ``audit-reports/lighthouse/``;
5. the page weight of a first visit of the home page (HTML + CSS + JS,
   brotli): at most 40,000 bytes (``audit/page_weight.py``), saved to
   ``audit-reports/page-weight.json``.

It prints each score and verdict with its time and exits 1 when any target
is missed, 2 when a scanner is missing (``make audit-tools observatory``;
``apt-get install sqlmap wapiti``).  Without Chromium or Lighthouse's npm
package, Lighthouse is skipped with the reason printed -- a failure under
CI (``CI=true``).  Every process it started is stopped by PID at the end.

Usage: ``.venv/bin/python audit/run.py [--skip-slow] [--only PART ...]``,
PART one of semgrep, observatory, lighthouse, weight, scanners (sqlmap and
wapiti); ``--skip-slow`` leaves out the scanners.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from audit import lighthouse, observatory, page_weight, scanners  # noqa: E402 - after the path
from audit.site import (  # noqa: E402
    OLDER_CURSOR,
    Site,
    lighthouse_pages,
    prepare,
    run_observatory,
)
from tests.deployment.client import Client  # noqa: E402
from tests.deployment.processes import HOST  # noqa: E402
from tests.deployment.stack import PREFIX, Stack, start_stack  # noqa: E402
from tests.services import under_ci  # noqa: E402

#: The parts of the audit, in the order they run.
PARTS = ("semgrep", "observatory", "lighthouse", "weight", "scanners")
REPORTS = ROOT / "audit-reports"

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


def observatory_result(stack: Stack, site: Site) -> scanners.Result:
    """The Observatory on every page of :func:`audit.site.observatory_targets`; print the table."""
    targets, scores = timed("Observatory", lambda: run_observatory(stack, site))
    print("\nMDN HTTP Observatory\n" + observatory.report(targets, scores) + "\n")
    below = observatory.shortfalls(targets, scores)
    return scanners.Result(
        "observatory", not below, f"{len(scores)} pages, {len(below)} below", below
    )


def lighthouse_result(stack: Stack, site: Site) -> scanners.Result:
    """Lighthouse on :func:`audit.site.lighthouse_pages`; print the scores and failing audits.

    The JSON reports are written to ``audit-reports/lighthouse/<page>.json``
    (earlier ones removed first).  Without Chromium or the npm package the
    result is a skip (``ok``) with the reason, a failure under CI.
    """
    reason = lighthouse.missing()
    if reason:
        verdict = "missing under CI: a failure" if under_ci() else "skipped"
        return scanners.Result("lighthouse", not under_ci(), f"{verdict}: {reason}")
    for old in lighthouse.REPORTS_DIR.glob("*.json"):
        old.unlink()
    pages = []
    for name, path in lighthouse_pages(site):
        url, output = stack.url(path), lighthouse.REPORTS_DIR / f"{name}.json"
        try:
            page = timed(
                f"Lighthouse {name}", lambda n=name, u=url, o=output: lighthouse.score(n, u, o)
            )
        except lighthouse.LighthouseError as error:
            page = lighthouse.PageResult(name, url, {}, error=str(error))
        pages.append(page)
    print(f"\nLighthouse (mobile, simulated throttling; reports in {lighthouse.REPORTS_DIR})")
    print(lighthouse.table(pages) + "\n")
    print("Failing audits (weight 0: advice that moves no score)")
    print(lighthouse.failing_report(pages) + "\n")
    below = lighthouse.shortfalls(pages)
    summary = f"{len(pages)} pages, {len(below)} scores below {lighthouse.TARGET}"
    return scanners.Result("lighthouse", not below, summary, below)


def weight_result(stack: Stack) -> scanners.Result:
    """The first visit of the home page, bytes per file (saved to ``audit-reports/``)."""
    transfers = page_weight.first_visit(stack.client(), f"{PREFIX}/")
    print("\nFirst visit of the home page (encoded bodies, Accept-Encoding: br)")
    print(page_weight.table(transfers) + "\n")
    REPORTS.mkdir(exist_ok=True)
    saved = [dataclasses.asdict(transfer) for transfer in transfers]
    (REPORTS / "page-weight.json").write_text(json.dumps(saved, indent=1) + "\n")
    problems = page_weight.shortfalls(transfers)
    summary = f"{page_weight.total(transfers):,} bytes in {len(transfers)} files"
    return scanners.Result("page weight", not problems, summary, problems)


def main(argv: list[str] | None = None) -> int:
    """Run the audit (every part, or those chosen); 0 when every target is met."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-slow", action="store_true", help="leave out sqlmap and wapiti")
    parser.add_argument("--only", action="append", choices=PARTS, metavar="PART",
                        help=f"run only this part (repeatable): {', '.join(PARTS)}")  # fmt: skip
    args = parser.parse_args(argv)
    parts = set(args.only or PARTS) - ({"scanners"} if args.skip_slow else set())
    missing = [observatory.missing()] if "observatory" in parts else []
    missing += [m for m in scanners.missing_scanners()
                if ("semgrep" in m and "semgrep" in parts) or "scanners" in parts]  # fmt: skip
    if [m for m in missing if m]:
        print("missing: " + "; ".join(m for m in missing if m), file=sys.stderr)
        return 2
    started = time.monotonic()
    results: list[scanners.Result] = []
    if "semgrep" in parts:
        results.append(timed("semgrep", scanners.semgrep))

    if parts & {"observatory", "lighthouse", "weight"}:
        stack = timed("stack (production config)", lambda: start_stack())
        try:
            site = timed("site prepared", lambda: prepare(stack))
            if "observatory" in parts:
                results.append(observatory_result(stack, site))
            if "lighthouse" in parts:
                results.append(lighthouse_result(stack, site))
            if "weight" in parts:
                results.append(timed("page weight", lambda: weight_result(stack)))
        finally:
            stack.stop()

    if "scanners" in parts:
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
