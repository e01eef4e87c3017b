"""The story form."""

from __future__ import annotations

from wtforms import BooleanField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length

from app.forms import multi_line_text, single_line_text
from app.models.story import BODY_MAX_LENGTH, TITLE_MAX_LENGTH
from flask_bastion.errors import CSRFRerenderForm


class StoryForm(CSRFRerenderForm):
    """Title, Markdown body and the published flag; hidden control characters removed."""

    title = StringField(
        "Title",
        validators=[DataRequired("Please give your story a title."), Length(max=TITLE_MAX_LENGTH)],
        filters=[single_line_text],
        render_kw={"maxlength": TITLE_MAX_LENGTH},
    )
    body = TextAreaField(
        "Story (Markdown)",
        validators=[DataRequired("Please write your story."), Length(max=BODY_MAX_LENGTH)],
        filters=[multi_line_text],
        render_kw={"rows": 14, "maxlength": BODY_MAX_LENGTH},
    )
    published = BooleanField("Published (visible to everyone)")
    submit = SubmitField("Save story")
