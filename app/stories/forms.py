"""The story form."""

from __future__ import annotations

from wtforms import BooleanField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length

from app.models.story import BODY_MAX_LENGTH, TITLE_MAX_LENGTH
from flask_bastion.errors import CSRFRerenderForm
from flask_bastion.text import clean_text


def _clean_title(value: str | None) -> str:
    return clean_text(value, single_line=True)


def _clean_body(value: str | None) -> str:
    return clean_text(value)


class StoryForm(CSRFRerenderForm):
    """Title, Markdown body and the published flag; hidden control characters removed."""

    title = StringField(
        "Title",
        validators=[DataRequired("Please give your story a title."), Length(max=TITLE_MAX_LENGTH)],
        filters=[_clean_title],
        render_kw={"maxlength": TITLE_MAX_LENGTH},
    )
    body = TextAreaField(
        "Story (Markdown)",
        validators=[DataRequired("Please write your story."), Length(max=BODY_MAX_LENGTH)],
        filters=[_clean_body],
        render_kw={"rows": 14, "maxlength": BODY_MAX_LENGTH},
    )
    published = BooleanField("Published (visible to everyone)")
    submit = SubmitField("Save story")
