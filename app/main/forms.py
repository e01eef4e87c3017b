"""Forms of the public pages."""

from __future__ import annotations

from wtforms import StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length

from app.forms import email_field, multi_line_text, single_line_text
from flask_bastion.errors import CSRFRerenderForm


class ContactForm(CSRFRerenderForm):
    """The contact form: a name, a reply address and a message (all required).

    Name and message are cleaned of control and bidi characters
    (:func:`app.forms.single_line_text`, :func:`app.forms.multi_line_text`).
    """

    name = StringField(
        "Your name",
        validators=[DataRequired("Please tell us your name."), Length(max=100)],
        filters=[single_line_text],
        render_kw={"autocomplete": "name", "maxlength": 100},
    )
    email = email_field("Email address", "email", "Please give an email address we can reply to.")
    message = TextAreaField(
        "Message",
        validators=[
            DataRequired("Please write a message."),
            Length(min=10, max=5000, message="Messages are 10 to 5000 characters long."),
        ],
        filters=[multi_line_text],
        render_kw={"rows": 6, "maxlength": 5000},
    )
    submit = SubmitField("Send message")
