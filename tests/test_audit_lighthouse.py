"""How `make audit` reads Lighthouse's reports and judges them (audit/lighthouse.py).

The fixture is a real Lighthouse 12.8.2 report of the deployment's home page
(mobile preset, through nginx), cut down to fourteen audits: scores 100 /
94 / 100 / 90, a colour-contrast failure on the footer links and the
outline button, "Learn more" link text, 21 KiB of unused CSS.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from audit import lighthouse

FIXTURE = Path(__file__).parent / "fixtures" / "lighthouse-home.json"


@pytest.fixture
def report() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text())


def with_scores(report: dict[str, Any], **fractions: float | None) -> dict[str, Any]:
    changed = copy.deepcopy(report)
    for name, fraction in fractions.items():
        changed["categories"][name.replace("_", "-")]["score"] = fraction
    return changed


def test_the_four_scores_are_read_as_lighthouse_shows_them(report):
    page = lighthouse.read_report("home", report)
    assert page.scores == {
        "performance": 100, "accessibility": 94, "best-practices": 100, "seo": 90,
    }  # fmt: skip
    assert page.url.endswith("/some-service/v1/")
    assert page.error is None


def test_scores_round_as_lighthouse_rounds():
    # Math.round, not Python's round-half-to-even: 12.5 shows as 13.
    assert lighthouse.shown_score(0.125) == 13
    assert lighthouse.shown_score(0.995) == 100
    assert lighthouse.shown_score(0.994) == 99
    assert lighthouse.shown_score(None) is None


def test_failing_audits_are_those_with_a_verdict_below_one_weighted_first(report):
    page = lighthouse.read_report("home", report)
    listed = [(audit.id, audit.category, audit.weight) for audit in page.failing]
    assert listed == [
        ("first-contentful-paint", "performance", 10),
        ("color-contrast", "accessibility", 7),
        ("link-text", "seo", 1),
        ("network-dependency-tree-insight", "performance", 0),
        ("render-blocking-resources", "performance", 0),
        ("unused-css-rules", "performance", 0),
    ]
    # Passing, informative (csp-xss) and not applicable (image-alt, robots-txt) audits are not.
    ids = {audit.id for audit in page.failing}
    assert ids.isdisjoint({"uses-text-compression", "csp-xss", "image-alt", "robots-txt",
                           "meta-description", "is-on-https"})  # fmt: skip


def test_a_failing_audit_names_what_to_fix(report):
    failing = {audit.id: audit for audit in lighthouse.read_report("home", report).failing}
    contrast = failing["color-contrast"].describe()
    assert "footer.border-top > div.container > nav > a.link-secondary" in contrast
    assert '<a class="link-secondary me-3" href="/some-service/v1/privacy">' in contrast
    assert "insufficient color contrast of 4.44 (foreground color: #6c757d" in contrast
    assert 'a.btn <a class="btn btn-outline-secondary btn-lg"' in contrast
    [link] = failing["link-text"].items
    assert link == "link text 'Learn more' -> https://localhost:39775/some-service/v1/about"
    unused = failing["unused-css-rules"].describe()
    assert "unused-css-rules (0.50): Reduce unused CSS -- Est savings of 21 KiB" in unused
    assert "vendor-41098c7a.min.css; 21,513 B wasted; 22,748 B total" in unused
    assert failing["first-contentful-paint"].display_value == "1.4 s"


def test_many_offending_items_are_cut_and_counted():
    items = [{"url": f"https://localhost/{n}.js", "wastedBytes": 1000 + n} for n in range(11)]
    lines = lighthouse.audit_items({"type": "table", "items": items}, limit=8)
    assert lines[0] == "https://localhost/0.js; 1,000 B wasted"
    assert lines[-1] == "... and 3 more"
    assert len(lines) == 9
    assert lighthouse.audit_items({"type": "list", "items": items}) == []


def test_every_category_below_target_is_a_shortfall(report):
    page = lighthouse.read_report("home", report)
    assert lighthouse.shortfalls([page]) == [
        "home accessibility: 94 < 100",
        "home seo: 90 < 100",
    ]
    assert lighthouse.shortfalls([page], target=90) == []
    perfect = lighthouse.read_report(
        "home", with_scores(report, accessibility=1, seo=1, performance=0.995)
    )
    assert lighthouse.shortfalls([perfect]) == []
    below = lighthouse.read_report("home", with_scores(report, accessibility=1, seo=1,
                                                        performance=0.994))  # fmt: skip
    assert lighthouse.shortfalls([below]) == ["home performance: 99 < 100"]


def test_a_page_lighthouse_could_not_load_fails_every_category():
    # The shape Lighthouse 12 writes for a 404 (exit status 1, report still written).
    report = {
        "finalDisplayedUrl": "https://localhost:8443/some-service/v1/missing",
        "runtimeError": {
            "code": "ERRORED_DOCUMENT_REQUEST",
            "message": "Lighthouse was unable to reliably load the page you requested. "
            "(Status code: 404)",
        },
        "categories": {
            cid: {"id": cid, "score": None, "auditRefs": []} for cid in lighthouse.CATEGORIES
        },
        "audits": {},
    }
    page = lighthouse.read_report("missing", report)
    assert page.scores == dict.fromkeys(lighthouse.CATEGORIES)
    problems = lighthouse.shortfalls([page])
    assert "(Status code: 404)" in problems[0]
    assert problems[1:] == [f"missing {cid}: - < 100" for cid in lighthouse.CATEGORIES]
    assert "error: Lighthouse was unable" in lighthouse.failing_report([page])


def test_the_table_shows_each_score_and_marks_a_page_below_target(report):
    below = lighthouse.read_report("home", report)
    perfect = lighthouse.read_report("sign-in", with_scores(report, accessibility=1, seo=1))
    perfect.failing = []
    perfect.runs = [99, None, 100]
    lines = lighthouse.table([below, perfect]).splitlines()
    assert lines[0].split() == ["page", *lighthouse.CATEGORIES, "target", "100"]
    assert lines[1].split() == ["home", "100", "94", "100", "90", "<<", "BELOW"]
    assert lines[2].split()[:5] == ["sign-in", "100", "100", "100", "100"]
    assert lines[2].endswith("performance of 3 runs: 99, -, 100")
    assert "sign-in" not in lighthouse.failing_report([below, perfect])
    assert lighthouse.failing_report([perfect]) == "no failing audits"


def test_the_median_run_counts(report):
    runs = [with_scores(report, performance=score) for score in (0.97, 1.0, 0.99)]
    assert lighthouse.median_run(runs) is runs[2]
    assert lighthouse.median_run(runs[:1]) is runs[0]
    with pytest.raises(ValueError, match="no Lighthouse report"):
        lighthouse.median_run([])


def test_a_run_that_could_not_score_performance_is_not_a_zero(report):
    # A confirmation run that found no paint scores null: it must not pull the median down.
    runs = [with_scores(report, performance=score) for score in (0.99, None, 1.0)]
    assert lighthouse.median_run(runs) is runs[0]
    unscored = [with_scores(report, performance=None) for _ in range(2)]
    assert lighthouse.median_run(unscored) is unscored[0]


def test_lighthouse_warnings_are_shown_with_the_page(report):
    # A busy machine: Lighthouse says its performance score is not to be trusted.
    report["runWarnings"] = [
        "The tested device appears to have a slower CPU than  Lighthouse expects. This can "
        "negatively affect your performance score."
    ]
    page = lighthouse.read_report("sign-in", report)
    assert "sign-in: Lighthouse warns: The tested device appears to have a slower CPU than " \
           "Lighthouse expects." in lighthouse.failing_report([page])  # fmt: skip


def test_missing_chromium_is_named_with_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setenv("CHROME_PATH", str(tmp_path / "no-chromium"))
    assert lighthouse.chrome_path() == tmp_path / "no-chromium"
    reason = lighthouse.missing()
    if shutil.which("node") and lighthouse.CLI.is_file():
        assert reason == f"Chromium is not installed at {tmp_path / 'no-chromium'} " \
                         "(apt-get install chromium)"  # fmt: skip
    else:
        assert reason is not None
        assert "nodejs" in reason or "make lighthouse" in reason
    with pytest.raises(lighthouse.LighthouseError, match="not installed"):
        lighthouse.run("https://localhost:1/", tmp_path / "report.json")


def test_without_chromium_the_audit_skips_lighthouse_but_ci_fails(monkeypatch, tmp_path):
    from audit import run

    monkeypatch.setenv("CHROME_PATH", str(tmp_path / "no-chromium"))
    monkeypatch.setenv("CI", "")
    skipped = run.lighthouse_result(stack=None, site=None)  # type: ignore[arg-type]
    assert skipped.ok
    assert skipped.summary.startswith("skipped: ")
    monkeypatch.setenv("CI", "true")
    failed = run.lighthouse_result(stack=None, site=None)  # type: ignore[arg-type]
    assert not failed.ok
    assert failed.summary.startswith("missing under CI: a failure: ")


def test_only_errors_of_the_recording_are_run_again():
    assert lighthouse.transient_error({"runtimeError": {"code": "NO_NAVSTART", "message": "x"}})
    assert not lighthouse.transient_error({"runtimeError": {"code": "FAILED_DOCUMENT_REQUEST"}})
    assert not lighthouse.transient_error({"categories": {}})
