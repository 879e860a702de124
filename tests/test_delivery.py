"""Email delivery end to end: the outbox written by API changes and the reminder scan,
relayed to Redis, delivered by RQ workers to a real SMTP server (tests/smtp_server.py),
over real PostgreSQL. Covers rendering, exactly-once delivery, Redis being down,
SMTP failures with backoff and the MSC admin's retry, and workers killed with SIGKILL
before and after the server has the whole message.

Jobs run inside `with app.app_context()` of an app built for the test (its own queue,
SMTP port, short lease and backoff), so workers.runtime.services() returns its services.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from rq import Queue
from sqlalchemy import Engine, RowMapping, text
from sqlalchemy.orm import Session

from app import clock
from app.config import Settings
from app.domain import members, outbox, reminders
from app.extensions import db, redis_connection
from app.factory import create_app
from app.integrations import mail
from app.local import DatabaseUrls
from app.models import Credential
from app.models.enums import MessageKind
from app.tenancy.context import use_context
from tests.conftest import MSC_SYSTEM, TwoTenants, bearer, token_for
from tests.queues import forget_queue, work
from tests.smtp_server import Behaviour, Received, SmtpServer, closed_port
from workers import jobs
from workers.runtime import system_session

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
INVITE = "/api/v1/admin/providers/invite"
OUTBOX = "/api/v1/admin/outbox"
LEASE_SECONDS = 2
CREDENTIAL_NUMBER = "MD-4455667788"
MASKED_NUMBER = "•" * (len(CREDENTIAL_NUMBER) - 4) + "7788"

AppFactory = Callable[..., Flask]


# --- fixtures -------------------------------------------------------------------


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def queue_name(redis_url: str) -> Iterator[str]:
    name = f"test-{uuid.uuid4().hex[:8]}"
    try:
        yield name
    finally:
        forget_queue(redis_url, name)


@pytest.fixture
def make_app(settings: Settings, smtp: SmtpServer, queue_name: str) -> Iterator[AppFactory]:
    """Apps delivering to the test's SMTP server through the test's queue; `overrides`
    replace any setting. Their pools and Redis clients are closed afterwards."""
    apps: list[Flask] = []

    def factory(**overrides: Any) -> Flask:
        values: dict[str, Any] = {
            "smtp_host": smtp.host,
            "smtp_port": smtp.port,
            "outbox_retry_base_seconds": 0,
            "outbox_lease_seconds": LEASE_SECONDS,
            "outbox_max_attempts": 3,
            "queue_name": queue_name,
            **overrides,
        }
        app = create_app(dataclasses.replace(settings, **values))
        apps.append(app)
        return app

    try:
        yield factory
    finally:
        for app in apps:
            with app.app_context():
                db.engine.dispose()
                redis_connection.client.close()


# --- running the jobs (and `work`, from tests/queues.py) --------------------------


def relay(app: Flask) -> int:
    with app.app_context():
        return jobs.relay_outbox()


def queued_jobs(app: Flask) -> int:
    with app.app_context():
        return Queue(app.config["SETTINGS"].queue_name, connection=redis_connection.client).count


# --- the database ---------------------------------------------------------------


def outbox_rows(admin_engine: Engine) -> list[RowMapping]:
    with admin_engine.connect() as connection:
        return list(
            connection.execute(
                text("SELECT * FROM outbox_messages ORDER BY created_at, idempotency_key")
            ).mappings()
        )


def outbox_row(admin_engine: Engine, message_id: uuid.UUID) -> RowMapping:
    with admin_engine.connect() as connection:
        return (
            connection.execute(
                text("SELECT * FROM outbox_messages WHERE id = :id"), {"id": message_id}
            )
            .mappings()
            .one()
        )


def make_due(admin_engine: Engine, message_id: uuid.UUID) -> None:
    """Instead of waiting out the backoff."""
    with admin_engine.begin() as connection:
        connection.execute(
            text("UPDATE outbox_messages SET next_attempt_at = now() WHERE id = :id"),
            {"id": message_id},
        )


def reminder_payload(link: str = "https://msc.example.com/x") -> dict[str, Any]:
    return {
        "recipient_name": "Dr. Ada Stone",
        "credential_label": "medical license",
        "provider_name": "Dr. Ada Stone",
        "masked_number": reminders.mask(CREDENTIAL_NUMBER),
        "expiry_date": "2030-01-31",
        "days_left": 30,
        "for_provider": True,
        "link": link,
    }


def add_messages(app: Flask, count: int, sealed_link: bool = False) -> list[str]:
    """Write `count` credential reminders straight into the outbox (`sealed_link`: their
    link sealed, as an invitation's is); returns their keys."""
    prefix = uuid.uuid4().hex[:8]
    keys = [f"test:{prefix}:{n}" for n in range(count)]
    sealer = outbox.Sealer(app.config["SETTINGS"].outbox_secret_key)
    payload = reminder_payload()
    sealed = sealer.seal({"link": payload.pop("link")}) if sealed_link else None
    with app.app_context(), system_session("test-setup") as session:
        for n, key in enumerate(keys):
            outbox.add(
                session,
                kind=MessageKind.CREDENTIAL_REMINDER,
                key=key,
                organization_id=None,
                recipient_email=f"reader{n}-{prefix}@example.com",
                recipient_user_id=None,
                subject="Your medical license expires in 30 days",
                template=MessageKind.CREDENTIAL_REMINDER,
                payload=payload if sealed_link else reminder_payload(),
                sealed_payload=sealed,
            )
    return keys


def add_credential(admin_engine: Engine, user_id: uuid.UUID, days: int) -> dt.date:
    expiry = clock.today() + dt.timedelta(days=days)
    with Session(admin_engine) as session:
        use_context(session, MSC_SYSTEM)
        session.add(
            Credential(
                user_id=user_id,
                owner_organization_ids=members.organizations_of(session, user_id),
                credential_type="medical_license",
                number=CREDENTIAL_NUMBER,
                state="TX",
                expiry_date=expiry,
            )
        )
        session.commit()
    return expiry


def invite(client: FlaskClient, seeded: TwoTenants, email: str) -> None:
    """Tenant A's admin invites `email` (as tests/test_invitations.py does); the link
    goes to the invitee only, through the outbox."""
    response = client.post(
        INVITE,
        json={
            "email": email,
            "name": "Dr. Nova Reyes",
            "role": "provider",
            "organization_id": str(seeded.a.organization.id),
            "facility_ids": [],
        },
        headers=bearer(token_for(client, seeded.a.admin)),
    )
    assert response.status_code == 201, response.get_json()


# --- reading what arrived -----------------------------------------------------------


def for_key(smtp: SmtpServer, settings: Settings, key: str) -> list[Received]:
    return smtp.with_message_id(mail.message_id(key, settings.smtp_sender))


def parts(received: Received) -> dict[str, str]:
    """content type -> decoded content of each part of a multipart/alternative."""
    message = received.message
    assert message.get_content_type() == "multipart/alternative"
    found: dict[str, str] = {}
    for part in message.iter_parts():
        content = part.get_content()
        assert isinstance(content, str)
        found[part.get_content_type()] = content
    return found


class _TextOf(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[str] = []

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)


def html_text(html: str) -> str:
    """What a reader sees: the text of the HTML, whitespace collapsed as browsers do."""
    parser = _TextOf()
    parser.feed(html)
    return " ".join("".join(parser.chunks).split())


# --- 1. rendering ---------------------------------------------------------------------


def test_credential_reminder_has_text_and_html_and_masks_the_number(
    seeded: TwoTenants,
    smtp: SmtpServer,
    make_app: AppFactory,
    admin_engine: Engine,
) -> None:
    app = make_app()
    expiry = add_credential(admin_engine, seeded.shared_provider.id, days=30)
    with app.app_context():
        jobs.scan_reminders()
    work(app)

    [own] = smtp.to(seeded.shared_provider.email)
    [staff] = smtp.to(seeded.a.admin.email)
    for received in (own, staff):
        found = parts(received)
        assert set(found) == {"text/plain", "text/html"}
        for content in found.values():
            assert MASKED_NUMBER in content
            assert "30 days" in content
            assert expiry.isoformat() in content
        # Only the last four characters travel, in no part and no header.
        assert CREDENTIAL_NUMBER.encode() not in received.raw
        assert b"4455667788" not in received.raw
    assert "Your medical license" in parts(own)["text/plain"]
    assert seeded.shared_provider.name in parts(staff)["text/plain"]
    assert all(row["status"] == "sent" for row in outbox_rows(admin_engine))
    assert not any(CREDENTIAL_NUMBER in str(row["payload"]) for row in outbox_rows(admin_engine))


def test_credential_reminder_keeps_words_and_the_link_apart() -> None:
    """What the reader sees: in the HTML part the credential, its number and its expiry
    are separate words; in the text part the link stands on its own line (a mail
    client's linkifier must see it alone)."""
    link = "https://msc.example.com/api/v1/me/credentials/42"
    rendered = mail.render(
        "credential_reminder",
        reminder_payload(link),
        sender="MSC Organizations <no-reply@msc.example.com>",
        recipient="ada@example.com",
        subject="Your medical license expires in 30 days",
        idempotency_key="test:wording",
    )
    html = next(p for p in rendered.iter_parts() if p.get_content_type() == "text/html")
    plain = next(p for p in rendered.iter_parts() if p.get_content_type() == "text/plain")
    seen = html_text(html.get_content())
    text_lines = plain.get_content().splitlines()
    problems = []
    if f"Your medical license (number {MASKED_NUMBER}) expires on 2030-01-31" not in seen:
        problems.append(f"the HTML part reads: {seen!r}")
    if link not in text_lines:
        problems.append(f"the link is not on a line of its own in the text part: {text_lines!r}")
    assert not problems, "\n".join(problems)


# --- 2. an invitation through the API --------------------------------------------------


def test_invitation_is_delivered_exactly_once_with_its_sealed_link(
    client: FlaskClient,
    seeded: TwoTenants,
    smtp: SmtpServer,
    make_app: AppFactory,
    admin_engine: Engine,
    settings: Settings,
) -> None:
    app = make_app()
    invite(client, seeded, "nova.reyes@example.com")

    [row] = outbox_rows(admin_engine)
    assert (row["kind"], row["status"], row["attempts"]) == ("invitation", "pending", 0)
    assert row["recipient_email"] == "nova.reyes@example.com"
    sealed_url = outbox.Sealer(settings.outbox_secret_key).unseal(row["sealed_payload"])
    accept_url: str = sealed_url["accept_url"]
    assert accept_url not in str(row["payload"])  # the link is stored only sealed

    assert relay(app) == 1
    assert outbox_row(admin_engine, row["id"])["status"] == "queued"
    work(app)

    [received] = for_key(smtp, settings, row["idempotency_key"])
    assert smtp.received == [received]
    assert received.rcpt_tos == ("nova.reyes@example.com",)
    assert received.mail_from == "no-reply@msc.example.com"
    assert str(received.message["Subject"]) == "Tenant A invites you to MSC"
    found = parts(received)
    # The link, rendered from the sealed payload, on a line of its own and as the href.
    assert accept_url in found["text/plain"].splitlines()
    assert f'href="{accept_url}"' in found["text/html"]
    # ...and it opens the invitation.
    prefix = f"{settings.public_base_url.rstrip('/')}/invitations/"
    assert accept_url.startswith(prefix) and accept_url.endswith("/accept")
    token = accept_url.removeprefix(prefix).removesuffix("/accept")
    with admin_engine.connect() as connection:
        stored_hash = connection.execute(text("SELECT token_hash FROM invitations")).scalar_one()
    assert stored_hash == hashlib.sha256(token.encode()).hexdigest()
    preview = client.get(f"/api/v1/invitations/{token}")
    assert preview.status_code == 200, preview.get_json()
    assert preview.get_json()["organization_name"] == "Tenant A"

    sent = outbox_row(admin_engine, row["id"])
    assert (sent["status"], sent["attempts"], sent["last_error"]) == ("sent", 1, None)
    assert sent["sealed_payload"] is None  # the link does not outlive delivery
    assert sent["smtp_reply"].startswith("250") and sent["sent_at"] is not None
    assert sent["lease_until"] is None

    # Relaying and working again sends nothing more.
    assert relay(app) == 0
    work(app)
    assert len(smtp.received) == 1


def test_a_replaced_or_revoked_invitation_cancels_its_waiting_email(
    client: FlaskClient,
    seeded: TwoTenants,
    smtp: SmtpServer,
    make_app: AppFactory,
    admin_engine: Engine,
    settings: Settings,
) -> None:
    """No email with a dead link goes out while it can still be stopped: re-inviting
    cancels the old token's email, even one handed to the queue already, and revoking
    cancels the invitation's. An email a worker has claimed already is left to it."""
    app = make_app()
    invite(client, seeded, "nova.reyes@example.com")
    assert relay(app) == 1  # its job waits in the queue
    invite(client, seeded, "nova.reyes@example.com")
    old, new = outbox_rows(admin_engine)
    assert old["invitation_id"] == new["invitation_id"] is not None
    assert (old["status"], old["sealed_payload"]) == ("cancelled", None)
    assert new["status"] == "pending" and new["sealed_payload"] is not None

    assert relay(app) == 1
    work(app)  # the cancelled message's job finds nothing to send
    assert [r.message_id for r in smtp.received] == [
        mail.message_id(new["idempotency_key"], settings.smtp_sender)
    ]
    assert outbox_row(admin_engine, old["id"])["status"] == "cancelled"

    admin = bearer(token_for(client, seeded.a.admin))

    def revoke(invitation_id: uuid.UUID) -> None:
        response = client.post(f"/api/v1/admin/invitations/{invitation_id}/revoke", headers=admin)
        assert response.status_code == 200, response.get_json()

    invite(client, seeded, "waiting@example.com")
    [waiting] = [
        r for r in outbox_rows(admin_engine) if r["recipient_email"] == "waiting@example.com"
    ]
    revoke(waiting["invitation_id"])
    assert outbox_row(admin_engine, waiting["id"])["status"] == "cancelled"
    assert relay(app) == 0

    invite(client, seeded, "in.flight@example.com")
    [claimed] = [
        r for r in outbox_rows(admin_engine) if r["recipient_email"] == "in.flight@example.com"
    ]
    with app.app_context(), system_session("test-worker") as session:
        policy = outbox.RetryPolicy.from_settings(app.config["SETTINGS"])
        assert outbox.claim(session, claimed["id"], clock.now(), policy) is not None
    revoke(claimed["invitation_id"])
    assert outbox_row(admin_engine, claimed["id"])["status"] == "sending"
    work(app)
    assert len(smtp.received) == 1


# --- 3. Redis down when the change is made ------------------------------------------------


def test_relay_with_redis_unreachable_leaves_the_row_pending(
    client: FlaskClient,
    seeded: TwoTenants,
    smtp: SmtpServer,
    make_app: AppFactory,
    admin_engine: Engine,
    settings: Settings,
) -> None:
    app = make_app()
    no_redis = make_app(redis_url="redis://127.0.0.1:1/0")
    invite(client, seeded, "late.reader@example.com")
    [row] = outbox_rows(admin_engine)

    # It raises (the relay's transaction rolls back) or queues nothing.
    relayed: int | None
    try:
        relayed = relay(no_redis)
    except redis.exceptions.ConnectionError:
        relayed = None
    assert relayed in (None, 0)

    after = outbox_row(admin_engine, row["id"])
    assert (after["status"], after["attempts"]) == ("pending", 0)
    assert queued_jobs(app) == 0
    assert smtp.received == []

    assert relay(app) == 1
    work(app)
    assert relay(app) == 0
    work(app)
    assert len(for_key(smtp, settings, row["idempotency_key"])) == 1
    assert len(smtp.received) == 1
    assert outbox_row(admin_engine, row["id"])["status"] == "sent"


def test_a_job_lost_before_its_claim_is_queued_again_after_the_requeue_interval(
    clean_database: None,
    smtp: SmtpServer,
    make_app: AppFactory,
    admin_engine: Engine,
    settings: Settings,
) -> None:
    app = make_app(outbox_requeue_seconds=5)
    [key] = add_messages(app, 1)
    assert relay(app) == 1
    with app.app_context():
        Queue(app.config["SETTINGS"].queue_name, connection=redis_connection.client).empty()
    assert queued_jobs(app) == 0  # Redis lost the job; the row says `queued`

    assert relay(app) == 0  # too soon to tell a lost job from one still waiting
    with clock.frozen(clock.now() + dt.timedelta(seconds=6)):
        assert relay(app) == 1
    work(app)
    assert len(for_key(smtp, settings, key)) == 1
    [row] = outbox_rows(admin_engine)
    assert (row["status"], row["attempts"]) == ("sent", 1)


# --- 4. SMTP failures, backoff, failed, the MSC admin's retry ---------------------------------


def _attempt(
    app: Flask, admin_engine: Engine, message_id: uuid.UUID
) -> tuple[RowMapping, dt.datetime, dt.datetime]:
    """Relay and deliver once; returns the row and the times around the attempt."""
    assert relay(app) == 1
    before = dt.datetime.now(dt.UTC)
    work(app)
    after = dt.datetime.now(dt.UTC)
    return outbox_row(admin_engine, message_id), before, after


def test_smtp_failures_back_off_then_fail_and_an_msc_admin_retries(
    client: FlaskClient,
    seeded: TwoTenants,
    smtp: SmtpServer,
    make_app: AppFactory,
    admin_engine: Engine,
    settings: Settings,
) -> None:
    # A first backoff long enough that "not due yet" cannot flip on a slow machine.
    app = make_app(outbox_retry_base_seconds=30)
    refused = make_app(outbox_retry_base_seconds=30, smtp_port=closed_port())
    invite(client, seeded, "unlucky@example.com")
    [row] = outbox_rows(admin_engine)
    message_id = row["id"]

    # 1: nothing listens on the port.
    first, before, after = _attempt(refused, admin_engine, message_id)
    assert (first["status"], first["attempts"]) == ("pending", 1)
    assert "refused" in first["last_error"].lower(), first["last_error"]
    assert first["lease_until"] is None and first["sent_at"] is None
    delay = dt.timedelta(seconds=30)
    assert before + delay <= first["next_attempt_at"] <= after + delay

    # Not due yet: the relay leaves it alone.
    assert relay(app) == 0
    make_due(admin_engine, message_id)

    # 2: the recipient is refused for now (4xx).
    smtp.set_behaviour(Behaviour.RCPT_TEMPFAIL)
    second, before, after = _attempt(app, admin_engine, message_id)
    assert (second["status"], second["attempts"]) == ("pending", 2)
    assert "451" in second["last_error"], second["last_error"]
    delay = dt.timedelta(seconds=60)
    assert before + delay <= second["next_attempt_at"] <= after + delay
    make_due(admin_engine, message_id)

    # 3: the message itself is refused (5xx after the end of data), the last attempt.
    smtp.set_behaviour(Behaviour.DATA_PERMFAIL)
    third, _, _ = _attempt(app, admin_engine, message_id)
    assert (third["status"], third["attempts"]) == ("failed", 3)
    assert "554" in third["last_error"], third["last_error"]
    assert third["sent_at"] is None and third["smtp_reply"] is None
    assert third["sealed_payload"] is not None  # kept, for a retry
    assert smtp.received == []
    make_due(admin_engine, message_id)
    assert relay(app) == 0  # failed rows are not retried on their own

    # Only an MSC admin sees and retries it.
    org_admin = bearer(token_for(client, seeded.a.admin))
    assert client.get(f"{OUTBOX}?status=failed", headers=org_admin).status_code == 403
    assert client.post(f"{OUTBOX}/{message_id}/retry", headers=org_admin).status_code == 403
    assert outbox_row(admin_engine, message_id)["status"] == "failed"

    msc = bearer(token_for(client, seeded.msc_admin))
    listed = client.get(f"{OUTBOX}?status=failed", headers=msc)
    assert listed.status_code == 200, listed.get_json()
    [failed] = listed.get_json()
    assert failed["id"] == str(message_id)
    assert failed["status"] == "failed" and failed["attempts"] == 3
    assert "554" in failed["last_error"]
    assert client.get(f"{OUTBOX}?status=sent", headers=msc).get_json() == []

    retried = client.post(f"{OUTBOX}/{message_id}/retry", headers=msc)
    assert retried.status_code == 200, retried.get_json()
    assert (retried.get_json()["status"], retried.get_json()["attempts"]) == ("pending", 0)
    # A second retry of a message that is no longer failed is refused.
    assert client.post(f"{OUTBOX}/{message_id}/retry", headers=msc).status_code == 409

    smtp.set_behaviour(Behaviour.ACCEPT)
    delivered, _, _ = _attempt(app, admin_engine, message_id)
    assert (delivered["status"], delivered["attempts"], delivered["last_error"]) == (
        "sent",
        1,
        None,
    )
    assert delivered["sealed_payload"] is None
    assert relay(app) == 0
    work(app)
    [received] = for_key(smtp, settings, row["idempotency_key"])
    assert received.rcpt_tos == ("unlucky@example.com",)
    assert len(smtp.received) == 1


def test_a_message_that_cannot_be_built_fails_at_once_with_the_error(
    client: FlaskClient,
    seeded: TwoTenants,
    smtp: SmtpServer,
    make_app: AppFactory,
    admin_engine: Engine,
) -> None:
    """A line break in the organization's name (written past the API) would go into the
    invitation's Subject header: the message cannot be built, and no retry changes that."""
    app = make_app()
    with admin_engine.begin() as connection:
        connection.execute(
            text("UPDATE organizations SET name = :name WHERE id = :id"),
            {"name": "Tenant A\r\nBcc: someone@example.com", "id": seeded.a.organization.id},
        )
    invite(client, seeded, "nova.reyes@example.com")
    [row] = outbox_rows(admin_engine)

    assert relay(app) == 1
    work(app)
    failed = outbox_row(admin_engine, row["id"])
    assert (failed["status"], failed["attempts"]) == ("failed", 1)
    assert failed["last_error"].startswith("the message cannot be built: ValueError")
    assert "linefeed" in failed["last_error"], failed["last_error"]
    assert failed["lease_until"] is None and failed["sent_at"] is None
    assert smtp.received == []
    make_due(admin_engine, row["id"])
    assert relay(app) == 0


def test_a_message_whose_worker_keeps_dying_fails_when_its_attempts_are_spent(
    clean_database: None, make_app: AppFactory, admin_engine: Engine
) -> None:
    app = make_app(outbox_max_attempts=2)
    add_messages(app, 1)
    [row] = outbox_rows(admin_engine)
    policy = outbox.RetryPolicy.from_settings(app.config["SETTINGS"])
    for attempt in (1, 2):
        assert relay_after_the_leases(app) == 1
        # A worker claims the message, then dies with it (its lease runs out).
        with app.app_context(), system_session("test-worker") as session:
            claimed = outbox.claim(session, row["id"], clock.now(), policy)
            assert claimed is not None and claimed.attempts == attempt

    assert relay_after_the_leases(app) == 0
    failed = outbox_row(admin_engine, row["id"])
    assert (failed["status"], failed["attempts"], failed["last_error"]) == (
        "failed",
        2,
        "the worker stopped before finishing",
    )


# --- 5 and 6. a worker killed with SIGKILL ------------------------------------------------


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (RQ's work horse runs in its own group)."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after the last ")".
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def _kill(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


class RqWorkerProcess:
    """A real `rq worker` (the deployment's Worker class) in a session of its own, its
    output in `log`."""

    def __init__(
        self,
        settings: Settings,
        urls: DatabaseUrls,
        redis_url: str,
        smtp_port: int,
        queue_name: str,
        log: Path,
        burst: bool = False,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": urls.app,
            "DATABASE_OWNER_URL": urls.owner,
            "DATABASE_ADMIN_URL": urls.admin,
            "REDIS_URL": redis_url,
            "REGION": "test",
            "APP_ENV": "test",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(smtp_port),
            "OUTBOX_LEASE_SECONDS": str(LEASE_SECONDS),
            "OUTBOX_RETRY_BASE_SECONDS": "0",
            "OUTBOX_MAX_ATTEMPTS": "3",
            "QUEUE_NAME": queue_name,
            "JWT_SECRET_KEY": settings.jwt_secret_key,
            "OUTBOX_SECRET_KEY": settings.outbox_secret_key,
            "PYTHONPATH": str(ROOT),
            **(environ or {}),
        }
        command = [
            sys.executable,
            "-m",
            "rq.cli",
            "worker",
            "--url",
            redis_url,
            "--worker-class",
            "workers.worker.Worker",
            "--name",
            f"{queue_name}-worker",
            *(["--burst"] if burst else []),
            queue_name,
        ]
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the worker and its work horse, as a node failure would."""
        _kill([*_children(self.process.pid), self.process.pid])
        self.process.wait(timeout=10)

    def stop(self) -> None:
        # A worker that exited by itself (burst) has waited for its horses already.
        if self.process.poll() is None:
            self.kill()


@pytest.fixture
def rq_worker(
    settings: Settings,
    database_urls: DatabaseUrls,
    redis_url: str,
    smtp: SmtpServer,
    queue_name: str,
    tmp_path: Path,
) -> Iterator[Callable[..., RqWorkerProcess]]:
    """Starts `rq worker` subprocesses (`burst=True`: until the queue is empty;
    `environ`: variables of the worker's own); all are SIGKILLed at the end if still
    running."""
    started: list[RqWorkerProcess] = []

    def start(burst: bool = False, environ: Mapping[str, str] | None = None) -> RqWorkerProcess:
        worker = RqWorkerProcess(
            settings,
            database_urls,
            redis_url,
            smtp.port,
            queue_name,
            tmp_path / f"worker-{len(started)}.log",
            burst=burst,
            environ=environ,
        )
        started.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in started:
            worker.stop()


def relay_after_the_leases(app: Flask) -> int:
    """Relay with the clock set past every lease taken so far, instead of waiting them out."""
    with clock.frozen(clock.now() + dt.timedelta(seconds=LEASE_SECONDS + 1)):
        return relay(app)


@pytest.mark.process
def test_worker_killed_before_the_server_accepted_is_sent_again_once(
    clean_database: None,
    smtp: SmtpServer,
    make_app: AppFactory,
    rq_worker: Callable[..., RqWorkerProcess],
    admin_engine: Engine,
    settings: Settings,
) -> None:
    app = make_app()
    [key] = add_messages(app, 1)
    [row] = outbox_rows(admin_engine)
    smtp.set_behaviour(Behaviour.BLOCK_RCPT)

    assert relay(app) == 1
    worker = rq_worker()
    assert smtp.rcpt_blocking.wait(timeout=30), worker.output()
    held = outbox_row(admin_engine, row["id"])
    assert (held["status"], held["attempts"]) == ("sending", 1)
    assert held["lease_until"] is not None

    worker.kill()
    smtp.set_behaviour(Behaviour.ACCEPT)
    smtp.release()
    assert smtp.wait_rcpt_holds_ended(1), "the held transaction should have ended"
    assert smtp.received == []  # the held connection was dropped, nothing stored
    assert outbox_row(admin_engine, row["id"])["status"] == "sending"

    assert relay_after_the_leases(app) == 1  # the abandoned row is recovered and queued again
    recovered = outbox_row(admin_engine, row["id"])
    assert recovered["status"] == "queued"
    assert recovered["last_error"] == "the worker stopped before finishing"
    work(app)

    assert len(for_key(smtp, settings, key)) == 1
    assert len(smtp.received) == 1
    done = outbox_row(admin_engine, row["id"])
    assert (done["status"], done["attempts"], done["last_error"]) == ("sent", 2, None)
    assert relay(app) == 0


@pytest.mark.process
def test_worker_killed_after_the_server_has_the_message_sends_nothing_twice(
    clean_database: None,
    smtp: SmtpServer,
    make_app: AppFactory,
    rq_worker: Callable[..., RqWorkerProcess],
    admin_engine: Engine,
    settings: Settings,
) -> None:
    app = make_app()
    [key] = add_messages(app, 1, sealed_link=True)
    [row] = outbox_rows(admin_engine)
    assert row["sealed_payload"] is not None
    smtp.set_behaviour(Behaviour.BLOCK_DATA)

    assert relay(app) == 1
    worker = rq_worker()
    assert smtp.data_blocking.wait(timeout=30), worker.output()
    # Marked sent (and committed) before the end-of-data mark the server now holds, and
    # its secret erased by the same update: the worker dies here, and no secret is left.
    held = outbox_row(admin_engine, row["id"])
    assert (held["status"], held["attempts"]) == ("sent", 1)
    assert held["sent_at"] is not None and held["smtp_reply"] is None
    assert held["sealed_payload"] is None

    worker.kill()
    smtp.set_behaviour(Behaviour.ACCEPT)
    smtp.release()
    assert smtp.wait_held_stored(1), "the server should have stored the held message"

    assert relay_after_the_leases(app) == 0  # a sent row is never sent again
    work(app)  # sends in this process: anything it sent has arrived when it returns

    [received] = for_key(smtp, settings, key)
    assert "https://msc.example.com/x" in parts(received)["text/plain"]  # unsealed, sent
    assert len(smtp.received) == 1
    after = outbox_row(admin_engine, row["id"])
    assert (after["status"], after["attempts"], after["sealed_payload"]) == ("sent", 1, None)


def test_a_lost_reply_to_the_end_of_data_does_not_send_the_message_twice(
    clean_database: None,
    smtp: SmtpServer,
    make_app: AppFactory,
    admin_engine: Engine,
    settings: Settings,
) -> None:
    """The server has the whole message and its end-of-data, then its reply never comes
    back in time (smtp_timeout_seconds). As with the worker killed at that point (test
    above), the sender cannot tell whether the server accepted, and the outbox promises
    at most one delivery per key: the message must not be sent a second time."""
    app = make_app(smtp_timeout_seconds=1)
    [key] = add_messages(app, 1)
    [row] = outbox_rows(admin_engine)
    smtp.set_behaviour(Behaviour.BLOCK_DATA)

    assert relay(app) == 1
    work(app)  # waits 1 s for the reply to the end-of-data mark, then gives up
    assert smtp.blocked == 1
    after_timeout = outbox_row(admin_engine, row["id"])

    smtp.set_behaviour(Behaviour.ACCEPT)
    smtp.release()  # the server had taken responsibility: it delivers the message
    assert smtp.wait_held_stored(1)

    make_due(admin_engine, row["id"])
    relay(app)
    work(app)
    copies = for_key(smtp, settings, key)
    assert len(copies) == 1, (
        f"{len(copies)} copies of one message (one Message-ID) were delivered; after the"
        f" lost reply the row was {after_timeout['status']!r} (attempts"
        f" {after_timeout['attempts']}, last_error {after_timeout['last_error']!r})"
    )
    assert outbox_row(admin_engine, row["id"])["status"] == "sent"


# --- 7. the reminder scan end to end ------------------------------------------------------


def test_reminder_scan_delivers_to_the_provider_and_both_tenants_admins_once(
    seeded: TwoTenants,
    smtp: SmtpServer,
    make_app: AppFactory,
    admin_engine: Engine,
) -> None:
    app = make_app()
    add_credential(admin_engine, seeded.shared_provider.id, days=30)

    with app.app_context():
        assert jobs.scan_reminders() == 3
    work(app)

    expected = {seeded.shared_provider.email, seeded.a.admin.email, seeded.b.admin.email}
    delivered = [address for r in smtp.received for address in r.rcpt_tos]
    assert sorted(delivered) == sorted(expected)
    assert {r.message_id for r in smtp.received} == {
        mail.message_id(row["idempotency_key"], app.config["SETTINGS"].smtp_sender)
        for row in outbox_rows(admin_engine)
    }
    rows = outbox_rows(admin_engine)
    assert len(rows) == 3 and all(row["status"] == "sent" for row in rows)
    # The tenants' messages are filed under their organizations; the provider's under none.
    assert {(row["recipient_email"], row["organization_id"]) for row in rows} == {
        (seeded.shared_provider.email, None),
        (seeded.a.admin.email, seeded.a.organization.id),
        (seeded.b.admin.email, seeded.b.organization.id),
    }
    # Office managers are not assigned to the facilities here: they hear nothing.
    assert smtp.to(seeded.a.office_manager.email) == []

    with app.app_context():
        assert jobs.scan_reminders() == 0
    assert relay(app) == 0
    work(app)
    assert len(smtp.received) == 3
    assert len(outbox_rows(admin_engine)) == 3


# --- throughput ------------------------------------------------------------------------


def test_simple_worker_throughput_for_200_messages(
    clean_database: None,
    smtp: SmtpServer,
    make_app: AppFactory,
    admin_engine: Engine,
) -> None:
    app = make_app()
    keys = add_messages(app, 200)
    assert relay(app) == 200

    started = time.perf_counter()
    work(app)
    elapsed = time.perf_counter() - started

    per_minute = len(keys) / elapsed * 60
    print(
        f"\n[delivery] one in-process SimpleWorker: {len(keys)} messages in {elapsed:.2f}s"
        f" = {per_minute:.0f} messages/minute",
        flush=True,
    )
    sender = app.config["SETTINGS"].smtp_sender
    assert sorted(r.message_id or "" for r in smtp.received) == sorted(
        mail.message_id(key, sender) for key in keys
    )
    assert {row["status"] for row in outbox_rows(admin_engine)} == {"sent"}


def test_the_dashboard_feed_shows_who_invited_not_the_emails_delivery(
    client: FlaskClient, seeded: TwoTenants, make_app: AppFactory, admin_engine: Engine
) -> None:
    app = make_app()
    invite(client, seeded, "nova.reyes@example.com")
    assert relay(app) == 1
    work(app)
    [row] = outbox_rows(admin_engine)
    assert row["status"] == "sent"
    with admin_engine.connect() as connection:
        # the trail keeps the delivery's bookkeeping
        kept = connection.scalars(
            text(
                "SELECT action FROM audit_events WHERE table_name = 'outbox_messages'"
                " ORDER BY occurred_at"
            )
        ).all()
    assert kept == ["insert", "update", "update", "update", "update"]

    dashboard = f"/api/v1/admin/organizations/{seeded.a.organization.id}/dashboard"
    token = token_for(client, seeded.a.admin)
    feed = client.get(dashboard, headers=bearer(token)).get_json()["recent_activity"]
    assert feed[0]["summary"] == f"{seeded.a.admin.name} added an invitation"
    assert [a for a in feed if a["table_name"] == "outbox_messages"] == []
    assert [a for a in feed if a["actor_name"] == "MSC"] == []
