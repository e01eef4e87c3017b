"""The first visit of the home page weighs at most 40 KB on the wire with brotli.

Issue 11's budget: HTML + CSS + JS of an empty cache, brotli, no CDN.  The
HTML is what the app sends for ``Accept-Encoding: br`` (nginx passes it on as
it is); each stylesheet and script is its precompressed ``.br`` file, which
nginx serves with ``brotli_static``.  ``make audit`` measures the same through
nginx.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from pathlib import Path

from app.extensions import db
from app.models.story import Story
from audit.page_weight import BUDGET

ASSET = re.compile(r'<(?:link rel="stylesheet" href|script src)="(?P<url>[^"]+)"')


def first_visit(client, static_folder: Path, path: str = "/") -> dict[str, int]:
    """Bytes on the wire of ``path`` and of each stylesheet and script it loads."""
    page = client.get(path, headers={"Accept-Encoding": "br"})
    assert page.status_code == 200
    assert page.headers["Content-Encoding"] == "br"
    sizes = {f"{path} (HTML)": len(page.data)}
    assert page.headers["Content-Type"].startswith("text/html")
    html = client.get(path).get_data(as_text=True)  # uncompressed, to read its links
    # A browser with JavaScript (the one measured) never loads what <noscript> links.
    urls = ASSET.findall(re.sub(r"<noscript>.*?</noscript>", "", html, flags=re.S))
    assert any(url.endswith(".css") for url in urls)
    assert any(url.endswith(".js") for url in urls)
    for url in urls:
        compressed = static_folder / (url.removeprefix("/static/") + ".br")
        assert compressed.is_file(), f"{compressed} missing: nginx would compress per request"
        sizes[url] = compressed.stat().st_size
    return sizes


def fill_home_page(app, author_id: int) -> None:
    """Six published stories (the home page shows the six newest) of varied text.

    Titles of 30-60 characters and bodies of about 1,500 characters drawn from a
    seeded word list, so brotli finds no more repetition than in real stories.
    """
    text = (
        "the morning river carried light across old stones while a quiet village woke "
        "to bread smoke bells and the long argument of gulls over a harbour full of "
        "painted boats nets ropes salt cedar letters stairs lamps winter orchards"
    )
    words = re.findall(r"\w+", text)
    rng = random.Random(11)
    start = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    with app.app_context():
        for n in range(6):
            title = " ".join(rng.choice(words) for _ in range(8)).capitalize()[:60]
            body = " ".join(rng.choice(words) for _ in range(260))
            db.session.add(
                Story(
                    title=title,
                    body=body,
                    published=True,
                    author_id=author_id,
                    created_at=start + dt.timedelta(hours=n),
                )
            )
        db.session.commit()


def report(sizes: dict[str, int]) -> str:
    """One line per file, then the total against the budget."""
    lines = [f"{size:>8,} B  {name}" for name, size in sizes.items()]
    lines.append(f"{sum(sizes.values()):>8,} B  total (budget {BUDGET:,} B)")
    return "\n".join(lines)


def test_the_first_visit_of_the_home_page_is_at_most_40_kb(app, client, people):
    fill_home_page(app, people["author"])
    home = client.get("/").text
    assert len(set(re.findall(r'href="/stories/\d+"', home))) == 6, "the page is full"
    sizes = first_visit(client, Path(app.static_folder or ""))
    assert len(sizes) == 5, "the page, two stylesheets and two scripts"
    print(report(sizes))
    assert sum(sizes.values()) <= BUDGET, "first visit over budget:\n" + report(sizes)
