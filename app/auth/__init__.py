"""Accounts: register, sign in, sign out, account page, password change, deletion, API keys."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("auth", __name__)

from app.auth import (  # noqa: E402,F401  (registers the views)
    api_key_routes,
    email_change_routes,
    email_routes,
    passkey_cli,
    passkey_routes,
    passkey_sign_in,
    routes,
    session_routes,
    two_factor_cli,
    two_factor_routes,
    two_factor_sign_in,
)
