"""Lighthouse scores of the deployment's pages, as a person on a phone meets them.

The scanner is the npm package ``lighthouse`` (version pinned in
``audit/lighthouse/package-lock.json``, installed by ``make lighthouse`` with
``npm ci --ignore-scripts``), run by its own CLI under ``node`` against
Debian's Chromium (``CHROME_PATH``, default ``/usr/bin/chromium``) with its
defaults: the **mobile** form factor and **simulated** throttling (a slow 4G
network and a 4x slower CPU, Lighthouse's "mobile preset").  Each page gets a
fresh browser profile, so every run is a first visit.

:func:`read_report` turns one JSON report into a :class:`PageResult`: the
four category scores as Lighthouse shows them (0-100, ``Math.round`` of the
fraction) and every failing audit with what a developer needs to act: its
id, title, display value and the offending items (selectors and HTML
snippets of elements, URLs and wasted bytes of files, link texts).

The target (:data:`TARGET`) is 100 in every category of :data:`CATEGORIES`.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess  # nosec B404
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LIGHTHOUSE_DIR = ROOT / "audit" / "lighthouse"
CLI = LIGHTHOUSE_DIR / "node_modules" / "lighthouse" / "cli" / "index.js"
#: Where ``make audit`` keeps the JSON reports (git-ignored; CI keeps the folder).
REPORTS_DIR = ROOT / "audit-reports" / "lighthouse"

#: The categories scored, in the order printed.
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
#: The least score that passes, in every category (issue 11: "Lighthouse 100").
TARGET = 100
#: Chromium's flags: headless, as root in a container (no sandbox), no GPU, the
#: stack's self-signed certificate accepted, and no calls home.
CHROME_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--ignore-certificate-errors",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
#: Audit modes that carry a verdict (the others are informative, manual or not applicable).
SCORED_MODES = frozenset({"binary", "numeric", "metricSavings"})
#: Items listed per failing audit; the rest are counted.
MAX_ITEMS = 8
#: Runs of a page whose first performance score is below target; the median
#: counts. Performance varies from run to run (CPU load, timers) and
#: Lighthouse's docs advise the median of several runs; the other categories don't vary.
RUNS_TO_CONFIRM = 3


class LighthouseError(RuntimeError):
    """Lighthouse could not run, or wrote no report."""


def chrome_path() -> Path:
    """The Chromium Lighthouse drives: ``$CHROME_PATH`` or Debian's ``/usr/bin/chromium``."""
    return Path(os.environ.get("CHROME_PATH") or "/usr/bin/chromium")


def missing() -> str | None:
    """Why Lighthouse can't run here, with how to fix it (``None``: it can)."""
    if shutil.which("node") is None:
        return "node is not installed (apt-get install nodejs npm; Node 18.20 or later)"
    if not CLI.is_file():
        how = "make lighthouse" if shutil.which("npm") else "apt-get install npm; make lighthouse"
        return f"Lighthouse is not installed in {LIGHTHOUSE_DIR} ({how})"
    if not chrome_path().is_file():
        return f"Chromium is not installed at {chrome_path()} (apt-get install chromium)"
    return None


#: ``runtimeError`` codes of a run that failed to record the page, not of a page that
#: failed: Lighthouse itself says "Please run Lighthouse again" for these.
TRANSIENT_ERRORS = frozenset({"NO_NAVSTART", "NO_TRACING_STARTED", "NO_SCREENSHOTS", "NO_DCL"})
#: Runs of one page at most while they end in a :data:`TRANSIENT_ERRORS` error.
ATTEMPTS = 3


def transient_error(report: Mapping[str, Any]) -> bool:
    """Whether ``report`` ended in an error of Lighthouse's recording (:data:`TRANSIENT_ERRORS`)."""
    return (report.get("runtimeError") or {}).get("code") in TRANSIENT_ERRORS


def run(url: str, output: Path, *, timeout: float = 180.0) -> dict[str, Any]:
    """Score ``url`` with the Lighthouse CLI; write the JSON report to ``output`` and return it.

    A run that failed to record the page (:func:`transient_error`, e.g.
    ``NO_NAVSTART`` on a busy machine) is made again, :data:`ATTEMPTS` runs at
    most; the last report counts.

    :param url: the page (``https://localhost:PORT/...``; the certificate is not checked).
    :param output: the report's path (its folder is created).
    :param timeout: seconds before each run is abandoned.
    :raises LighthouseError: when Lighthouse is missing, times out or writes no report.
    """
    report = run_once(url, output, timeout=timeout)
    for _ in range(ATTEMPTS - 1):
        if not transient_error(report):
            break
        report = run_once(url, output, timeout=timeout)
    return report


def run_once(url: str, output: Path, *, timeout: float = 180.0) -> dict[str, Any]:
    """One Lighthouse run of ``url`` (see :func:`run`), its report written to ``output``.

    :raises LighthouseError: when Lighthouse is missing, times out or writes no report.
    """
    reason = missing()
    if reason:
        raise LighthouseError(reason)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.unlink(missing_ok=True)
    node = shutil.which("node") or "node"
    command = [
        node, str(CLI), url, "--output=json", f"--output-path={output}", "--quiet",
        f"--only-categories={','.join(CATEGORIES)}", f"--chrome-flags={' '.join(CHROME_FLAGS)}",
    ]  # fmt: skip
    env = {**os.environ, "CHROME_PATH": str(chrome_path())}
    try:
        # fixed arguments; the URL is the loopback stack's
        result = subprocess.run(  # noqa: S603  # nosec B603
            command, cwd=LIGHTHOUSE_DIR, env=env, capture_output=True, text=True,
            timeout=timeout, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise LighthouseError(f"Lighthouse took more than {timeout:.0f} s on {url}") from None
    if not output.is_file():
        raise LighthouseError(
            f"Lighthouse exited {result.returncode} without a report for {url}:\n"
            f"{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )
    report: dict[str, Any] = json.loads(output.read_text())
    return report


def performance(report: Mapping[str, Any]) -> int | None:
    """The performance score of a report as shown (``None``: the run could not score it)."""
    return shown_score(report.get("categories", {}).get("performance", {}).get("score"))


def median_run(reports: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The report with the median performance score (the lower middle one).

    Runs that could not score performance (a load error, no paint) are left
    out; when every run is such, the first is returned.

    :raises ValueError: when ``reports`` is empty.
    """
    if not reports:
        raise ValueError("no Lighthouse report to choose from")
    scored = [report for report in reports if performance(report) is not None]
    if not scored:
        return reports[0]
    ranked = sorted(scored, key=lambda report: performance(report) or 0)
    return ranked[(len(ranked) - 1) // 2]


def score(name: str, url: str, output: Path, *, runs: int = RUNS_TO_CONFIRM) -> PageResult:
    """Lighthouse's result for ``url``, confirmed by ``runs`` runs when performance is below target.

    When the first run loaded the page but scored performance below
    :data:`TARGET`, ``runs - 1`` more runs are made (their reports kept
    beside ``output`` as ``<name>.run2.json``, ...), and the run with the
    median performance counts: its report is copied to ``output`` and every
    run's performance score is kept in :attr:`PageResult.runs`.

    :raises LighthouseError: as :func:`run`.
    """
    reports = [run(url, output)]
    confirm = not reports[0].get("runtimeError")  # a page that did not load stays unloaded
    while confirm and len(reports) < runs and (performance(reports[0]) or 0) < TARGET:
        reports.append(run(url, output.with_name(f"{output.stem}.run{len(reports) + 1}.json")))
    chosen = median_run(reports)
    if chosen is not reports[0]:
        output.write_text(json.dumps(chosen))
    result = read_report(name, chosen)
    if len(reports) > 1:
        result.runs = [performance(report) for report in reports]
    return result


@dataclass
class FailingAudit:
    """An audit of a category that did not pass.

    :param id: Lighthouse's audit id (``color-contrast``).
    :param title: its title as the report shows it.
    :param category: the category that lists it.
    :param weight: its weight in that category (0: advice that moves no score).
    :param score: its score, 0.0-1.0.
    :param display_value: the value shown beside it ("Est savings of 21 KiB").
    :param items: the offending elements, files or links, one line each.
    """

    id: str
    title: str
    category: str
    weight: float
    score: float
    display_value: str = ""
    items: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """``[category, weight W] id (score S): title -- value`` and the items below it."""
        value = f" -- {self.display_value}" if self.display_value else ""
        head = f"[{self.category}, weight {self.weight:g}] {self.id} ({self.score:.2f}): "
        return "\n".join([head + self.title + value, *(f"    {item}" for item in self.items)])


@dataclass
class PageResult:
    """One page's Lighthouse result.

    :param name: the page's name in the table ("home").
    :param url: the URL Lighthouse loaded.
    :param scores: category -> 0-100 (``None`` when Lighthouse could not score it).
    :param failing: the audits that did not pass, those that weigh on the score first.
    :param error: Lighthouse's runtime error (the page could not be scored), if any.
    :param runs: the performance score of each run, when there were several
        (see :func:`score`; ``None``: the run could not score it); the result
        is the median run's.
    :param warnings: Lighthouse's run warnings (a CPU too slow for its
        throttling makes the performance score unreliable, for instance).
    """

    name: str
    url: str
    scores: dict[str, int | None]
    failing: list[FailingAudit] = field(default_factory=list)
    error: str | None = None
    runs: list[int | None] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def shown_score(fraction: float | None) -> int | None:
    """A category's score as Lighthouse shows it: ``Math.round(fraction * 100)``."""
    if fraction is None:
        return None
    return math.floor(fraction * 100 + 0.5)


def read_report(name: str, report: Mapping[str, Any]) -> PageResult:
    """The scores and failing audits of one Lighthouse JSON report (Lighthouse 12's shape).

    An audit fails when its mode carries a verdict (:data:`SCORED_MODES`) and
    its score is below 1; an audit in several categories is listed once, under
    the first.  A category missing from the report scores ``None``.
    """
    categories = report.get("categories", {})
    audits = report.get("audits", {})
    scores = {cid: shown_score(categories.get(cid, {}).get("score")) for cid in CATEGORIES}
    failing: list[FailingAudit] = []
    seen: set[str] = set()
    for cid in CATEGORIES:
        for ref in categories.get(cid, {}).get("auditRefs", []):
            audit = audits.get(ref["id"], {})
            score = audit.get("score")
            if ref["id"] in seen or audit.get("scoreDisplayMode") not in SCORED_MODES:
                continue
            if score is None or score >= 1:
                continue
            seen.add(ref["id"])
            failing.append(
                FailingAudit(
                    id=ref["id"],
                    title=audit.get("title", ""),
                    category=cid,
                    weight=ref.get("weight", 0),
                    score=score,
                    display_value=audit.get("displayValue", "").replace("\xa0", " "),
                    items=audit_items(audit.get("details") or {}),
                )
            )
    failing.sort(key=lambda audit: audit.weight == 0)  # stable: report order within each
    error = report.get("runtimeError", {}).get("message") if report.get("runtimeError") else None
    warnings = [" ".join(str(warning).split()) for warning in report.get("runWarnings", [])]
    url = report.get("finalDisplayedUrl", "")
    return PageResult(name, url, scores, failing, error, warnings=warnings)


def audit_items(details: Mapping[str, Any], limit: int = MAX_ITEMS) -> list[str]:
    """One line per offending item of an audit's ``details`` table (at most ``limit``)."""
    items = details.get("items") or []
    if details.get("type") not in {"table", "opportunity"}:
        return []
    lines = [describe_item(item) for item in items[:limit]]
    if len(items) > limit:
        lines.append(f"... and {len(items) - limit} more")
    return [line for line in lines if line]


def describe_item(item: Mapping[str, Any]) -> str:
    """An item of an audit's table as one line: element, file, link and figures.

    Elements show their CSS selector, HTML snippet and the first line of
    axe's explanation (the measured contrast, for instance); files their URL
    and wasted/total bytes and milliseconds; links their text and target.
    """
    parts: list[str] = []
    node = item.get("node")
    if isinstance(node, Mapping):
        parts.append(f"{node.get('selector', '?')} {node.get('snippet', '')}".strip())
        explanation = str(node.get("explanation") or "").splitlines()
        reasons = [line.strip() for line in explanation[1:] if line.strip()] or explanation
        if reasons:
            parts.append(reasons[0])
    if item.get("text") is not None and item.get("href"):
        parts.append(f"link text {item['text']!r} -> {item['href']}")
    elif item.get("url"):
        parts.append(str(item["url"]))
    source = item.get("source")
    if isinstance(source, Mapping) and source.get("url"):
        parts.append(f"{source['url']}:{source.get('line', 0) + 1}")
    for key, unit in (("wastedBytes", "B wasted"), ("totalBytes", "B total"),
                      ("wastedMs", "ms wasted")):  # fmt: skip
        if isinstance(item.get(key), int | float) and item[key]:
            parts.append(f"{round(item[key]):,} {unit}")
    if not parts:
        for key in ("description", "label", "value"):
            if isinstance(item.get(key), str):
                parts.append(item[key])
                break
    return "; ".join(parts)


def shortfalls(pages: Iterable[PageResult], target: int = TARGET) -> list[str]:
    """One line for each page and category below ``target`` (empty: every page reached it)."""
    problems = []
    for page in pages:
        if page.error:
            problems.append(f"{page.name}: Lighthouse could not score it: {page.error}")
        for cid in CATEGORIES:
            score = page.scores.get(cid)
            if score is None or score < target:
                problems.append(f"{page.name} {cid}: {'-' if score is None else score} < {target}")
    return problems


def table(pages: Sequence[PageResult], target: int = TARGET) -> str:
    """The four scores of each page, a column per category, ``<<`` beside a page below target."""
    lines = [f"{'page':12} " + " ".join(f"{cid:>13}" for cid in CATEGORIES) + f"   target {target}"]
    for page in pages:
        cells = [page.scores.get(cid) for cid in CATEGORIES]
        mark = "   << BELOW" if shortfalls([page], target) else ""
        shown = " ".join(f"{'-' if cell is None else cell:>13}" for cell in cells)
        shown_runs = ", ".join("-" if run is None else str(run) for run in page.runs)
        runs = f"   performance of {len(page.runs)} runs: {shown_runs}" if page.runs else ""
        lines.append(f"{page.name:12} {shown}{mark}{runs}")
    return "\n".join(lines)


def failing_report(pages: Iterable[PageResult]) -> str:
    """Every page's failing audits, described (see :meth:`FailingAudit.describe`)."""
    blocks = []
    for page in pages:
        if page.error:
            blocks.append(f"{page.name} ({page.url}): error: {page.error}")
        blocks += [f"{page.name}: Lighthouse warns: {warning}" for warning in page.warnings]
        if page.failing:
            described = "\n".join(f"  {audit.describe()}" for audit in page.failing)
            blocks.append(f"{page.name} ({page.url}):\n{described}")
    return "\n".join(blocks) or "no failing audits"
