"""The MDN HTTP Observatory's score of every kind of page, through nginx and TLS.

Targets (see :mod:`audit.observatory`): A+ 135 on HTML pages that set no
cookie, 140 on those that do, 130 on everything that is not an HTML page
with scripts (the SRI credit needs one), and 80 on the health checks, whose
only allowed failure is the redirection test (they answer plain http).
Without node or the npm package this is a skip with the reason, a failure
under CI.
"""

from __future__ import annotations

import pytest

from audit import observatory
from audit.site import observatory_targets, prepare, run_observatory
from tests.deployment.stack import PREFIX, Stack
from tests.services import under_ci


@pytest.fixture(scope="module")
def scanner() -> None:
    reason = observatory.missing()
    if reason:
        if under_ci():
            pytest.fail(f"{reason} (CI=true: a missing scanner is a failure)")
        pytest.skip(reason)


def test_every_page_reaches_its_observatory_score(stack: Stack, scanner: None) -> None:
    site = prepare(stack)
    targets, scores = run_observatory(stack, site)
    print("\n" + observatory.report(targets, scores))
    assert observatory.shortfalls(targets, scores) == []
    assert len(scores) == len(observatory_targets(site)) + 1


def test_a_page_below_its_target_is_reported(stack: Stack, scanner: None) -> None:
    # The scanner's verdict is read, not assumed: a target above what a page
    # can reach is a shortfall.
    target = observatory.Target(f"{PREFIX}/about", observatory.PAGE_WITH_COOKIE, status=200)
    [score] = observatory.scan(
        [stack.url(target.path)], http_port=stack.http_port, cafile=stack.cert,
        sources=[stack.new_address()],
    )  # fmt: skip
    assert score.score == observatory.PAGE
    assert score.tests["cookies"]["result"] == "cookies-not-found"
    [problem] = observatory.shortfalls([target], [score])
    assert "A+ 135 (200), target 140" in problem
