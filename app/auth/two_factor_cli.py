"""``flask users two-factor-off EMAIL``: the way back for someone who lost the app and the codes.

Only someone with shell access to the server can run it; it removes the
account's secret and recovery codes, signs the account out everywhere (a
session made with the second factor should not outlive it) and writes the
change to the account's security log, and mails the owner a notice (with
links when ``SERVER_NAME`` is set).  The person then signs in with the
password alone and can set two-factor up again.
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.auth.cli import users
from app.auth.confirmation import send_notice
from app.auth.login import find_live_user
from app.auth.security_log import log_event
from app.auth.two_factor import is_enabled, turn_off
from app.auth.user_sessions import revoke_sessions
from app.extensions import db
from app.forms import normalize_email


@users.command("two-factor-off")
@click.argument("email")
@with_appcontext
def two_factor_off(email: str) -> None:
    """Turn two-factor sign-in off for EMAIL (lost authenticator and recovery codes).

    :raises click.ClickException: for an unknown account, or one without two-factor.
    """
    user = find_live_user(normalize_email(email))
    if user is None:
        raise click.ClickException(f"no account with the email {email!r}")
    if not is_enabled(user.id):
        raise click.ClickException(f"{user.email} has no two-factor sign-in")
    turn_off(user.id)
    user.session_version += 1
    revoked = revoke_sessions(user)
    log_event(user.id, "two_factor_disabled", f"from the command line; {revoked} session(s) ended")
    db.session.commit()
    click.echo(f"Two-factor sign-in turned off for {user.email}; {revoked} session(s) signed out.")
    try:
        send_notice(user, "two_factor_disabled", by_operator=True)
    except Exception as error:  # the change is made; a mail that can't be queued only warns
        click.echo(f"warning: the notice to {user.email} was not sent ({error})", err=True)
    else:
        click.echo(f"A notice was mailed to {user.email}.")
