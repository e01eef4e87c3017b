"""The "API keys" section of the account page: list, create (key shown once), revoke.

A new key is shown in the response to the POST that created it, never
redirected to, flashed or put in the session (the session cookie is signed,
not encrypted), and that response is ``Cache-Control: no-store``.
"""

from __future__ import annotations

from flask import abort, flash, make_response, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.wrappers import Response

from app.auth import bp
from app.auth.api_keys import issue_key, keys_of, revoke
from app.auth.forms import ApiKeyForm
from app.auth.login import current_session
from app.auth.security_log import EVENT_LABELS, events_of
from app.auth.user_sessions import live_sessions
from app.extensions import db
from app.forms import form_status
from app.models.api_key import ApiKey
from app.models.base import utcnow
from flask_bastion import configured, csrf_rerender, limit


def account_page(form: ApiKeyForm, status: int = 200, new_key: str | None = None) -> Response:
    """The account page with the user's keys and ``form``; ``new_key`` is shown once.

    It also lists the user's live sessions and the newest entries of the
    security log (one query each).
    """
    page = render_template(
        "auth/account.html",
        api_keys=keys_of(current_user),
        user_sessions=live_sessions(current_user),
        this_session=current_session(),
        security_events=events_of(current_user.id),
        event_labels=EVENT_LABELS,
        api_key_form=form,
        new_key=new_key,
        now=utcnow(),
    )
    response = make_response(page, status)
    if new_key is not None:
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/account/api-keys")
@login_required
@limit(configured("API_KEY_RATE_LIMIT"), methods=["POST"])
@csrf_rerender
def create_api_key() -> Response:
    """Create a key and show it once in this response; errors re-show the form (422)."""
    form = ApiKeyForm()
    if not form.validate_on_submit():
        return account_page(form, form_status(form))
    try:
        _, raw = issue_key(
            current_user, name=form.name.data, scope=form.scope.data, expires_in=form.lifetime()
        )
    except ValueError as error:  # the form's checks should have caught it
        form.form_errors.append(str(error).capitalize() + ".")
        return account_page(form, form_status(form))
    return account_page(ApiKeyForm(formdata=None), new_key=raw)


@bp.post("/account/api-keys/<id:key_id>/revoke")
@login_required
def revoke_api_key(key_id: int) -> Response:
    """Revoke one of the signed-in user's keys (anyone else's: 404)."""
    key = db.session.scalar(
        select(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == current_user.id)
    )
    if key is None:
        abort(404)
    if revoke(key):
        flash(f"The API key {key.prefix} ({key.name}) has been revoked.", "success")
    else:
        flash(f"The API key {key.prefix} was already revoked.", "info")
    return redirect(url_for("auth.account") + "#api-keys")
