"""``/.well-known/security.txt`` (RFC 9116) from config, and its deploy check."""

from __future__ import annotations

import datetime as dt

import pytest

from flask_bastion.audit import SecurityAudit
from flask_bastion.security_txt import contact_uris, expires_at, invalid_contacts, render
from tests.conftest import make_app
from tests.test_deploy_check import SAFE

URL = "/.well-known/security.txt"
contact = pytest.mark.settings(SECURITY_CONTACT="mailto:security@example.com")


def fields(text: str) -> list[tuple[str, str]]:
    return [tuple(line.split(": ", 1)) for line in text.splitlines()]  # type: ignore[misc]


def test_without_a_contact_there_is_no_file(client):
    assert client.get(URL).status_code == 404


@contact
def test_the_file_has_every_field_rfc_9116_asks_for(client):
    response = client.get(URL, base_url="https://localhost")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    text = response.get_data(as_text=True)
    assert text.endswith("\n")
    assert fields(text) == [
        ("Contact", "mailto:security@example.com"),
        ("Expires", fields(text)[1][1]),
        ("Preferred-Languages", "en"),
        ("Canonical", "https://localhost/.well-known/security.txt"),
    ]
    expires = dt.datetime.strptime(fields(text)[1][1], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    now = dt.datetime.now(dt.UTC)
    # RFC 9116 section 2.5.5: in the future, and less than a year ahead.
    assert now < expires < now + dt.timedelta(days=365)
    # The security headers are on it too.
    assert response.headers["Cross-Origin-Resource-Policy"] == "same-origin"
    assert "Content-Security-Policy" in response.headers


@pytest.mark.settings(
    SECURITY_CONTACT="security@example.com, https://example.com/report",
    SECURITY_TXT_EXPIRES="2031-01-31T00:00:00+01:00",
    SECURITY_TXT_LANGUAGES="en, fr",
    SECURITY_POLICY_URL="https://example.com/security-policy",
    PATH_PREFIX="/some-service/v1",
)
def test_contacts_expiry_languages_policy_and_prefix_come_from_config(client):
    text = client.get(URL, base_url="https://localhost").get_data(as_text=True)
    assert fields(text) == [
        ("Contact", "mailto:security@example.com"),
        ("Contact", "https://example.com/report"),
        ("Expires", "2031-01-30T23:00:00Z"),
        ("Preferred-Languages", "en, fr"),
        ("Canonical", "https://localhost/some-service/v1/.well-known/security.txt"),
        ("Policy", "https://example.com/security-policy"),
    ]


def test_a_malformed_expiry_refuses_to_start():
    from app.config import ConfigError

    with pytest.raises(ConfigError, match="SECURITY_TXT_EXPIRES needs a time zone"):
        make_app(SECURITY_CONTACT="a@example.com", SECURITY_TXT_EXPIRES="2031-01-31")
    with pytest.raises(ConfigError, match="SECURITY_TXT_EXPIRES must be a date-time"):
        make_app(SECURITY_TXT_EXPIRES="next year")


def test_contact_uris_and_the_default_expiry():
    assert contact_uris(None) == []
    assert contact_uris(["a@example.com", " ", "tel:+1-201-555-0123"]) == [
        "mailto:a@example.com",
        "tel:+1-201-555-0123",
    ]
    assert invalid_contacts("http://example.com/report, a@example.com") == [
        "http://example.com/report"
    ]
    noon = dt.datetime(2030, 5, 6, 12, 30, tzinfo=dt.UTC)
    assert expires_at({"SECURITY_TXT_DAYS": 10}, noon) == dt.datetime(2030, 5, 16, tzinfo=dt.UTC)
    assert render({}, "https://x/.well-known/security.txt") == ""
    text = render({"SECURITY_CONTACT": "a@example.com"}, "https://x/s.txt", noon)
    assert "Expires: 2030-11-02T00:00:00Z\n" in text


def audit(**overrides) -> list[tuple[str, bool]]:
    findings = SecurityAudit({**SAFE, **overrides}, 1, 5).run()
    return [(f.setting, f.warning) for f in findings]


def test_deploy_check_warns_when_the_contact_is_left_at_the_default():
    assert audit() == []
    assert audit(SECURITY_CONTACT=None) == [("SECURITY_CONTACT", True)]


@pytest.mark.parametrize(
    "overrides",
    [
        {"SECURITY_CONTACT": "http://example.com/report"},
        {"SECURITY_TXT_EXPIRES": "2020-01-01T00:00:00Z"},
        {"SECURITY_TXT_EXPIRES": "soon"},
    ],
)
def test_deploy_check_fails_an_unusable_contact_or_expiry(overrides):
    assert audit(**overrides) == [(next(iter(overrides)), False)]
