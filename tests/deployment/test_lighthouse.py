"""Lighthouse on the home page through nginx with TLS, end to end (one run, about 15 s).

What the server owns must already be right whatever the templates do: the
page loads over HTTPS, text files are compressed, nothing is logged to the
console (a CSP violation would be), so best practices score 100.  And the
report is read as Lighthouse meant it: every category below 100 names at
least one failing audit that weighs on it.  The targets of ``make audit``
(100 everywhere) are not asserted here: the templates are judged there.
Without node, the npm package or Chromium this is a skip with the reason,
a failure under CI.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from audit import lighthouse
from tests.deployment.stack import PREFIX, Stack
from tests.services import under_ci

#: Audits of the server's part (TLS, HTTP/2, compression, caching, redirects, the
#: CSP's console errors), all of which must pass on Lighthouse 12.8.
SERVER_AUDITS = (
    "is-on-https",
    "uses-http2",
    "uses-text-compression",
    "document-latency-insight",
    "uses-long-cache-ttl",
    "cache-insight",
    "redirects",
    "errors-in-console",
    "inspector-issues",
)


@pytest.fixture(scope="session")
def chromium() -> None:
    """Skip (fail under CI) without node, the npm package or Chromium: before the stack starts."""
    reason = lighthouse.missing()
    if reason:
        if under_ci():
            pytest.fail(f"{reason} (CI=true: a missing scanner is a failure)")
        pytest.skip(reason)


def test_lighthouse_scores_the_home_page_through_nginx(
    chromium: None, stack: Stack, tmp_path: Path
) -> None:
    output = tmp_path / "home.json"
    report = lighthouse.run(stack.url(f"{PREFIX}/"), output)
    assert json.loads(output.read_text())["finalDisplayedUrl"] == stack.url(f"{PREFIX}/")
    assert report["configSettings"]["formFactor"] == "mobile"
    assert report["configSettings"]["throttlingMethod"] == "simulate"
    page = lighthouse.read_report("home", report)
    print("\n" + lighthouse.table([page]) + "\n" + lighthouse.failing_report([page]))
    assert page.error is None
    assert all(isinstance(page.scores[cid], int) for cid in lighthouse.CATEGORIES)

    audits = report["audits"]
    failed = {
        name: (audits[name]["score"], audits[name].get("displayValue"))
        for name in SERVER_AUDITS
        if audits[name]["score"] != 1
    }
    assert failed == {}
    assert page.scores["best-practices"] == 100

    for cid in lighthouse.CATEGORIES:
        if page.scores[cid] < lighthouse.TARGET:
            weighing = [a.id for a in page.failing if a.category == cid and a.weight > 0]
            assert weighing, f"{cid} is {page.scores[cid]} but no weighted audit failed"
