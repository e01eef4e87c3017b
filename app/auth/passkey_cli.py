"""``flask users passkeys-off EMAIL``: the way back for someone who lost every passkey.

An account with a passkey is asked for one after its password, so losing
them all (and having no TOTP) locks the owner out.  Only someone with shell
access to the server can run this: it removes the account's passkeys, signs
the account out everywhere (as ``two-factor-off`` does) and writes the
change to the account's security log, and mails the owner a notice.  The
person then signs in with the password alone and can add a passkey again.
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import delete

from app.auth.cli import users
from app.auth.confirmation import send_notice
from app.auth.login import find_live_user
from app.auth.passkeys import passkeys_of
from app.auth.security_log import log_event
from app.auth.user_sessions import revoke_sessions
from app.extensions import db
from app.forms import normalize_email
from app.models.passkey import Passkey


@users.command("passkeys-off")
@click.argument("email")
@with_appcontext
def passkeys_off(email: str) -> None:
    """Remove every passkey of EMAIL (all of them lost) and sign it out everywhere.

    :raises click.ClickException: for an unknown account, or one without passkeys.
    """
    user = find_live_user(normalize_email(email))
    if user is None:
        raise click.ClickException(f"no account with the email {email!r}")
    names = [key.name for key in passkeys_of(user.id)]
    if not names:
        raise click.ClickException(f"{user.email} has no passkeys")
    db.session.execute(delete(Passkey).where(Passkey.user_id == user.id))
    user.session_version += 1
    revoked = revoke_sessions(user)
    detail = f"all {len(names)}, from the command line; {revoked} session(s) ended"
    log_event(user.id, "passkey_removed", detail)
    send_notice(user, "passkey_removed", names=names, by_operator=True)
    click.echo(
        f"{len(names)} passkey(s) removed from {user.email}; {revoked} session(s) signed out."
    )
