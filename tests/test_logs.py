"""The log: one JSON object per line in production, a line at the end of each request
with its id, route, status, duration and caller, and never a person's details or a
secret, whatever the requests carried; RQ's lines once each, in the worker's JSON."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import logging
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from rq import Queue

from app import logs
from app.config import Settings
from app.extensions import redis_connection
from app.services import configure_logging
from tests import factories
from tests import test_delivery as delivery
from tests.conftest import TwoTenants, bearer, token_for
from tests.gunicorn_server import gunicorn_serving
from tests.smtp_server import SmtpServer
from workers.worker import Worker

# The fixtures of tests/test_delivery.py, made available to this module.
smtp = delivery.smtp
queue_name = delivery.queue_name
make_app = delivery.make_app
rq_worker = delivery.rq_worker

# Every logger a deployment's processes write through, opened up to DEBUG.
LOGGERS = ("", "gunicorn.error", "gunicorn.access", "werkzeug", "rq.worker", "rq.job")
TEST_SMTP_SERVER = "mail.log"

TODAY = dt.date.today()


@pytest.fixture
def debug_logging(settings: Settings) -> Iterator[None]:
    """Every logger at DEBUG for the test; the session's own log set up again after."""
    levels = {name: logging.getLogger(name).level for name in (*LOGGERS, TEST_SMTP_SERVER)}
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    # The test's own SMTP server, in this process, logs what it receives.
    logging.getLogger(TEST_SMTP_SERVER).setLevel(logging.WARNING)
    try:
        yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        configure_logging(settings)


def json_lines(output: str) -> list[dict[str, Any]]:
    """The output's lines, each of which must be a JSON object."""
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert all(isinstance(line, dict) for line in lines)
    return lines


def client_of(app: Flask) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = f"10.{random.randrange(256)}.{random.randrange(256)}.7"
    return client


def test_the_settings_choose_json_in_production_and_plain_elsewhere() -> None:
    assert Settings(app_env="production").json_logs
    assert not Settings(app_env="development").json_logs
    assert Settings(app_env="development", log_format="json").json_logs
    assert not Settings(app_env="production", log_format="plain").json_logs
    assert Settings.from_env({"LOG_FORMAT": "json"}).log_format == "json"


def test_plain_lines_are_readable_with_the_fields_after_the_message() -> None:
    record = logging.LogRecord("app.requests", logging.INFO, __file__, 1, "request", (), None)
    record.status = 200
    record.email = "someone@example.com"  # not a field a line may carry
    with logs.bound(request_id="abc"):
        line = logs.PlainFormatter("eu").format(record)
    assert line.endswith(" INFO [eu] app.requests: request request_id=abc status=200")


def test_an_exception_is_logged_by_type_and_frames_without_its_message() -> None:
    try:
        raise ValueError("tax id 12-3456789")
    except ValueError:
        record = logging.LogRecord("app", logging.ERROR, __file__, 1, "failed", (), None)
        record.exc_info = sys.exc_info()
    line = json.loads(logs.JsonFormatter("eu").format(record))
    assert line["exception"][0]["type"] == "builtins.ValueError"
    assert "test_an_exception_is_logged" in line["exception"][0]["frames"][0]
    assert "12-3456789" not in json.dumps(line)


def test_each_request_logs_one_line_and_nothing_personal(
    seeded: TwoTenants,
    make_app: delivery.AppFactory,
    smtp: SmtpServer,
    debug_logging: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    app = make_app(log_format="json", log_level="DEBUG")
    client = client_of(app)
    provider, admin = seeded.shared_provider, seeded.a.admin
    organization = seeded.a.organization
    capsys.readouterr()

    # A login (email and password), a failed one, and a reset request for an email.
    logged_in = client.post(
        "/api/v1/auth/login",
        json={
            "email": provider.email,
            "password": factories.PASSWORD,
            "organization_id": str(organization.id),
        },
        headers={"X-Request-Id": "trace-0042"},
    )
    assert logged_in.status_code == 200, logged_in.get_json()
    assert logged_in.headers["X-Request-ID"] == "trace-0042"
    tokens = logged_in.get_json()
    wrong = client.post(
        "/api/v1/auth/login",
        json={"email": "guess.who@example.org", "password": "hunter2-not-it"},
        headers={"X-Request-Id": "not a valid id!"},
    )
    assert wrong.status_code == 401
    made_up = wrong.headers["X-Request-ID"]
    assert made_up != "not a valid id!" and len(made_up) == 32
    assert (
        client.post("/api/v1/auth/password-reset", json={"email": admin.email}).status_code == 202
    )

    # A bearer token, and credentials with a license number and a DEA number.
    access = tokens["access_token"]
    me = client.get("/api/v1/me", headers=bearer(access))
    assert me.status_code == 200
    license_number, dea_number = "TX-77881", "AP5836727"
    for body in (
        {
            "credential_type": "medical_license",
            "state": "TX",
            "number": license_number,
            "issuer": "Texas Medical Board",
            "expiry_date": str(TODAY + dt.timedelta(days=400)),
        },
        {
            "credential_type": "dea_registration",
            "number": dea_number,
            "state": "TX",
            "dea_schedules": ["2", "3"],
            "expiry_date": str(TODAY + dt.timedelta(days=900)),
        },
    ):
        created = client.post("/api/v1/me/credentials", json=body, headers=bearer(access))
        assert created.status_code == 201, created.get_json()

    # An organization with a tax id, a contact's email and phone.
    msc = token_for(client, seeded.msc_admin)
    organization_body = {
        "name": "Quillfeather Family Clinic",
        "organization_type": "individual",
        "tax_id": "987654321",
        "primary_contact_email": "front.desk@quillfeather.example.com",
        "primary_contact_phone": "(415) 555-2671",
    }
    created = client.post(
        "/api/v1/admin/organizations", json=organization_body, headers=bearer(msc)
    )
    assert created.status_code == 201, created.get_json()
    # The same again: refused by the database's unique tax id, an error with the value.
    client.post("/api/v1/admin/organizations", json=organization_body, headers=bearer(msc))

    # The reset request's job, and the email deliveries it queues, in the deployment's
    # worker class.
    with app.app_context():
        connection = redis_connection.client
        queue = Queue(app.config["SETTINGS"].queue_name, connection=connection)
        Worker([queue], connection=connection).work(burst=True, logging_level="DEBUG")
    assert smtp.received, "the reset link was not sent"

    output = capsys.readouterr().err
    secrets = [
        provider.email,
        provider.name,
        admin.email,
        admin.name,
        factories.PASSWORD,
        "guess.who@example.org",
        "hunter2-not-it",
        access,
        tokens["refresh_token"],
        license_number,
        dea_number,
        "987654321",
        "98-7654321",
        "front.desk@quillfeather.example.com",
        "Quillfeather",
        "555-2671",
        "5552671",
    ]
    leaked = [secret for secret in secrets if secret.lower() in output.lower()]
    assert not leaked, (leaked, output)

    lines = json_lines(output)
    requests = [line for line in lines if line["logger"] == "app.requests"]
    assert len(requests) == 8, requests
    assert {line["region"] for line in lines} == {"test"}
    login = requests[0]
    assert login["request_id"] == "client:trace-0042"
    assert (login["method"], login["route"], login["status"]) == ("POST", "/api/v1/auth/login", 200)
    assert requests[1]["request_id"] == made_up and requests[1]["status"] == 401
    seen = requests[3]
    assert (seen["route"], seen["status"]) == ("/api/v1/me", 200)
    assert seen["user_id"] == str(provider.id)
    assert seen["organization_id"] == str(organization.id)
    assert isinstance(seen["duration_ms"], float) and seen["duration_ms"] > 0
    assert "user_id" not in requests[1]
    # The lines logged while a request runs carry its id, those of a job its job's.
    ours = [line for line in lines if line["logger"].split(".")[0] in ("app", "workers")]
    assert all(line.get("request_id") or line.get("job_id") for line in ours), ours
    # The jobs' lines name their job.
    jobs = [line for line in lines if line["logger"] == "workers"]
    assert jobs and all(line["job_id"] and line["job"] for line in jobs)


@pytest.mark.process
def test_each_rq_line_of_the_worker_appears_once_as_json(
    redis_url: str,
    queue_name: str,
    rq_worker: Callable[..., delivery.RqWorkerProcess],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The deployment's command (rq's command line sets up a handler of its own before
    the application's log is): every line JSON, each of rq's once."""
    monkeypatch.setenv("LOG_FORMAT", "json")
    queue = Queue(queue_name, connection=Redis.from_url(redis_url))
    job = queue.enqueue("workers.jobs.relay_outbox")

    worker = rq_worker(burst=True)
    assert worker.wait(timeout=120) == 0, worker.output()

    lines = json_lines(worker.output())
    rq_lines = [(line["logger"], line["message"]) for line in lines if line["logger"] != "workers"]
    assert any("started with PID" in message for _, message in rq_lines), lines
    assert any("Successfully completed" in message for _, message in rq_lines), lines
    repeated = [line for line, count in Counter(rq_lines).items() if count > 1]
    assert not repeated, lines
    # The job's own line, from its forked work horse, names the job.
    (relayed,) = [line for line in lines if line["message"].startswith("relay:")]
    assert (relayed["job_id"], relayed["job"]) == (job.id, "workers.jobs.relay_outbox")


@pytest.mark.process
def test_gunicorn_logs_each_request_once_as_the_application_line(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The image's server: no access line of gunicorn's, the application's line alone."""
    monkeypatch.setenv("LOG_FORMAT", "json")
    with gunicorn_serving(settings, tmp_path) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        connection.request(
            "GET", "/readyz?email=query.string@example.com", headers={"X-Request-Id": "probe-7"}
        )
        response = connection.getresponse()
        assert response.status == 200 and response.getheader("X-Request-ID") == "probe-7"
        deadline = time.monotonic() + 10
        while "client:probe-7" not in server.output():
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.1)
        output = server.output()
    assert "query.string@example.com" not in output
    # gunicorn's master still writes its own lines (starting, booting workers) as text.
    ours = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    (line,) = [line for line in ours if line.get("request_id") == "client:probe-7"]
    assert (line["logger"], line["route"], line["status"]) == ("app.requests", "/readyz", 200)
