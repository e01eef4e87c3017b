"""Accounts: register, sign in, sign out, account page, password change, deletion."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("auth", __name__)

from app.auth import routes  # noqa: E402,F401  (registers the views)
