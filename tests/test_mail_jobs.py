"""Mail backends against a real SMTP server, and the real RQ worker against the real Redis."""

from __future__ import annotations

import email
import email.policy
import uuid
from collections.abc import Iterator

import pytest
import redis
from flask import Flask

from app.config import ConfigError
from app.mail import MailError, build_message, deliver
from tests.conftest import app_with_tables
from tests.helpers import post_form
from tests.mail_server import free_port, smtp_server
from tests.services import TEST_KEY_PREFIX
from tests.test_auth import NEW_PASSWORD, link_in, make_user, outbox, sign_in

# --- backends -------------------------------------------------------------


def a_message(app: Flask, to: str = "ada@example.com"):
    from app.models.user import User

    with app.test_request_context():
        user = User(email=to, display_name="Ada")
        return build_message(
            to, "Your password was changed", "mail/password_changed.txt", user=user, reset_url="x"
        )


@pytest.mark.settings(MAIL_FROM="Bastion <robot@example.org>")
def test_the_smtp_backend_logs_in_and_delivers_to_a_real_server(app):
    message = a_message(app)
    with smtp_server() as (inbox, port):
        app.config["MAIL_URL"] = f"smtp://bastion:s3cret%20pass@127.0.0.1:{port}?starttls=0"
        deliver(message, app)
    [received] = inbox.messages
    assert inbox.logins == ["bastion"]
    assert inbox.envelopes == [("robot@example.org", ["ada@example.com"])]
    assert received["Subject"] == "[Bastion] Your password was changed"
    assert received["Message-ID"].endswith("@example.org>")
    assert "Hello Ada," in received.get_content()


def test_starttls_verifies_the_server_certificate(app, tmp_path, monkeypatch):
    import shutil
    import ssl

    from tests.deployment.stack import make_certificate
    from tests.services import under_ci

    if shutil.which("openssl") is None:
        reason = "openssl is not installed; it makes the test certificate"
        if under_ci():
            pytest.fail(f"{reason} (CI=true: a missing tool is a failure)")
        pytest.skip(reason)
    cert, key = make_certificate(tmp_path)
    message = a_message(app)
    with smtp_server(tls=(cert, key)) as (inbox, port):
        app.config["MAIL_URL"] = f"smtp://bastion:s3cret%20pass@127.0.0.1:{port}"
        with pytest.raises(ssl.SSLCertVerificationError):
            deliver(message, app)  # a self-signed certificate nobody trusts
        assert inbox.messages == []
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # OpenSSL's default CA file: now trusted
        deliver(message, app)
    [received] = inbox.messages
    assert inbox.logins == ["bastion"]
    assert received["To"] == "ada@example.com"


def test_the_smtp_backend_refuses_a_server_without_starttls(app):
    message = a_message(app)
    with smtp_server() as (inbox, port):
        app.config["MAIL_URL"] = f"smtp://bastion:x@127.0.0.1:{port}"
        with pytest.raises(MailError, match="does not offer STARTTLS"):
            deliver(message, app)
    assert inbox.messages == []


def test_a_wrong_smtp_password_and_a_dead_server_raise(app):
    import smtplib

    message = a_message(app)
    with smtp_server() as (inbox, port):
        app.config["MAIL_URL"] = f"smtp://bastion:wrong@127.0.0.1:{port}?starttls=0"
        with pytest.raises(smtplib.SMTPAuthenticationError):
            deliver(message, app)
    app.config["MAIL_URL"] = f"smtps://127.0.0.1:{free_port()}"
    with pytest.raises(ConnectionRefusedError):
        deliver(message, app)
    assert inbox.messages == []


def test_the_file_backend_writes_one_eml_per_message(app, tmp_path):
    app.config["MAIL_URL"] = f"file://{tmp_path / 'mail'}"
    deliver(a_message(app), app)
    deliver(a_message(app, "bob@example.com"), app)
    files = sorted((tmp_path / "mail").glob("*.eml"))
    assert len(files) == 2
    recipients = {
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)["To"]
        for path in files
    }
    assert recipients == {"ada@example.com", "bob@example.com"}


def test_the_console_backend_prints_the_message(app, capsys):
    app.config["MAIL_URL"] = "console://"
    deliver(a_message(app), app)
    printed = capsys.readouterr().out
    assert "To: ada@example.com" in printed
    assert "Hello Ada," in printed


@pytest.mark.parametrize("url", ["smtp://", "gmail://x", "http://mail.example.com"])
def test_a_bad_mail_url_refuses_to_start(url):
    from tests.conftest import make_app

    with pytest.raises(ConfigError, match="MAIL_URL"):
        make_app(MAIL_URL=url)


def test_without_a_queue_a_failing_mail_is_logged_and_the_answer_is_the_same(app, client, caplog):
    make_user(app)
    app.config["MAIL_URL"] = f"smtp://127.0.0.1:{free_port()}?starttls=0"
    response = post_form(client, "/forgot-password", email="ada@example.com")
    assert response.status_code == 302
    assert "job app.auth.confirmation.send_reset_link failed in process" in caplog.text


def test_with_redis_down_the_mail_is_sent_in_the_request(app, client, caplog):
    make_user(app)
    app.config["JOBS_REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"  # nobody listens
    assert post_form(client, "/forgot-password", email="ada@example.com").status_code == 302
    assert "job queue unreachable" in caplog.text
    [message] = outbox(app)
    assert link_in(message, "/reset-password/")


# --- the real worker on the real Redis -------------------------------------


@pytest.fixture
def queued_app(redis_url: str) -> Iterator[Flask]:
    """An app whose jobs go to a queue of its own on the real Redis (removed afterwards)."""
    name = f"{TEST_KEY_PREFIX}mail-{uuid.uuid4().hex[:8]}"
    with app_with_tables(
        JOBS_REDIS_URL=redis_url, JOBS_QUEUE=name, JOBS_RETRY_INTERVALS=["0"]
    ) as application:
        yield application
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"*{name}*", count=1000))
    if keys:
        client.delete(*keys)


def run_worker(app: Flask) -> None:
    """Run every queued job in this process (RQ's SimpleWorker, burst mode)."""
    from rq import SimpleWorker

    from app.jobs import get_queue

    with app.app_context():
        queue = get_queue(app)
        SimpleWorker([queue], connection=queue.connection).work(burst=True, with_scheduler=False)


def test_the_worker_delivers_a_reset_mail_whose_link_works(queued_app):
    app = queued_app
    client = app.test_client()
    make_user(app)
    with smtp_server() as (inbox, port):
        app.config["MAIL_URL"] = f"smtp://bastion:s3cret%20pass@127.0.0.1:{port}?starttls=0"
        response = post_form(client, "/forgot-password", email="ada@example.com")
        assert response.status_code == 302
        assert inbox.messages == [], "the request only queues the mail"
        # An unknown address queues the same job (the worker looks the account up).
        post_form(client, "/forgot-password", email="nobody@example.com")
        from app.jobs import get_queue

        with app.app_context():
            assert get_queue(app).count == 2
        run_worker(app)
    [message] = inbox.messages
    assert outbox(app) == []
    path = link_in(message, "/reset-password/")
    reset = post_form(client, path, new_password=NEW_PASSWORD, confirm=NEW_PASSWORD)
    assert reset.headers["Location"] == "/sign-in"
    assert sign_in(client, password=NEW_PASSWORD).status_code == 302


def test_registration_queues_one_job_for_a_new_and_a_taken_address(queued_app):
    from app.jobs import get_queue
    from tests.test_auth import load, register

    app = queued_app
    make_user(app, email="taken@example.com")
    with smtp_server() as (inbox, port):
        app.config["MAIL_URL"] = f"smtp://127.0.0.1:{port}?starttls=0"
        for address in ("new@example.com", "taken@example.com"):
            assert register(app.test_client(), email=address).status_code == 302
        with app.app_context():
            assert get_queue(app).count == 2
        assert load(app, "new@example.com") is None, "the worker makes the account"
        run_worker(app)
    assert load(app, "new@example.com").email_confirmed_at is None
    subjects = {m["To"]: m["Subject"] for m in inbox.messages}
    assert subjects == {
        "new@example.com": "[Bastion] Confirm your email address",
        "taken@example.com": "[Bastion] Someone tried to register with your address",
    }
    client = app.test_client()
    confirm = next(m for m in inbox.messages if m["To"] == "new@example.com")
    assert post_form(client, link_in(confirm, "/confirm-email/")).status_code == 302
    assert sign_in(client, email="new@example.com").status_code == 302


def test_a_failing_job_is_retried_then_listed_retried_and_purged(queued_app):
    app = queued_app
    runner = app.test_cli_runner()
    make_user(app)
    client = app.test_client()
    app.config["MAIL_URL"] = f"smtp://127.0.0.1:{free_port()}?starttls=0"  # nobody listens
    post_form(client, "/forgot-password", email="ada@example.com")
    run_worker(app)  # the first try and its one retry (JOBS_RETRY_INTERVALS=0) fail
    listed = runner.invoke(args=["jobs", "list"])
    assert listed.exit_code == 0, listed.output
    [line] = [row for row in listed.stdout.splitlines() if "\t" in row]
    job_id, function, _, error = line.split("\t")
    assert function == "app.auth.confirmation.send_reset_link"
    assert "ConnectionRefusedError" in error
    assert "1 failed job(s)" in listed.stderr

    with smtp_server() as (inbox, port):
        app.config["MAIL_URL"] = f"smtp://127.0.0.1:{port}?starttls=0"
        assert runner.invoke(args=["jobs", "retry", "nope"]).exit_code == 1
        retried = runner.invoke(args=["jobs", "retry", job_id])
        assert "1 job(s) queued again" in retried.output
        run_worker(app)
    [message] = inbox.messages
    assert link_in(message, "/reset-password/")
    assert "0 failed job(s)" in runner.invoke(args=["jobs", "list"]).stderr

    app.config["MAIL_URL"] = f"smtp://127.0.0.1:{free_port()}?starttls=0"
    post_form(client, "/forgot-password", email="ada@example.com")
    run_worker(app)
    assert "1 failed job(s)" in runner.invoke(args=["jobs", "list"]).stderr
    assert "1 failed job(s) deleted" in runner.invoke(args=["jobs", "purge"]).output
    assert "0 failed job(s)" in runner.invoke(args=["jobs", "list"]).stderr


def test_flask_worker_runs_each_job_in_a_forked_child_with_the_app(queued_app):
    app = queued_app
    make_user(app)
    with smtp_server() as (inbox, port):
        app.config["MAIL_URL"] = f"smtp://127.0.0.1:{port}?starttls=0"
        post_form(app.test_client(), "/forgot-password", email="ada@example.com")
        result = app.test_cli_runner().invoke(args=["worker", "--burst"])
        assert result.exit_code == 0, result.output
    [message] = inbox.messages
    assert link_in(message, "/reset-password/")


def test_forged_and_malformed_tokens_name_nobody(app):
    from itsdangerous import URLSafeTimedSerializer

    from app.auth.tokens import PURPOSES, read_token

    make_user(app)
    with app.app_context():
        signer = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=PURPOSES["reset"][0])
        for payload in (["1", "x"], [1, 2], "text", [999, "x"]):
            assert read_token(signer.dumps(payload), "reset") is None, payload


def test_jobs_commands_explain_that_there_is_no_queue(runner):
    for args in (["jobs", "list"], ["jobs", "purge"], ["worker", "--burst"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 1
        assert "no job queue" in result.output
