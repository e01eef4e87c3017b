"""semgrep with Bastion's local rules (``audit/semgrep.yml``): each rule catches its
mistake, and the product code (app/, flask_bastion/, wsgi.py) has none.

semgrep lives in ``.venv-audit`` (``make audit-tools``); without it this is
a skip with the reason, a failure under CI.
"""

from __future__ import annotations

import textwrap

import pytest

from audit import scanners
from tests.services import under_ci

pytestmark = pytest.mark.scanner

MISTAKES = """
import requests
from flask import Flask, redirect, render_template_string, request, url_for
from markupsafe import Markup
from sqlalchemy import text

app = Flask(__name__)


@app.get("/greet")
def greet():
    return Markup("<b>%s</b>" % request.args.get("name", ""))


@app.get("/go")
def go():
    return redirect(request.args["next"])


@app.get("/hello")
def hello():
    return render_template_string("Hello " + request.args.get("n", ""))


def fetch(session, user):
    requests.get("https://example.com", verify=False)
    session.execute(text(f"SELECT * FROM users WHERE name = '{user}'"))


@app.get("/fine")
def fine():
    target = url_for("fine", next=request.args.get("next"))
    return render_template_string("{{ 1 }}"), redirect(target)
"""


@pytest.fixture(scope="module")
def scan(tmp_path_factory: pytest.TempPathFactory) -> scanners.Result:
    """One semgrep run (it takes seconds to start) over the product code and,
    in a folder of their own, the planted mistakes."""
    if not scanners.SEMGREP.is_file():
        reason = f"semgrep is not installed at {scanners.SEMGREP} (make audit-tools)"
        if under_ci():
            pytest.fail(f"{reason} (CI=true: a missing scanner is a failure)")
        pytest.skip(reason)
    planted = tmp_path_factory.mktemp("planted")
    (planted / "views.py").write_text(textwrap.dedent(MISTAKES))
    (planted / "templates").mkdir()
    (planted / "templates" / "page.html").write_text(
        "<p>{{ message|safe }}</p>\n{% autoescape false %}{{ x }}{% endautoescape %}\n"
    )
    return scanners.semgrep([*scanners.SEMGREP_PATHS, str(planted)])


def planted_findings(result: scanners.Result) -> dict[str, str]:
    """Rule name -> ``file:line`` relative to the planted folder."""
    found = {}
    for finding in result.findings:
        rule, where = finding.split()[:2]
        if "/planted" in where:
            found[rule] = where.split("/planted", 1)[1].split("/", 1)[1]
    return found


def test_every_rule_catches_its_mistake(scan: scanners.Result) -> None:
    assert not scan.ok
    assert planted_findings(scan) == {
        "markup-on-request-data": "views.py:12",
        "open-redirect": "views.py:17",
        "render-template-string": "views.py:22",
        "tls-verification-off": "views.py:26",
        "raw-sql-string": "views.py:27",
        "safe-filter-in-template": "templates/page.html:1",
        "autoescape-off-in-template": "templates/page.html:2",
    }, scan.findings


def test_the_product_code_has_no_finding(scan: scanners.Result) -> None:
    assert [finding for finding in scan.findings if "/planted" not in finding] == []
    assert int(scan.summary.split(" in ")[1].split()[0]) > 50  # files scanned
