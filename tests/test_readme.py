"""The README's code examples run as written."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

from tests.test_config import ROOT

CHECK = textwrap.dedent(
    """
    from tests.conftest import make_app
    from app.extensions import db
    from tests.test_auth import make_user, sign_in
    from tests.test_stories import make_story

    app = make_app()
    with app.app_context():
        db.create_all()
    author = make_user(app, email="author@example.com", name="Author")
    other = make_user(app, email="other@example.com", name="Other")
    mine = make_story(app, author, title="My draft", published=False)
    theirs = make_story(app, other, title="Their draft", published=False)
    client = app.test_client()
    assert client.get("/stories/drafts").status_code == 302, "sign-in required"
    assert sign_in(client, email="author@example.com").status_code == 302
    page = client.get("/stories/drafts").get_data(as_text=True)
    assert "My draft" in page and "Their draft" not in page
    assert client.get(f"/stories/drafts/{mine}").status_code == 200
    assert client.get(f"/stories/drafts/{theirs}").status_code == 404
    print("README example ok")
    """
)


def test_the_adding_pages_example_runs_as_written():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Adding pages for a model", 1)[1]
    example = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    result = subprocess.run(
        [sys.executable, "-c", example + CHECK],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "README example ok" in result.stdout
