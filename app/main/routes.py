"""Public pages: home, about, privacy, cookies and the contact form."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, url_for
from sqlalchemy import Select
from werkzeug.wrappers import Response

from app.extensions import db
from app.forms import form_status
from app.main import bp
from app.main.forms import ContactForm
from app.models.contact import ContactMessage
from app.models.story import Story
from app.stories.policy import NEWEST_FIRST, published_stories
from app.views import ListView
from flask_bastion import csrf_rerender


class Home(ListView):
    """The home page: what the site is, and the newest published stories (no paging)."""

    model = Story
    template = "main/home.html"
    order_by = NEWEST_FIRST
    per_page = 6
    cache_anonymous = True

    def get_query(self, **values: Any) -> Select[Any]:
        """Published stories of live authors."""
        return published_stories()

    def get_cursor(self) -> None:
        """Always the first page: the full list is at ``/stories/``."""
        return None


bp.add_url_rule("/", view_func=Home.as_view("home"))


@bp.get("/about")
def about() -> str:
    """What this site is."""
    return render_template("main/about.html")


@bp.get("/privacy")
def privacy() -> str:
    """The privacy notice."""
    return render_template("main/privacy.html")


@bp.get("/cookies")
def cookies() -> str:
    """Which cookies the site sets, and why."""
    return render_template("main/cookies.html")


@bp.route("/contact", methods=["GET", "POST"])
@csrf_rerender
def contact() -> tuple[str, int] | Response:
    """Show the contact form; store a valid message and confirm it with a flash."""
    form = ContactForm()
    if form.validate_on_submit():
        message = ContactMessage(
            name=form.name.data.strip(),
            email=form.email.data.strip(),
            message=form.message.data.strip(),
        )
        db.session.add(message)
        db.session.commit()
        flash(f"Thank you, {message.name}. Your message has been sent.", "success")
        return redirect(url_for("main.contact"))
    return render_template("main/contact.html", form=form), form_status(form)
