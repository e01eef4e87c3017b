"""Fixtures of the deployment tests: one production stack for the whole session.

The stack (see :mod:`tests.deployment.stack`) starts once, the first time a
test asks for it, and stops when the session ends.  Without nginx,
PostgreSQL's server binaries or redis-server the tests are skipped with the
reason printed; under CI (``CI=true``) that is a failure instead.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.deployment.client import Client
from tests.deployment.stack import PREFIX, Stack, missing_tools, start_stack
from tests.services import under_ci

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of this directory ``deployment`` (``-m "not deployment"`` skips them)."""
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.deployment)


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """nginx + two gunicorn instances + their own PostgreSQL and Redis, started once."""
    missing = missing_tools()
    if missing:
        reason = "deployment stack unavailable, missing: " + "; ".join(missing)
        if under_ci():
            pytest.fail(f"{reason} (CI=true: a missing service is a failure)")
        pytest.skip(reason)
    running = start_stack()
    try:
        yield running
    finally:
        running.stop()


@dataclass(frozen=True)
class Account:
    """A user created with ``flask users create`` in the stack's production config."""

    email: str
    name: str
    password: str


def new_account(stack: Stack) -> Account:
    """Create an account in the stack's database with ``flask users create``."""
    user = Account(
        email=f"writer-{secrets.token_hex(4)}@example.com",
        name=f"Writer {secrets.token_hex(3)}",
        password=f"correct-{secrets.token_hex(8)}-staple",
    )
    stack.create_user(user.email, user.name, user.password)
    return user


@pytest.fixture
def account(stack: Stack) -> Account:
    """A new account for this test alone (signed-in rate limits count per account)."""
    return new_account(stack)


def sign_in(client: Client, account: Account, next_path: str | None = None) -> str:
    """Sign ``client`` in through nginx; return the ``Location`` of the answer.

    :raises AssertionError: when the sign-in is not answered with a redirect.
    """
    query = f"?next={next_path}" if next_path else ""
    response = client.post_form(
        f"{PREFIX}/sign-in{query}", {"email": account.email, "password": account.password}
    )
    assert response.status == 302, (response.status, response.text[:500])
    return response.header("Location") or ""
