"""Messages sent through the contact form."""

from __future__ import annotations

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import TimestampMixin


class ContactMessage(TimestampMixin, db.Model):
    """One message from the contact page.

    ``name`` and ``email`` are limited to what the form allows; ``message``
    is plain text, always shown escaped.
    """

    __tablename__ = "contact_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254))
    message: Mapped[str] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"<ContactMessage {self.id} from {self.email!r}>"
