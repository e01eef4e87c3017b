"""``/.well-known/security.txt`` (RFC 9116) from config: where to report a vulnerability.

Settings (defaults in :mod:`flask_bastion.defaults`):

``SECURITY_CONTACT`` (default ``None``)
    Who receives vulnerability reports: a ``mailto:``, ``https:`` or ``tel:``
    URI, or a bare email address (``mailto:`` is added); a list gives one
    ``Contact`` line each, in order of preference (RFC 9116 section 2.5.3).
    Unset, the file answers 404: no file is better than a guessed address
    that sends reports to a stranger.  ``flask check --deploy`` warns about it.
``SECURITY_TXT_EXPIRES`` (default ``None``)
    When the file stops being valid, as an RFC 3339 date-time
    (``2027-06-30T00:00:00Z``).  Unset, it is today (UTC midnight) plus
    ``SECURITY_TXT_DAYS`` (180 days): RFC 9116 section 2.5.5 asks for less
    than a year, and the contact comes from the running configuration, so
    the date moves with it.
``SECURITY_TXT_LANGUAGES`` (default ``"en"``)
    ``Preferred-Languages``: comma-separated language tags (RFC 5646).
``SECURITY_POLICY_URL`` (default ``None``)
    An optional ``Policy`` line: the page that says how reports are handled.

The ``Canonical`` line is the file's own ``https`` URL, built with
``url_for`` from the request's host, which ``TRUSTED_HOSTS`` has already
checked (a forged ``Host`` never reaches this view).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, url_for

#: URI schemes a ``Contact`` line may use (RFC 9116 section 2.5.3; web URIs must be https).
CONTACT_SCHEMES = ("mailto:", "https://", "tel:")

bp = Blueprint("bastion_security_txt", __name__)


def contact_uris(value: str | Iterable[str] | None) -> list[str]:
    """The ``Contact`` URIs of ``SECURITY_CONTACT``: a string (comma-separated) or a list.

    A bare ``name@host`` gets ``mailto:``; anything else is kept as written
    (:func:`invalid_contacts` names those that RFC 9116 does not allow).

    :returns: the URIs in order, empty when nothing is set.
    """
    if not value:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    uris = []
    for item in (str(i).strip() for i in items):
        if not item:
            continue
        if "@" in item and ":" not in item:
            item = f"mailto:{item}"
        uris.append(item)
    return uris


def invalid_contacts(value: str | Iterable[str] | None) -> list[str]:
    """The ``Contact`` URIs that are not ``mailto:``, ``https://`` or ``tel:`` (RFC 9116)."""
    return [uri for uri in contact_uris(value) if not uri.lower().startswith(CONTACT_SCHEMES)]


def parse_expires(value: str) -> dt.datetime:
    """Parse ``SECURITY_TXT_EXPIRES`` (RFC 3339, with a zone) to an aware datetime.

    :raises ValueError: for text that is not an ISO 8601 date-time with a zone.
    """
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        raise ValueError(
            f"SECURITY_TXT_EXPIRES must be a date-time such as 2031-01-31T00:00:00Z, got {value!r}"
        ) from None
    if parsed.tzinfo is None:
        raise ValueError(f"SECURITY_TXT_EXPIRES needs a time zone (…Z), got {value!r}")
    return parsed


def expires_at(config: Any, now: dt.datetime | None = None) -> dt.datetime:
    """The ``Expires`` instant: ``SECURITY_TXT_EXPIRES``, or UTC midnight + ``SECURITY_TXT_DAYS``.

    :raises ValueError: for a malformed ``SECURITY_TXT_EXPIRES``.
    """
    explicit = config.get("SECURITY_TXT_EXPIRES")
    if explicit:
        return parse_expires(str(explicit))
    now = now or dt.datetime.now(dt.UTC)
    midnight = now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + dt.timedelta(days=int(config.get("SECURITY_TXT_DAYS") or 180))


def render(config: Any, canonical: str, now: dt.datetime | None = None) -> str:
    """The text of security.txt for ``config``, or ``""`` when no contact is set.

    :param canonical: the file's own URL (the ``Canonical`` line).
    :raises ValueError: for a malformed ``SECURITY_TXT_EXPIRES``.
    """
    contacts = contact_uris(config.get("SECURITY_CONTACT"))
    if not contacts:
        return ""
    expires = expires_at(config, now).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = [f"Contact: {uri}" for uri in contacts]
    lines.append(f"Expires: {expires}")
    languages = str(config.get("SECURITY_TXT_LANGUAGES") or "").strip()
    if languages:
        lines.append(f"Preferred-Languages: {languages}")
    lines.append(f"Canonical: {canonical}")
    if config.get("SECURITY_POLICY_URL"):
        lines.append(f"Policy: {config['SECURITY_POLICY_URL']}")
    return "\n".join(lines) + "\n"


@bp.get("/.well-known/security.txt")
def security_txt() -> Response:
    """Serve the file as ``text/plain; charset=utf-8``; 404 while no contact is set."""
    canonical = url_for("bastion_security_txt.security_txt", _external=True, _scheme="https")
    text = render(current_app.config, canonical)
    if not text:
        abort(404)
    response = Response(text, mimetype="text/plain")
    response.cache_control.public = True
    response.cache_control.max_age = 86400
    return response


def init_security_txt(app: Flask) -> None:
    """Register the route; check ``SECURITY_TXT_EXPIRES`` once.

    :raises ValueError: for a malformed ``SECURITY_TXT_EXPIRES``.
    """
    if app.config.get("SECURITY_TXT_EXPIRES"):
        parse_expires(str(app.config["SECURITY_TXT_EXPIRES"]))
    app.register_blueprint(bp)
