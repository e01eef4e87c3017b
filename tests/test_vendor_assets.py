"""The trimmed Bootstrap in ``app/static/src/vendor/``: what the pages use is in it.

``make vendor-assets`` builds ``bootstrap.css`` and ``bootstrap.js`` from
``assets/`` (Dart Sass and esbuild, pinned by ``assets/package-lock.json``);
the output is committed so that ``make run`` needs no Node.js.  These tests
check that the committed files are exactly what a fresh build gives (no
hand edits, no forgotten rebuild), that every class the templates and
scripts write exists in the CSS, and that every Bootstrap data attribute the
templates use has its plugin in the JavaScript.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import contact_form, post_form
from tests.services import under_ci

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "assets"
VENDOR = ROOT / "app" / "static" / "src" / "vendor"
STYLESHEETS = [VENDOR / "bootstrap.css", *sorted((ROOT / "app/static/src/css").glob("*.css"))]
TEMPLATES = [
    *sorted((ROOT / "app" / "templates").rglob("*.html")),
    *sorted((ROOT / "flask_bastion" / "templates").rglob("*.html")),
]
SCRIPTS = sorted((ROOT / "app" / "static" / "src" / "js").glob("*.js"))

#: Classes that name an element for a script or a test, with no style of their own.
HOOKS = {
    "story": "the <article> of a story page; .story-body is the styled part",
    "char-counter": "custom.js: the counter it adds under a textarea",
    "required": "Bootstrap-Flask marks the group of a required field with it",
    "btn-md": "Bootstrap-Flask's default button size; Bootstrap has no such class",
    "hero": "the home page's introduction, styled by its utility classes",
    "story-header": "a story's title and byline, styled by its utility classes",
}

CLASS_ATTR = re.compile(r"""\bclass=(?:"([^"]*)"|'([^']*)')(\s*~)?""")
JINJA_STATEMENT = re.compile(r"{%.*?%}|{#.*?#}", re.S)
JINJA_EXPRESSION = re.compile(r"{{.*?}}", re.S)
JS_CLASSES = re.compile(
    r"""className\s*=\s*["']([^"']+)["']|classList\.(?:add|remove|toggle)\(([^)]*)\)"""
)
CSS_COMMENT = re.compile(r"/\*.*?\*/", re.S)
CSS_SELECTOR = re.compile(r"([^{}]+){")
CSS_CLASS = re.compile(r"\.(-?[_a-zA-Z][_a-zA-Z0-9-]*)")


def css_classes() -> set[str]:
    """Every class named in a selector of the stylesheets the pages load."""
    found: set[str] = set()
    for sheet in STYLESHEETS:
        css = CSS_COMMENT.sub("", sheet.read_text(encoding="utf-8"))
        for selector in CSS_SELECTOR.findall(css):
            found.update(CSS_CLASS.findall(selector))
    return found


def class_tokens(value: str, continued: bool = False) -> list[str]:
    """Class names of one ``class`` attribute value written in a template.

    Jinja statements are dropped and the text they guard kept (``nav-link{% if
    x %} active{% endif %}`` gives nav-link and active).  A name built by an
    expression (``alert-{{ level }}``) is kept with its expression replaced by
    ``*``, to be matched as a pattern; so is the end of a string that a Jinja
    expression continues (``class="btn btn-" ~ style`` gives btn and btn-*).
    """
    value = JINJA_EXPRESSION.sub("*", JINJA_STATEMENT.sub(" ", value))
    return (value + "*" if continued and value[-1:].strip() else value).split()


def template_classes() -> dict[str, set[str]]:
    """Class name (or ``*`` pattern) -> the templates and scripts that write it."""
    used: dict[str, set[str]] = {}
    for path in TEMPLATES:
        for match in CLASS_ATTR.finditer(path.read_text(encoding="utf-8")):
            value = match.group(1) or match.group(2) or ""
            for token in class_tokens(value, continued=bool(match.group(3))):
                used.setdefault(token, set()).add(str(path.relative_to(ROOT)))
    for path in SCRIPTS:
        for match in JS_CLASSES.finditer(path.read_text(encoding="utf-8")):
            names = match.group(1) or " ".join(re.findall(r"""["']([^"']+)["']""", match[2]))
            for token in names.split():
                used.setdefault(token, set()).add(str(path.relative_to(ROOT)))
    return used


def missing(used: dict[str, set[str]], defined: set[str]) -> list[str]:
    """The names of ``used`` that no selector defines, as ``name (where)`` lines."""
    absent = []
    for token, where in sorted(used.items()):
        if token == "*" or token in HOOKS:
            continue
        if "*" in token:
            pattern = re.compile(re.escape(token).replace(r"\*", r"[\w-]*") + "$")
            if any(pattern.match(name) for name in defined):
                continue
        elif token in defined:
            continue
        absent.append(f"{token} ({', '.join(sorted(where))})")
    return absent


def test_the_class_scan_sees_through_jinja():
    assert class_tokens("nav-link{% if current == 'x' %} active{% endif %}") == [
        "nav-link",
        "active",
    ]
    assert class_tokens("alert alert-{{ level }} fade {# note #}show") == [
        "alert",
        "alert-*",
        "fade",
        "show",
    ]
    assert class_tokens("btn btn-", continued=True) == ["btn", "btn-*"]
    assert class_tokens("form-check-input", continued=True) == ["form-check-input*"]
    assert class_tokens("mb-3 ", continued=True) == ["mb-3"]
    assert missing({"alert-*": {"t"}, "no-such-*": {"t"}, "btn": {"t"}}, {"alert-info", "btn"}) == [
        "no-such-* (t)"
    ]


def test_every_class_the_templates_and_scripts_write_is_styled():
    used = template_classes()
    assert {"navbar", "btn-close", "story-body", "char-counter"} <= set(used), "scan found them"
    absent = missing(used, css_classes())
    assert not absent, (
        "classes used but not in the built CSS: add the Bootstrap part or utility to "
        "assets/scss (make vendor-assets):\n  " + "\n  ".join(absent)
    )


def test_every_class_of_the_rendered_forms_is_styled(client):
    """Bootstrap-Flask's ``render_field`` writes classes no template names."""
    pages = [client.get(path).get_data(as_text=True) for path in ("/sign-in", "/register")]
    invalid = post_form(client, "/contact", **contact_form(email="not an address", message=""))
    pages.append(invalid.get_data(as_text=True))
    assert "is-invalid" in pages[-1], "the contact form shows its errors"
    used: dict[str, set[str]] = {}
    for page in pages:
        for match in CLASS_ATTR.finditer(page):
            for token in (match.group(1) or match.group(2) or "").split():
                used.setdefault(token, set()).add("a rendered form")
    assert not missing(used, css_classes())


def test_the_javascript_has_a_plugin_for_every_data_attribute():
    """A ``data-bs-toggle`` without its plugin is a button that does nothing."""
    plugins = {"alert", "collapse", "modal"}
    source = (VENDOR / "bootstrap.js").read_text(encoding="utf-8")
    for plugin in plugins:
        assert f"bs.{plugin}" in source, f"bootstrap.js lacks {plugin}"
    for absent in ("popper", "bs.tooltip", "bs.dropdown", "bs.carousel"):
        assert absent not in source.lower(), f"bootstrap.js ships {absent}, which no page uses"
    wanted = set()
    for path in TEMPLATES:
        text = path.read_text(encoding="utf-8")
        wanted.update(re.findall(r'data-bs-(?:toggle|dismiss)="([a-z]+)"', text))
    assert "collapse" in wanted, "the navbar toggler was found"
    assert wanted <= plugins, f"add {sorted(wanted - plugins)} to assets/js/bootstrap.js"


def test_colour_modes_follow_the_system_setting():
    css = (VENDOR / "bootstrap.css").read_text(encoding="utf-8")
    dark = css.split("@media (prefers-color-scheme: dark) {\n  :root {", 1)[1].split("}", 1)[0]
    assert "--bs-body-bg: #212529;" in dark, "the dark body follows the system setting"
    assert "color-scheme: dark;" in dark, "so do form controls and scroll bars"
    base = (ROOT / "app" / "templates" / "base.html").read_text(encoding="utf-8")
    assert "data-bs-theme" not in base


def test_the_committed_build_is_what_the_sources_give(tmp_path):
    node = shutil.which("node")
    if node is None or not (ASSETS / "node_modules" / ".installed").is_file():
        reason = "Node.js or assets/node_modules is missing (make vendor-tools; needs npm)"
        if under_ci():
            pytest.fail(f"{reason} (CI=true: a missing tool is a failure)")
        pytest.skip(reason)
    built = subprocess.run(
        [node, str(ASSETS / "build.mjs"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    assert "WARNING" not in built.stderr.upper(), built.stderr
    for name in ("bootstrap.css", "bootstrap.js"):
        assert (tmp_path / name).read_bytes() == (VENDOR / name).read_bytes(), (
            f"app/static/src/vendor/{name} is not what assets/ builds: "
            "run `make vendor-assets` and commit the result"
        )
