"""Webhook delivery end to end: events recorded over real PostgreSQL, relayed to Redis,
posted by RQ workers (a real `rq worker` process, and rq's SimpleWorker in this process)
to a real HTTP receiver that verifies each signature with the `standardwebhooks` package
(tests/webhook_receiver.py). Covers signed delivery once per event, retries, disabling,
secret rotation, replay, the answer's limits (time, size, redirects), and the refusal of
addresses that are not public (server-side request forgery).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine, RowMapping, text

from app import clock
from app.config import Settings
from app.domain import webhooks
from app.domain.outbox import Sealer
from app.extensions import db, redis_connection
from app.factory import create_app
from app.integrations import webhook_http
from app.local import DatabaseUrls
from app.models import Organization
from app.models.enums import WebhookEventType
from app.tenancy.context import use_context
from tests.conftest import MSC_SYSTEM, TwoTenants
from tests.queues import forget_queue, work
from tests.smtp_server import closed_port
from tests.webhook_receiver import Receiver
from workers import jobs

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
JOINED = WebhookEventType.PROVIDER_JOINED
LOOPBACK = "127.0.0.1/32"
NOT_PUBLIC = "refused: the host resolves to an address that is not public"

AppFactory = Callable[..., Flask]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as server:
        yield server


@pytest.fixture
def queue_name(redis_url: str) -> Iterator[str]:
    name = f"test-{uuid.uuid4().hex[:8]}"
    try:
        yield name
    finally:
        forget_queue(redis_url, name)


@pytest.fixture
def make_app(settings: Settings, queue_name: str) -> Iterator[AppFactory]:
    """Apps delivering through the test's queue to the loopback receiver (allowed), with
    retries at once; `overrides` replace any setting."""
    apps: list[Flask] = []

    def factory(**overrides: Any) -> Flask:
        values: dict[str, Any] = {
            "queue_name": queue_name,
            "webhook_allowed_networks": (ipaddress.ip_network(LOOPBACK),),
            "webhook_retry_delays": (0, 0),
            "webhook_timeout_seconds": 2.0,
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


def _endpoint(
    app: Flask, organization: Organization, url: str, types: tuple[str, ...] = (JOINED,)
) -> tuple[uuid.UUID, str]:
    """Register an endpoint (committed); its id and secret."""
    with app.app_context():
        session = db.session
        use_context(session, MSC_SYSTEM)
        endpoint, secret = webhooks.create_endpoint(
            session,
            session.get_one(Organization, organization.id),
            {"url": url, "event_types": list(types)},
            sealer=Sealer(app.config["SETTINGS"].outbox_secret_key),
            created_by_id=None,
            require_https=False,
        )
        session.commit()
        return endpoint.id, secret


def _record(app: Flask, organization: Organization, data: dict[str, Any]) -> None:
    with app.app_context():
        session = db.session
        use_context(session, MSC_SYSTEM)
        webhooks.record(session, organization.id, JOINED, data)
        session.commit()


def _run(app: Flask) -> int:
    """Relay what is due and deliver it in this process (rq's SimpleWorker, burst)."""
    with app.app_context():
        relayed = jobs.relay_webhooks()
    work(app)
    return relayed


def _deliveries(admin_engine: Engine) -> list[RowMapping]:
    with admin_engine.connect() as connection:
        return list(
            connection.execute(
                text("SELECT * FROM webhook_deliveries ORDER BY created_at, id")
            ).mappings()
        )


def _attempts(admin_engine: Engine) -> list[RowMapping]:
    with admin_engine.connect() as connection:
        return list(
            connection.execute(
                text("SELECT * FROM webhook_attempts ORDER BY attempted_at, number")
            ).mappings()
        )


def _event_ids(admin_engine: Engine) -> list[str]:
    with admin_engine.connect() as connection:
        return [str(i) for i in connection.scalars(text("SELECT id FROM webhook_events"))]


# --- delivery -------------------------------------------------------------------


@pytest.mark.process
def test_a_real_worker_posts_each_event_once_signed_to_its_organizations_endpoint_alone(
    seeded: TwoTenants,
    make_app: AppFactory,
    receiver: Receiver,
    admin_engine: Engine,
    settings: Settings,
    database_urls: DatabaseUrls,
    redis_url: str,
    queue_name: str,
    tmp_path: Path,
) -> None:
    other = Receiver().start()
    try:
        app = make_app()
        _, secret = _endpoint(app, seeded.a.organization, receiver.url())
        _, other_secret = _endpoint(app, seeded.b.organization, other.url())
        receiver.secrets, other.secrets = [secret], [other_secret]
        _record(app, seeded.a.organization, {"n": 1})
        _record(app, seeded.a.organization, {"n": 2})
        with app.app_context():
            assert jobs.relay_webhooks() == 2

        log = tmp_path / "worker.log"
        environment = {
            **os.environ,
            "DATABASE_URL": database_urls.app,
            "DATABASE_OWNER_URL": database_urls.owner,
            "DATABASE_ADMIN_URL": database_urls.admin,
            "REDIS_URL": redis_url,
            "REGION": "test",
            "APP_ENV": "test",
            "QUEUE_NAME": queue_name,
            "OUTBOX_SECRET_KEY": settings.outbox_secret_key,
            "WEBHOOK_ALLOWED_NETWORKS": LOOPBACK,
            "PYTHONPATH": str(ROOT),
        }
        command = [
            sys.executable,
            *("-m", "rq.cli", "worker", "--burst", "--url", redis_url),
            *("--worker-class", "workers.worker.Worker", queue_name),
        ]
        with log.open("wb") as out:
            finished = subprocess.run(
                command, cwd=ROOT, env=environment, stdout=out, stderr=subprocess.STDOUT, timeout=60
            )
        assert finished.returncode == 0, log.read_text()

        assert receiver.wait_for(lambda got: len(got) == 2), log.read_text()
        got = sorted(receiver.received, key=lambda d: d.payload["data"]["n"])
        assert all(d.verified for d in got)
        assert sorted(d.webhook_id for d in got) == sorted(_event_ids(admin_engine))
        assert [d.payload["type"] for d in got] == [JOINED, JOINED]
        assert [d.payload["data"] for d in got] == [{"n": 1}, {"n": 2}]
        assert all(d.headers["content-type"] == "application/json" for d in got)
        assert other.received == []
        assert [d["status"] for d in _deliveries(admin_engine)] == ["delivered", "delivered"]
        attempts = _attempts(admin_engine)
        assert [(a["number"], a["status_code"], a["response_body"]) for a in attempts] == [
            (1, 200, "ok"),
            (1, 200, "ok"),
        ]
        assert all(a["latency_ms"] >= 0 and a["error"] is None for a in attempts)
        # delivered: nothing left to do, however often the relay and workers run again
        assert _run(app) == 0
        assert len(receiver.received) == 2
    finally:
        other.stop()


def test_a_failed_attempt_is_retried_under_the_same_id_until_delivered(
    seeded: TwoTenants, make_app: AppFactory, receiver: Receiver, admin_engine: Engine
) -> None:
    app = make_app()
    receiver.secrets = [_endpoint(app, seeded.a.organization, receiver.url())[1]]
    receiver.script.answers = [500, 503]
    _record(app, seeded.a.organization, {"n": 1})
    for _ in range(3):
        _run(app)
    assert [d.verified for d in receiver.received] == [True, True, True]
    assert len({d.webhook_id for d in receiver.received}) == 1
    (delivery,) = _deliveries(admin_engine)
    assert (delivery["status"], delivery["attempts"]) == ("delivered", 3)
    codes = [(a["number"], a["status_code"]) for a in _attempts(admin_engine)]
    assert codes == [(1, 500), (2, 503), (3, 200)]


def test_spent_attempts_fail_and_a_replay_delivers_again_under_the_same_id(
    seeded: TwoTenants, make_app: AppFactory, receiver: Receiver, admin_engine: Engine
) -> None:
    app = make_app()
    endpoint_id, secret = _endpoint(app, seeded.a.organization, receiver.url())
    receiver.secrets = [secret]
    receiver.script.answers = [500, 500, 500]
    _record(app, seeded.a.organization, {"n": 1})
    for _ in range(4):
        _run(app)
    (delivery,) = _deliveries(admin_engine)
    assert (delivery["status"], delivery["attempts"], delivery["last_error"]) == (
        "failed",
        3,
        "HTTP 500",
    )
    with app.app_context():
        session = db.session
        use_context(session, seeded.a.context())
        endpoint = session.get_one(
            webhooks.WebhookEndpoint, (seeded.a.organization.id, endpoint_id)
        )
        assert webhooks.replay(session, endpoint, clock.now(), event_id=delivery["event_id"]) == 1
        session.commit()
    _run(app)
    assert [d["status"] for d in _deliveries(admin_engine)] == ["delivered"]
    assert len(receiver.received) == 4
    assert len({d.webhook_id for d in receiver.received}) == 1
    assert [a["status_code"] for a in _attempts(admin_engine)] == [500, 500, 500, 200]


def test_an_endpoint_failing_too_long_is_disabled_its_admins_emailed_and_sent_nothing_more(
    seeded: TwoTenants, make_app: AppFactory, receiver: Receiver, admin_engine: Engine
) -> None:
    app = make_app(webhook_disable_after=dt.timedelta(0))
    _endpoint(app, seeded.a.organization, receiver.url())
    receiver.script.then = 500
    _record(app, seeded.a.organization, {"n": 1})
    _run(app)
    with admin_engine.connect() as connection:
        endpoint = connection.execute(text("SELECT * FROM webhook_endpoints")).mappings().one()
        notices = connection.execute(
            text("SELECT * FROM outbox_messages WHERE kind = 'webhook_disabled'")
        ).mappings()
        assert [n["recipient_email"] for n in notices] == [seeded.a.admin.email]
    assert endpoint["active"] is False and endpoint["disabled_at"] is not None
    assert "HTTP 500" in endpoint["disabled_reason"]
    # the delivery's retry finds the endpoint disabled; a new event gets no delivery
    _record(app, seeded.a.organization, {"n": 2})
    _run(app)
    assert len(receiver.received) == 1
    assert [(d["status"], d["last_error"]) for d in _deliveries(admin_engine)] == [
        ("failed", "the endpoint is not active")
    ]


def test_after_a_rotation_both_secrets_sign_until_the_overlap_ends(
    seeded: TwoTenants, make_app: AppFactory, receiver: Receiver
) -> None:
    app = make_app()
    endpoint_id, old = _endpoint(app, seeded.a.organization, receiver.url())
    with app.app_context():
        session = db.session
        use_context(session, seeded.a.context())
        endpoint = session.get_one(
            webhooks.WebhookEndpoint, (seeded.a.organization.id, endpoint_id)
        )
        new = webhooks.rotate_secret(
            session,
            endpoint,
            sealer=Sealer(app.config["SETTINGS"].outbox_secret_key),
            now=clock.now(),
            overlap=dt.timedelta(minutes=10),
        )
        session.commit()
    receiver.secrets = [old]  # a receiver not yet switched
    _record(app, seeded.a.organization, {"n": 1})
    _run(app)
    assert [d.verified for d in receiver.received] == [True]
    assert len(receiver.received[0].headers["webhook-signature"].split(" ")) == 2

    _record(app, seeded.a.organization, {"n": 2})
    with clock.frozen(clock.now() + dt.timedelta(minutes=11)):
        _run(app)
    latest = receiver.received[-1]
    assert not latest.verified  # the old secret no longer signs
    assert len(latest.headers["webhook-signature"].split(" ")) == 1
    receiver.secrets = [new]
    _record(app, seeded.a.organization, {"n": 3})
    _run(app)
    assert receiver.received[-1].verified


# --- what an answer may do ------------------------------------------------------


def test_no_redirect_is_followed_and_only_the_start_of_a_large_answer_is_read(
    seeded: TwoTenants, make_app: AppFactory, receiver: Receiver, admin_engine: Engine
) -> None:
    app = make_app(webhook_response_max_bytes=100)
    _endpoint(app, seeded.a.organization, receiver.url())
    receiver.script.answers = [302]
    receiver.script.body = b"x" * 200_000
    _record(app, seeded.a.organization, {"n": 1})
    _run(app)
    assert [d.path for d in receiver.received] == ["/hooks"]  # /elsewhere never asked
    (attempt,) = _attempts(admin_engine)
    assert attempt["status_code"] == 302
    assert attempt["response_body"] == "x" * 100
    assert _deliveries(admin_engine)[0]["status"] == "pending"  # to be retried


@pytest.mark.parametrize(
    ("script", "timeout"),
    [
        ({"delay": 2.0}, 0.3),  # silent
        ({"drip": 0.2}, 1.0),  # each byte well within the timeout, the answer in seconds
    ],
)
def test_an_answer_not_complete_within_the_timeout_is_a_failed_attempt(
    script: dict[str, float],
    timeout: float,
    seeded: TwoTenants,
    make_app: AppFactory,
    receiver: Receiver,
    admin_engine: Engine,
) -> None:
    app = make_app(webhook_timeout_seconds=timeout)
    _endpoint(app, seeded.a.organization, receiver.url())
    receiver.script = dataclasses.replace(receiver.script, **script)
    _record(app, seeded.a.organization, {"n": 1})
    _run(app)
    (attempt,) = _attempts(admin_engine)
    assert attempt["status_code"] is None
    assert attempt["error"] == f"no complete answer within {timeout:g} s"
    assert timeout * 1000 <= attempt["latency_ms"] < 2000
    assert _deliveries(admin_engine)[0]["status"] == "pending"


def test_an_answer_carrying_nul_characters_is_logged_and_delivered_once(
    seeded: TwoTenants, make_app: AppFactory, receiver: Receiver, admin_engine: Engine
) -> None:
    # PostgreSQL's text refuses NUL: unrecorded, the attempt would be posted again once
    # its lease ran out.
    app = make_app()
    _endpoint(app, seeded.a.organization, receiver.url())
    receiver.script.body = b"ok\x00"
    _record(app, seeded.a.organization, {"n": 1})
    _run(app)
    with clock.frozen(clock.now() + dt.timedelta(hours=1)):
        assert _run(app) == 0
    assert len(receiver.received) == 1
    assert [d["status"] for d in _deliveries(admin_engine)] == ["delivered"]
    assert [(a["status_code"], a["response_body"]) for a in _attempts(admin_engine)] == [
        (200, "ok\ufffd")
    ]


def test_an_unexpected_error_while_posting_is_a_failed_attempt_retried_after_its_delay(
    seeded: TwoTenants,
    make_app: AppFactory,
    receiver: Receiver,
    admin_engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> webhook_http.Answer:
        raise RuntimeError("internal detail 10.3.0.7")

    monkeypatch.setattr(webhook_http, "post", broken)
    app = make_app(webhook_retry_delays=(600,))
    _endpoint(app, seeded.a.organization, receiver.url())
    _record(app, seeded.a.organization, {"n": 1})
    _run(app)
    (attempt,) = _attempts(admin_engine)
    assert attempt["error"] == "an unexpected error on our side ended the attempt"
    (delivery,) = _deliveries(admin_engine)
    assert delivery["status"] == "pending"
    assert delivery["next_attempt_at"] > attempt["attempted_at"] + dt.timedelta(minutes=7)
    with admin_engine.connect() as connection:
        failing_since = connection.scalar(text("SELECT failing_since FROM webhook_endpoints"))
    assert failing_since is not None
    (logged,) = [r for r in caplog.records if r.exc_info]
    assert "internal detail" in str(logged.exc_info[1])  # type: ignore[index]


def test_a_closed_port_is_a_failed_attempt_with_the_error(
    seeded: TwoTenants, make_app: AppFactory, admin_engine: Engine
) -> None:
    app = make_app()
    _endpoint(app, seeded.a.organization, f"http://127.0.0.1:{closed_port()}/hooks")
    _record(app, seeded.a.organization, {"n": 1})
    _run(app)
    (attempt,) = _attempts(admin_engine)
    assert attempt["status_code"] is None and "refused" in attempt["error"].lower()


# --- server-side request forgery ------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:{port}/hooks", NOT_PUBLIC),
        ("http://localhost:{port}/hooks", NOT_PUBLIC),
        ("http://[::1]:{port}/hooks", NOT_PUBLIC),
        ("http://169.254.169.254/latest/meta-data/", NOT_PUBLIC),
        ("http://10.0.0.1/hooks", NOT_PUBLIC),
        ("http://[64:ff9b::a00:1]/hooks", NOT_PUBLIC),  # NAT64 to 10.0.0.1
        ("http://no-such-host.invalid/hooks", "refused: the host name does not resolve"),
    ],
)
def test_addresses_that_are_not_public_are_refused_before_any_connection(
    url: str,
    reason: str,
    seeded: TwoTenants,
    make_app: AppFactory,
    receiver: Receiver,
    admin_engine: Engine,
) -> None:
    app = make_app(webhook_allowed_networks=())  # as in production
    _endpoint(app, seeded.a.organization, url.format(port=receiver.port))
    _record(app, seeded.a.organization, {"n": 1})
    _run(app)
    assert receiver.received == []
    (attempt,) = _attempts(admin_engine)
    assert attempt["status_code"] is None and attempt["latency_ms"] == 0
    assert attempt["error"] == reason  # which address, the server's log alone says
    assert _deliveries(admin_engine)[0]["status"] == "pending"  # retried, refused again


def test_a_secret_sealed_under_another_key_posts_nothing_and_the_attempt_says_why(
    seeded: TwoTenants, make_app: AppFactory, receiver: Receiver, admin_engine: Engine
) -> None:
    app = make_app()
    endpoint_id, _ = _endpoint(app, seeded.a.organization, receiver.url())
    elsewhere = Sealer("another-deployments-outbox-secret-key-0123456789")
    with admin_engine.begin() as connection:
        connection.execute(
            text("UPDATE webhook_endpoints SET secret_sealed = :sealed WHERE id = :id"),
            {"sealed": elsewhere.seal({"secret": webhooks.new_secret()}), "id": endpoint_id},
        )
    _record(app, seeded.a.organization, {"n": 1})
    _run(app)
    assert receiver.received == []
    (attempt,) = _attempts(admin_engine)
    assert "does not open" in attempt["error"] and "rotate the secret" in attempt["error"]
    assert _deliveries(admin_engine)[0]["status"] == "pending"


def test_in_production_a_plain_http_endpoint_is_refused_at_delivery_too(
    seeded: TwoTenants, make_app: AppFactory, receiver: Receiver, admin_engine: Engine
) -> None:
    app = make_app()
    _endpoint(app, seeded.a.organization, receiver.url())  # registered outside production
    _record(app, seeded.a.organization, {"n": 1})
    production = dataclasses.replace(app.config["SETTINGS"], app_env="production")
    with app.app_context():
        app.extensions["services"] = dataclasses.replace(
            app.extensions["services"], settings=production
        )
    _run(app)
    assert receiver.received == []
    (attempt,) = _attempts(admin_engine)
    assert attempt["error"] == "refused: not an https:// URL"
