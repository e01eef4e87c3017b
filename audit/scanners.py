"""The slow scanners of ``make audit``: sqlmap and wapiti (Debian packages), and semgrep.

All three target only what runs on this machine: sqlmap and wapiti the
deployment stack on loopback, semgrep the source tree.  Each returns a
:class:`Result` with ``ok`` (the target is met), a one-line summary and the
findings; none of them reaches the network beyond loopback (wapiti's
modules that call its own servers -- ssrf, xxe, wapp, nikto -- are left out,
its endpoints point at a closed loopback port, and bug reports are off;
semgrep runs with ``--metrics=off`` and local rules only).

The scanners send their own ``User-Agent``: the default ones (``sqlmap/…``)
are in ``BLOCKED_USER_AGENTS`` and would get 403 for every request, which
would test the block list, not the application.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess  # nosec B404
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SEMGREP = ROOT / ".venv-audit" / "bin" / "semgrep"
SEMGREP_RULES = ROOT / "audit" / "semgrep.yml"
#: What semgrep scans: the product code (tests and benchmarks are not shipped).
SEMGREP_PATHS = ("app", "flask_bastion", "wsgi.py")
USER_AGENT = "bastion-audit/1"
#: Wapiti modules run: its defaults and more, without those that call wapiti's
#: own servers (ssrf, xxe), download databases (wapp, nikto) or brute-force
#: (brute_login_form, buster).
WAPITI_MODULES = (
    "backup,blindsql,cookieflags,crlf,csp,csrf,exec,file,htaccess,http_headers,"
    "methods,permanentxss,redirect,shellshock,sql,xss"
)
#: Wapiti's levels, lowest first; anything above "low" fails the audit.
WAPITI_LEVELS = {1: "low", 2: "medium", 3: "high"}
#: Findings of wapiti that SECURITY.md explains (category, with why).
WAPITI_EXPLAINED: dict[str, str] = {}


@dataclass
class Result:
    """One scanner's verdict.

    :param name: the scanner.
    :param ok: whether the target is met.
    :param summary: one line for the report.
    :param findings: what it found, one line each.
    :param seconds: how long it ran.
    """

    name: str
    ok: bool
    summary: str
    findings: list[str] = field(default_factory=list)
    seconds: float = 0.0


def missing_scanners() -> list[str]:
    """The scanners this machine lacks, each with how to install it."""
    missing = []
    for program, package in (("sqlmap", "sqlmap"), ("wapiti", "wapiti")):
        if shutil.which(program) is None:
            missing.append(f"{program} (apt-get install {package})")
    if not SEMGREP.is_file():
        missing.append(f"semgrep ({SEMGREP}; make audit-tools)")
    return missing


def _run(
    args: list[str], timeout: float, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    # fixed scanner arguments, loopback targets
    return subprocess.run(  # noqa: S603  # nosec B603
        args,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=cwd,
        env={**os.environ, "SEMGREP_ENABLE_VERSION_CHECK": "0", "SEMGREP_SEND_METRICS": "off"},
    )


# --- semgrep ---------------------------------------------------------------------
def semgrep(paths: tuple[str, ...] | list[str] = SEMGREP_PATHS, cwd: Path = ROOT) -> Result:
    """Run the local rules (``audit/semgrep.yml``) on ``paths``: ok when nothing is found.

    :raises RuntimeError: when semgrep is missing or reports an error.
    """
    if not SEMGREP.is_file():
        raise RuntimeError(f"semgrep is not installed at {SEMGREP} (make audit-tools)")
    started = time.monotonic()
    completed = _run(
        [str(SEMGREP), "scan", "--config", str(SEMGREP_RULES), "--metrics=off",
         "--disable-version-check", "--quiet", "--json", *paths],
        timeout=300,
        cwd=cwd,
    )  # fmt: skip
    try:
        report = json.loads(completed.stdout)
    except ValueError:
        raise RuntimeError(f"semgrep printed no report:\n{completed.stderr[-2000:]}") from None
    if report.get("errors"):
        raise RuntimeError(f"semgrep errors: {report['errors']}")
    findings = [
        f"{item['check_id'].rsplit('.', 1)[-1]} {item['path']}:{item['start']['line']}"
        for item in report.get("results", [])
    ]
    scanned = len(report.get("paths", {}).get("scanned", []))
    return Result(
        "semgrep",
        not findings,
        f"{len(findings)} finding(s) in {scanned} files",
        findings,
        time.monotonic() - started,
    )


# --- sqlmap -------------------------------------------------------------------------
def read_sqlmap(out: str) -> tuple[list[str], bool, bool, list[tuple[str, str, str]]]:
    """Read sqlmap's output: (injectable parameters, injection point identified,
    "all tested parameters do not appear to be injectable" said, HTTP error codes).

    "appears to be ... injectable" is sqlmap's heuristic guess, which its
    confirmation tests may then drop ("does not seem to be injectable"; the
    nonce and CSRF token make every page differ); "is vulnerable" and an
    identified injection point are confirmed findings.
    """
    confirmed = re.findall(r"parameter '([^']+)' is vulnerable", out)
    guessed = set(re.findall(r"parameter '([^']+)' appears to be .*injectable", out))
    dropped = set(re.findall(r"parameter '([^']+)' does not seem to be injectable", out))
    identified = "identified the following injection point" in out
    clean = "all tested parameters do not appear to be injectable" in out
    codes = re.findall(r"^(\d{3}) \(([^)]*)\) - (\d+) times", out, re.M)
    return sorted(set(confirmed) | (guessed - dropped)), identified, clean, codes


def sqlmap(
    url: str, *, output_dir: Path, data: str | None = None, params: str, level: int = 1,
    csrf_url: str | None = None, timeout: float = 600,
) -> Result:  # fmt: skip
    """Ask sqlmap whether ``params`` of ``url`` (GET, or POST ``data``) are injectable.

    Ok when sqlmap says every tested parameter "does not appear to be
    injectable" and found no injection point.  With ``csrf_url`` it fetches
    a new ``csrf_token`` from that form before each request and sends the
    form's URL as ``Referer``, as Flask-WTF's HTTPS check wants.
    """
    args = [
        shutil.which("sqlmap") or "sqlmap", "-u", url, "-p", params, "--dbms=PostgreSQL",
        "--batch", f"--level={level}", "--risk=1", f"--user-agent={USER_AGENT}",
        f"--output-dir={output_dir}", "--flush-session", "--disable-coloring", "--text-only",
    ]  # fmt: skip
    if data is not None:
        args += ["--data", data]
    if csrf_url:
        args += ["--csrf-token=csrf_token", f"--csrf-url={csrf_url}", f"--referer={csrf_url}"]
    started = time.monotonic()
    completed = _run(args, timeout=timeout)
    out = completed.stdout
    injectable, identified, clean, codes = read_sqlmap(out)
    # 403 (blocked user agent) or 429 (rate limit) would mean the guards
    # answered instead of the application: then nothing was really tested.
    guarded = [f"{n}x {c}" for c, _, n in codes if c in ("403", "429")]
    ok = clean and not identified and not injectable and not guarded
    summary = "no parameter injectable" if ok else "INJECTABLE or not tested"
    if codes:
        summary += "; HTTP errors: " + ", ".join(f"{n}x {c}" for c, _, n in codes)
    findings = [] if ok else [line for line in out.splitlines() if "injectable" in line]
    return Result(
        f"sqlmap {params} of {url.split('/', 3)[-1]}",
        ok,
        summary,
        findings + guarded,
        time.monotonic() - started,
    )


# --- wapiti -------------------------------------------------------------------------
def wapiti_cookie_file(path: Path, cookies: dict[str, str], cookie_path: str) -> Path:
    """Write ``cookies`` (name to value, for host ``localhost``) as wapiti's JSON cookie file."""
    jar = {
        ".localhost.local": {
            cookie_path: {
                name: {"value": value, "version": 0, "secure": True, "expires": None, "port": None}
                for name, value in cookies.items()
            }
        }
    }
    path.write_text(json.dumps(jar))
    return path


def wapiti(
    url: str, *, output: Path, cookie_file: Path | None, exclude: list[str],
    max_scan_time: int = 90, max_attack_time: int = 15, timeout: float = 600,
) -> Result:  # fmt: skip
    """Crawl and attack ``url`` (folder scope) with :data:`WAPITI_MODULES`.

    Ok when no finding is above "low" (wapiti's levels 1..3).  The JSON
    report goes to ``output``.  Every request carries ``url`` as its
    ``Referer``, as a browser's form post does: Flask-WTF's HTTPS check
    refuses a post without one, and the attacks would then test only that.
    The session in ``cookie_file`` must have been made from 127.0.0.1 with
    :data:`USER_AGENT` (strong session protection binds it to both).
    """
    closed = "http://127.0.0.1:9/"  # discard port: nothing listens
    args = [
        *wapiti_command(), "-u", url, "--scope", "folder",
        "-m", WAPITI_MODULES, "-f", "json", "-o", str(output), "--flush-session",
        # wapiti asks for br, which Debian's python3-urllib3 can't decode
        # without python3-brotli: it would crawl compressed bytes and find no link.
        "-A", USER_AGENT, "-H", "Accept-Encoding: gzip, deflate", "-H", f"Referer: {url}",
        "--no-bugreport", "--endpoint", closed, "--external-endpoint", closed,
        "--max-scan-time", str(max_scan_time), "--max-attack-time", str(max_attack_time),
        "-v", "1", "--store-session", str(output.parent / "wapiti-session"),
        "--store-config", str(output.parent / "wapiti-config"),
    ]  # fmt: skip
    if cookie_file:
        args += ["-c", str(cookie_file)]
    for pattern in exclude:
        args += ["-x", pattern]
    started = time.monotonic()
    completed = _run(args, timeout=timeout)
    if not output.is_file():
        return Result(
            "wapiti", False, f"no report (exit {completed.returncode})",
            [completed.stdout[-1500:], completed.stderr[-1500:]], time.monotonic() - started,
        )  # fmt: skip
    return wapiti_verdict(json.loads(output.read_text()), time.monotonic() - started)


def wapiti_command() -> list[str]:
    """Debian's wapiti through ``audit/wapiti_launcher.py`` (its ``-x`` fails on Python 3.11).

    The launcher runs under the interpreter of wapiti's own ``#!`` line.
    """
    program = shutil.which("wapiti") or "/usr/bin/wapiti"
    with open(program, encoding="utf-8", errors="replace") as script:
        first = script.readline()
    interpreter = first[2:].strip() if first.startswith("#!") else "/usr/bin/python3"
    return [*interpreter.split(), str(ROOT / "audit" / "wapiti_launcher.py")]


def wapiti_verdict(report: dict[str, Any], seconds: float = 0.0) -> Result:
    """Read a wapiti JSON report: every finding with its level; ok when none is above low."""
    findings = []
    worst = 0
    for section in ("vulnerabilities", "anomalies", "additionals"):
        for category, items in (report.get(section) or {}).items():
            for item in items:
                level = int(item.get("level") or 0)
                worst = max(worst, level)
                where = f"{item.get('method', '')} {item.get('path', '')}".strip()
                findings.append(
                    f"[{WAPITI_LEVELS.get(level, level)}] {category}: {where} "
                    f"({item.get('parameter') or '-'}) {str(item.get('info', ''))[:160]}"
                )
    crawled = len(report.get("infos", {}).get("crawled_pages", []) or [])
    summary = f"{len(findings)} finding(s), worst {WAPITI_LEVELS.get(worst, 'none')}"
    if crawled:
        summary += f"; {crawled} pages crawled"
    return Result("wapiti", worst <= 1, summary, sorted(findings), seconds)
