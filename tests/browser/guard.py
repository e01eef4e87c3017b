"""What a page did that a user (or an attacker) would notice: the browser tests' watchdog.

A :class:`PageGuard` is attached to a Playwright browser context before any
page opens.  From then on, for every page of the context, it records:

* every Content Security Policy violation: an init script (run before the
  page's own scripts, in every document) listens for
  ``securitypolicyviolation``, keeps each one in ``window.__cspViolations``
  and hands it at once to Python through an exposed binding, so violations
  of a page the test has already left are not lost;
* every console message of type ``error`` and every uncaught exception
  (``pageerror``);
* every JavaScript dialog (``alert``, ``confirm``, ``prompt``), which is
  dismissed: a dialog opening is what an XSS payload does first;
* every main-frame navigation with the HTTP status of its document.

:meth:`PageGuard.problems` lists what went wrong; :meth:`PageGuard.assert_clean`
raises with the page each problem came from.  The ``page`` fixture of
``tests/browser/conftest.py`` asserts it after each test; helpers assert it
after each navigation.

One allowance: Chromium logs ``Failed to load resource: the server responded
with a status of 422`` as a console *error* for a document answered with an
error status, which is what a form shown again with its errors is (422) and
what a CSRF refusal that re-shows the form is (400).  Such a message is not
a problem when it names a main-frame document whose status the test declared
with :meth:`PageGuard.allow_status`; anything else (a missing image, a
blocked script, a 404 for a stylesheet) still is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # Playwright may be missing: the fixtures then skip (fail under CI)
    from playwright.sync_api import BrowserContext, ConsoleMessage, Dialog, Frame, Page, Response

#: Runs in every document before its own scripts (``BrowserContext.add_init_script``).
INIT_SCRIPT = """
(() => {
  if (window.__cspViolations) return;
  window.__cspViolations = [];
  window.addEventListener('securitypolicyviolation', (event) => {
    const violation = {
      documentURI: event.documentURI, blockedURI: event.blockedURI,
      effectiveDirective: event.effectiveDirective, sample: event.sample,
      sourceFile: event.sourceFile, lineNumber: event.lineNumber,
    };
    window.__cspViolations.push(violation);
    if (typeof window.__bastionReportCsp === 'function') window.__bastionReportCsp(violation);
  }, true);
})();
"""
#: Lets queued ``securitypolicyviolation`` events run, then reads the page's list.
READ_VIOLATIONS = """() => new Promise((done) =>
  setTimeout(() => done(window.__cspViolations || []), 0))"""
STATUS_ERROR = re.compile(r"^Failed to load resource: the server responded with a status of (\d+)")


@dataclass
class Problem:
    """One thing a page did wrong: its kind, the page's URL and what happened."""

    kind: str  # "csp", "console", "pageerror", "dialog"
    url: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind} on {self.url}: {self.detail}"


@dataclass
class PageGuard:
    """Records CSP violations, console errors, uncaught errors and dialogs of a context.

    Build it with :meth:`attach` before the context opens a page.
    """

    context: BrowserContext
    #: False for a context without JavaScript: then no init script runs and
    #: violations are known from the console messages Chromium logs for them.
    javascript: bool = True
    recorded: list[Problem] = field(default_factory=list)
    #: Main-frame navigations, in order: ``(url, status)``; status 0 when unknown.
    visited: list[tuple[str, int]] = field(default_factory=list)
    allowed_statuses: set[int] = field(default_factory=set)
    _statuses: dict[str, int] = field(default_factory=dict)
    _seen_csp: set[str] = field(default_factory=set)

    @classmethod
    def attach(cls, context: BrowserContext, *, javascript: bool = True) -> PageGuard:
        """Watch every page ``context`` opens from now on; return the guard.

        :param javascript: whether the context runs JavaScript (its ``java_script_enabled``).
        """
        guard = cls(context, javascript)
        context.expose_binding("__bastionReportCsp", guard._on_csp_binding)
        context.add_init_script(INIT_SCRIPT)
        context.on("page", guard.watch)
        return guard

    def watch(self, page: Page) -> None:
        """Listen to ``page``'s console, errors, dialogs and navigations."""
        page.on("console", lambda message: self._on_console(page, message))
        page.on("pageerror", lambda error: self._record("pageerror", page.url, str(error)))
        page.on("dialog", lambda dialog: self._on_dialog(page, dialog))
        page.on("response", self._on_response)
        page.on("framenavigated", lambda frame: self._on_navigated(page, frame))

    def allow_status(self, *statuses: int) -> None:
        """Declare that documents answered with ``statuses`` are expected (see module doc)."""
        self.allowed_statuses.update(statuses)

    # --- listeners ------------------------------------------------------------
    def _record(self, kind: str, url: str, detail: str) -> None:
        self.recorded.append(Problem(kind, url, detail))

    def _on_csp_binding(self, source: dict[str, Any], violation: dict[str, Any]) -> None:
        self._add_csp(violation)

    def _add_csp(self, violation: dict[str, Any]) -> None:
        key = repr(sorted(violation.items()))
        if key in self._seen_csp:  # reported by the binding and read from the page
            return
        self._seen_csp.add(key)
        detail = (
            f"{violation.get('effectiveDirective')} blocked {violation.get('blockedURI')!r} "
            f"({violation.get('sourceFile')}:{violation.get('lineNumber')}, "
            f"sample {violation.get('sample')!r})"
        )
        self._record("csp", str(violation.get("documentURI")), detail)

    def _on_console(self, page: Page, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        url = message.location.get("url") or page.url
        match = STATUS_ERROR.match(message.text)
        if match and self._statuses.get(url) == int(match.group(1)) in self.allowed_statuses:
            return
        self._record("console", url, message.text)

    def _on_dialog(self, page: Page, dialog: Dialog) -> None:
        self._record("dialog", page.url, f"{dialog.type}: {dialog.message!r}")
        dialog.dismiss()

    def _on_response(self, response: Response) -> None:
        if response.request.is_navigation_request():
            self._statuses[response.url] = response.status

    def _on_navigated(self, page: Page, frame: Frame) -> None:
        if frame is page.main_frame:
            self.visited.append((frame.url, self._statuses.get(frame.url, 0)))

    # --- verdict --------------------------------------------------------------
    def problems(self) -> list[Problem]:
        """Everything recorded so far, after reading each open page's own violation list.

        A page's ``securitypolicyviolation`` events are dispatched as tasks; a
        ``setTimeout(0)`` in the page lets queued ones run before it is read.
        """
        for page in self.context.pages if self.javascript else ():
            if page.is_closed():
                continue
            try:
                violations = page.evaluate(READ_VIOLATIONS)
            except Exception:  # noqa: S112 - a page mid-navigation: its binding reported already
                continue
            for violation in violations:
                self._add_csp(violation)
        return list(self.recorded)

    def assert_clean(self, when: str = "") -> None:
        """Raise ``AssertionError`` listing every problem recorded (with its page).

        :param when: words saying where the test is, added to the message.
        """
        problems = self.problems()
        if problems:
            pages = ", ".join(url for url, _ in self.visited[-5:])
            lines = "\n  ".join(str(problem) for problem in problems)
            raise AssertionError(
                f"{len(problems)} problem(s) {when} (last pages: {pages}):\n  {lines}"
            )
