"""Traces (app/tracing.py) over real PostgreSQL, Redis and SMTP: what a request's span
says and holds, an invitation followed from the API call that wrote it to its SMTP send
by the deployment's worker class, a reset link's job continuing its request's trace, and
nothing at all without an endpoint.

The spans are kept in memory (the SDK's InMemorySpanExporter) by the one tracer provider
this test process sets up (`spans`): OpenTelemetry lets a process set its global
provider once, so the fixture is the session's, and it shuts the provider down and
takes the Redis instrumentation off again when the session ends.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import random
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from rq import Queue
from sqlalchemy import Engine, text

from app import tracing
from app.config import Settings
from app.domain import outbox
from app.domain.passwords import ISSUE_PASSWORD_RESET
from app.extensions import db, redis_connection
from app.factory import create_app
from app.integrations import mail
from tests.conftest import TwoTenants, bearer, token_for
from tests.queues import forget_queue
from tests.smtp_server import SmtpServer
from workers import jobs
from workers.worker import Worker

INVITE = "/api/v1/admin/providers/invite"
INVITEE = "nova.reyes@example.com"
INVITEE_NAME = "Nova Reyes"


@pytest.fixture(scope="session")
def spans(settings: Settings) -> Iterator[InMemorySpanExporter]:
    """The spans this process records, from the first call of tracing.start on."""
    exporter = InMemorySpanExporter()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tracing, "_provider", None)
        provider = tracing.start(
            dataclasses.replace(settings, otel_exporter_otlp_endpoint="http://127.0.0.1:4318"),
            tracing.API,
            SimpleSpanProcessor(exporter),
        )
        assert provider is not None
        try:
            yield exporter
        finally:
            provider.shutdown()
            RedisInstrumentor().uninstrument()


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture(scope="module")
def traced_app(
    settings: Settings, redis_url: str, smtp: SmtpServer, spans: InMemorySpanExporter
) -> Iterator[Flask]:
    """An application with an OTLP endpoint, delivering to the module's SMTP server
    through a queue of its own."""
    queue_name = f"test-{uuid.uuid4().hex[:8]}"
    app = create_app(
        dataclasses.replace(
            settings,
            otel_exporter_otlp_endpoint="http://127.0.0.1:4318",
            smtp_host=smtp.host,
            smtp_port=smtp.port,
            queue_name=queue_name,
        )
    )
    try:
        yield app
    finally:
        with app.app_context():
            db.engine.dispose()
            redis_connection.client.close()
        forget_queue(redis_url, queue_name)


@pytest.fixture
def traced(traced_app: Flask, clean_database: None, spans: InMemorySpanExporter) -> FlaskClient:
    """A client of the traced application at an address of its own; no span recorded
    yet."""
    client = traced_app.test_client()
    client.environ_base["REMOTE_ADDR"] = str(ipaddress.IPv4Address(random.getrandbits(32)))
    spans.clear()
    return client


def run_worker(app: Flask) -> None:
    """Run the app's queued jobs, and those they queue, as the deployment's worker class
    runs them (workers/worker.py), in this process, within the app's services."""
    with app.app_context():
        connection = redis_connection.client
        name = app.config["SETTINGS"].queue_name
        Worker(
            [Queue(name, connection=connection)], connection=connection, name=f"{name}-worker"
        ).work(burst=True, logging_level="WARNING")


def server_span(spans: InMemorySpanExporter, route: str) -> ReadableSpan:
    [found] = [
        span
        for span in spans.get_finished_spans()
        if span.kind is SpanKind.SERVER and (span.attributes or {}).get("http.route") == route
    ]
    return found


def named(spans: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [span for span in spans.get_finished_spans() if span.name == name]


def recorded_text(spans: InMemorySpanExporter) -> str:
    """Every name and attribute value of every span, as one text."""
    return json.dumps(
        [
            [span.name, {k: str(v) for k, v in (span.attributes or {}).items()}]
            for span in spans.get_finished_spans()
        ]
    )


def test_a_request_span_names_its_route_request_and_organization_over_its_statements(
    traced: FlaskClient, seeded: TwoTenants, spans: InMemorySpanExporter
) -> None:
    token = token_for(traced, seeded.a.admin, seeded.a.organization)
    spans.clear()
    organization_id = str(seeded.a.organization.id)
    response = traced.get(
        f"/api/v1/admin/organizations/{organization_id}",
        headers={**bearer(token), "X-Request-ID": "trace-me"},
    )
    assert response.status_code == 200, response.get_json()

    request = server_span(spans, "/api/v1/admin/organizations/<uuid:organization_id>")
    attributes = request.attributes or {}
    assert attributes[tracing.REQUEST_ID] == "client:trace-me"
    assert attributes[tracing.ORGANIZATION_ID] == organization_id
    assert attributes["http.status_code"] == 200
    # The path's values are not kept: the route stands for the path.
    assert organization_id not in str(attributes.get("http.target"))

    statements = [
        span
        for span in spans.get_finished_spans()
        if span.kind is SpanKind.CLIENT and "db.statement" in (span.attributes or {})
    ]
    assert statements, "no statement was traced"
    assert {span.parent.span_id for span in statements if span.parent} == {request.context.span_id}
    assert {span.context.trace_id for span in statements} == {request.context.trace_id}
    # The statements' text, with its placeholders, never the values bound to them.
    [enter] = [
        s for s in statements if "tenancy.enter" in str((s.attributes or {})["db.statement"])
    ]
    assert "%(user_id)s" in str((enter.attributes or {})["db.statement"])
    assert str(seeded.a.admin.id) not in recorded_text(spans)
    assert seeded.a.admin.email not in recorded_text(spans)


def test_an_invitation_is_sent_in_the_trace_of_the_request_that_wrote_it(
    traced: FlaskClient,
    traced_app: Flask,
    seeded: TwoTenants,
    spans: InMemorySpanExporter,
    smtp: SmtpServer,
    admin_engine: Engine,
) -> None:
    token = token_for(traced, seeded.a.admin, seeded.a.organization)
    spans.clear()
    response = traced.post(
        INVITE,
        json={
            "email": INVITEE,
            "name": f"Dr. {INVITEE_NAME}",
            "role": "provider",
            "organization_id": str(seeded.a.organization.id),
            "facility_ids": [],
        },
        headers=bearer(token),
    )
    assert response.status_code == 201, response.get_json()
    request = server_span(spans, INVITE)
    with admin_engine.connect() as connection:
        [row] = connection.execute(text("SELECT * FROM outbox_messages")).mappings()
    assert f"-{request.context.trace_id:032x}-" in row["trace_context"]["traceparent"]
    accept_url = outbox.Sealer(traced_app.config["SETTINGS"].outbox_secret_key).unseal(
        row["sealed_payload"]
    )["accept_url"]

    with traced_app.app_context():
        assert jobs.relay_outbox() == 1
    run_worker(traced_app)
    sender = traced_app.config["SETTINGS"].smtp_sender
    assert len(smtp.with_message_id(mail.message_id(row["idempotency_key"], sender))) == 1

    [send] = named(spans, "outbox send")
    assert send.context.trace_id == request.context.trace_id
    assert send.parent is not None and send.parent.span_id == request.context.span_id
    assert (send.attributes or {})["msc.outbox.outcome"] == "sent"
    assert (send.attributes or {})[tracing.ORGANIZATION_ID] == str(seeded.a.organization.id)
    # ...linked to the job that sent it, whose statements and Redis commands it holds.
    [job] = named(spans, f"job {jobs.DELIVER}")
    assert [link.context.span_id for link in send.links] == [job.context.span_id]
    inside = [
        span
        for span in spans.get_finished_spans()
        if span.parent and span.parent.span_id == send.context.span_id
    ]
    assert any("db.statement" in (span.attributes or {}) for span in inside)

    # The invitee opens the link: its token is in the path, not in the span.
    link_token = accept_url.split("/")[-2]
    assert traced.get(f"/api/v1/invitations/{link_token}").status_code == 200
    server_span(spans, "/api/v1/invitations/<string:token>")
    # Nobody's address, name or link is in any span.
    recorded = recorded_text(spans)
    assert INVITEE not in recorded and INVITEE_NAME not in recorded
    assert link_token not in recorded


def test_a_job_queued_by_a_request_runs_in_its_trace(
    traced: FlaskClient, traced_app: Flask, seeded: TwoTenants, spans: InMemorySpanExporter
) -> None:
    response = traced.post("/api/v1/auth/password-reset", json={"email": seeded.a.admin.email})
    assert response.status_code == 202, response.get_json()
    request = server_span(spans, "/api/v1/auth/password-reset")

    run_worker(traced_app)

    [job] = named(spans, f"job {ISSUE_PASSWORD_RESET}")
    assert job.context.trace_id == request.context.trace_id
    assert job.parent is not None and job.parent.span_id == request.context.span_id
    # The link it wrote goes out in the same trace, by a job the first one queued.
    [send] = named(spans, "outbox send")
    assert send.context.trace_id == request.context.trace_id
    assert seeded.a.admin.email not in recorded_text(spans)


def test_an_application_without_an_endpoint_records_nothing(
    client: FlaskClient, seeded: TwoTenants, spans: InMemorySpanExporter
) -> None:
    spans.clear()
    token = token_for(client, seeded.a.admin, seeded.a.organization)
    response = client.get(
        f"/api/v1/admin/organizations/{seeded.a.organization.id}", headers=bearer(token)
    )
    assert response.status_code == 200
    assert spans.get_finished_spans() == ()


def test_without_an_endpoint_no_tracer_provider_is_set_up() -> None:
    """In a process of its own, since this one's provider is set (`spans`)."""
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith("OTEL_")
    }
    probe = (
        "import redis\n"
        "from opentelemetry import trace\n"
        "from app import tracing\n"
        "from app.config import Settings\n"
        "print(tracing.start(Settings.from_env(), tracing.API),"
        " type(trace.get_tracer_provider()).__name__,"
        " hasattr(redis.Redis.execute_command, '__wrapped__'))\n"
    )
    answer = subprocess.run(
        [sys.executable, "-c", probe], env=environment, capture_output=True, text=True, check=True
    )
    assert answer.stdout.split() == ["None", "ProxyTracerProvider", "False"]
