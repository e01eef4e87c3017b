"""schemathesis against the live OpenAPI document, in process on the WSGI app.

Every operation of ``/api/v1/openapi.json``, positive and negative examples,
all of schemathesis' checks (no 5xx, responses and statuses as documented,
headers, content types, invalid input refused, valid input accepted),
authenticated as an admin by a write API key (``Authorization: Bearer``,
so every operation can succeed), derandomized and bounded in examples so the
module takes under 20 s on the development machine (2 shared cores).
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation.modes import GenerationMode

from app.auth.api_keys import issue_key
from app.extensions import db
from app.models.user import User
from tests.test_auth import make_user
from tests.test_stories import make_story

EXAMPLES = 12


@pytest.fixture
def api_schema(app):
    """The live document, with an admin's session and a few rows to act on."""
    admin = make_user(app, email="admin@example.com", name="Admin", is_admin=True)
    author = make_user(app, email="author@example.com", name="Author")
    for n in range(3):
        make_story(app, author, title=f"Story {n}")
        make_story(app, admin, title=f"Draft {n}", published=False)
    with app.app_context():
        _, key = issue_key(
            db.session.get(User, admin), name="schemathesis", scope="write", expires_in=None
        )
    headers = {"Authorization": f"Bearer {key}", "Accept-Encoding": "identity"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    # A schema-valid request may still be refused for what a schema cannot say:
    # a cursor string that is not one of ours (400), a random If-Match (412).
    accepted = schema.config.checks.positive_data_acceptance
    accepted.expected_statuses = [*accepted.expected_statuses, "400", "412"]
    return schema, headers


def test_every_operation_conforms(api_schema):
    schema, headers = api_schema
    """Each operation, positive then negative examples: no 5xx, every answer as documented.

    Hypothesis drives each operation's strategy directly (schemathesis'
    ``as_strategy``); failures of all operations are collected and reported together.
    """
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 9, [operation.label for operation in operations]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                derandomize=True,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def run(case):
                case.call_and_validate(headers=headers)

            try:
                run()
            except Exception as error:  # one report for every operation
                failures.append(f"{operation.label} ({mode}): {error}")
    assert not failures, "\n\n".join(failures)
