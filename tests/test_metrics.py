"""The metrics (app/metrics.py) move as requests, jobs and failures happen, against the
real PostgreSQL, Redis and SMTP server; read as a scrape reads them.

The test process counts into a metrics directory of its own (made when app.metrics is
first imported), and each test compares a reading before and after what it does, so
other tests' counts never show."""

from __future__ import annotations

import os
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path

from flask.testing import FlaskClient
from redis import Redis
from rq import Queue, SimpleWorker
from rq.cron import CronScheduler
from sqlalchemy import Engine, text

from app import metrics
from app.config import Settings
from app.database import make_engine
from app.factory import create_app
from app.local import DatabaseUrls
from tests import test_delivery as delivery
from tests.conftest import TwoTenants, bearer, token_for
from tests.factories import PASSWORD
from tests.queues import work
from tests.smtp_server import SmtpServer
from workers import jobs, scheduler
from workers.metrics import OutboxCollector, QueueCollector

# The fixtures of tests/test_delivery.py, made available to this module.
smtp = delivery.smtp
queue_name = delivery.queue_name
make_app = delivery.make_app

FACILITY = "/api/v1/admin/facilities/<uuid:facility_id>"


def reading(name: str, **labels: str) -> float:
    """The value a scrape of this process would show (0 for a series not there yet)."""
    return metrics.registry().get_sample_value(name, labels) or 0.0


def requests(route: str, status: str, method: str = "GET") -> float:
    return reading("msc_http_requests_total", method=method, route=route, status=status)


def test_a_request_is_counted_and_timed_under_its_url_rule(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    tenant = seeded.a
    path = f"/api/v1/admin/facilities/{tenant.facility.id}"
    token = token_for(client, tenant.admin, tenant.organization)
    before = requests(FACILITY, "200")
    timed = reading(
        "msc_http_request_duration_seconds_count", method="GET", route=FACILITY, status="200"
    )
    statements = reading("msc_db_statements_per_request_count")
    statement_sum = reading("msc_db_statements_per_request_sum")

    assert client.get(path, headers=bearer(token)).status_code == 200

    assert requests(FACILITY, "200") == before + 1
    assert (
        reading(
            "msc_http_request_duration_seconds_count",
            method="GET",
            route=FACILITY,
            status="200",
        )
        == timed + 1
    )
    assert reading("msc_db_statements_per_request_count") == statements + 1
    # The request read the facility: at least one statement.
    assert reading("msc_db_statements_per_request_sum") > statement_sum
    # Never the raw path, which names the tenant.
    assert requests(path, "200") == 0
    assert reading("msc_http_requests_in_flight") == 0


def test_unmatched_paths_share_one_label_and_errors_show_their_status(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    unmatched = requests(metrics.UNMATCHED_ROUTE, "404")
    for n in range(3):
        assert client.get(f"/api/v1/no-such-thing/{n}").status_code == 404
    assert requests(metrics.UNMATCHED_ROUTE, "404") == unmatched + 3

    unauthenticated = requests(FACILITY, "401")
    path = f"/api/v1/admin/facilities/{seeded.a.facility.id}"
    assert client.get(path).status_code == 401
    assert requests(FACILITY, "401") == unauthenticated + 1


def test_a_server_error_is_counted_with_its_status_and_in_flight_while_it_runs(
    settings: Settings,
) -> None:
    """An application of its own, with a view that fails and one that reads the
    requests in flight while it is one of them."""
    app = create_app(settings)

    def fail() -> str:
        raise RuntimeError("failing on purpose")

    def in_flight() -> str:
        return str(reading("msc_http_requests_in_flight"))

    app.add_url_rule("/test-only/fail", view_func=fail)
    app.add_url_rule("/test-only/in-flight", view_func=in_flight)
    client = app.test_client()
    failed = requests("/test-only/fail", "500")
    idle = reading("msc_http_requests_in_flight")

    assert client.get("/test-only/fail").status_code == 500
    assert requests("/test-only/fail", "500") == failed + 1
    assert float(client.get("/test-only/in-flight").get_data(as_text=True)) == idle + 1
    assert reading("msc_http_requests_in_flight") == idle


def test_a_failed_sign_in_is_counted(client: FlaskClient, seeded: TwoTenants) -> None:
    before = reading("msc_login_failures_total")
    response = client.post(
        "/api/v1/auth/login", json={"email": seeded.a.admin.email, "password": "wrong password"}
    )
    assert response.status_code == 401
    assert reading("msc_login_failures_total") == before + 1
    assert requests("/api/v1/auth/login", "401", method="POST") >= 1


def test_a_rate_limited_request_is_counted(settings: Settings, seeded: TwoTenants) -> None:
    app = create_app(
        replace(
            settings,
            rate_limit_sign_in="1/minute",
            rate_limit_key_prefix=f"rate-limit-test-{uuid.uuid4().hex}",
        )
    )
    client = app.test_client()
    body = {"email": seeded.a.admin.email, "password": PASSWORD}
    before = reading("msc_rate_limit_rejections_total")
    assert client.post("/api/v1/auth/login", json=body).status_code == 200
    assert reading("msc_rate_limit_rejections_total") == before
    assert client.post("/api/v1/auth/login", json=body).status_code == 429
    assert reading("msc_rate_limit_rejections_total") == before + 1


def test_the_pool_reports_connections_checked_out_and_threads_waiting(
    database_urls: DatabaseUrls,
) -> None:
    """A pool of one connection: while it is out, a second thread waits for it."""
    engine = make_engine(database_urls.app, pool_size=1, max_overflow=0, pool_timeout=30)
    metrics.instrument_engine(engine)
    checked_out = reading("msc_db_pool_checked_out")
    waiting = reading("msc_db_pool_waiting")
    try:
        held = engine.connect()
        held.execute(text("SELECT 1"))
        assert reading("msc_db_pool_checked_out") == checked_out + 1

        got = threading.Event()

        def second() -> None:
            with engine.connect():
                got.set()

        thread = threading.Thread(target=second)
        thread.start()
        assert not got.wait(0.5)
        assert reading("msc_db_pool_waiting") == waiting + 1
        held.close()
        thread.join(timeout=10)
        assert got.is_set()
        assert reading("msc_db_pool_waiting") == waiting
        assert reading("msc_db_pool_checked_out") == checked_out
        # A disposed pool's successor is still counted.
        engine.dispose()
        with engine.connect():
            assert reading("msc_db_pool_checked_out") == checked_out + 1
    finally:
        engine.dispose()


def _collected(collector: OutboxCollector | QueueCollector) -> dict[tuple[str, str], float]:
    """A collector's samples by name and label value."""
    return {
        (sample.name, next(iter(sample.labels.values()), "")): sample.value
        for family in collector.collect()
        for sample in family.samples
    }


def test_the_outbox_backlog_is_read_at_scrape_time(
    seeded: TwoTenants, make_app: delivery.AppFactory, admin_engine: Engine
) -> None:
    app = make_app()
    collector = OutboxCollector()
    with app.app_context():
        assert _collected(collector)[("msc_outbox_oldest_due_age_seconds", "")] == 0
        pending = _collected(collector)[("msc_outbox_messages", "pending")]

    delivery.add_messages(app, 2)
    with admin_engine.begin() as connection:
        connection.execute(
            text("UPDATE outbox_messages SET next_attempt_at = now() - interval '90 seconds'")
        )
    with app.app_context():
        found = _collected(collector)
    assert found[("msc_outbox_messages", "pending")] == pending + 2
    assert found[("msc_outbox_messages", "sent")] == 0
    assert 90 <= found[("msc_outbox_oldest_due_age_seconds", "")] < 150

    # Relayed, the messages still wait (queued); sent, none does.
    assert delivery.relay(app) == 2
    with app.app_context():
        assert _collected(collector)[("msc_outbox_messages", "queued")] == 2
    work(app)
    with app.app_context():
        found = _collected(collector)
    assert found[("msc_outbox_messages", "sent")] == 2
    assert found[("msc_outbox_oldest_due_age_seconds", "")] == 0


def test_the_worker_counts_emails_sent_and_failed(
    clean_database: None, smtp: SmtpServer, make_app: delivery.AppFactory
) -> None:
    """Through the worker's job (workers/jobs.py deliver_message), to the real SMTP
    server; then to a port where nothing listens."""
    sent, failed = reading("msc_emails_sent_total"), reading("msc_emails_failed_total")
    app = make_app()
    delivery.add_messages(app, 3)
    assert delivery.relay(app) == 3
    work(app)
    assert len(smtp.received) == 3
    assert reading("msc_emails_sent_total") == sent + 3
    assert reading("msc_emails_failed_total") == failed

    unreachable = make_app(smtp_port=1)
    delivery.add_messages(unreachable, 1)
    assert delivery.relay(unreachable) == 1
    work(unreachable)
    assert reading("msc_emails_sent_total") == sent + 3
    assert reading("msc_emails_failed_total") == failed + 1


def test_the_reminder_scan_counts_the_reminders_it_wrote(
    seeded: TwoTenants, make_app: delivery.AppFactory, admin_engine: Engine
) -> None:
    app = make_app()
    delivery.add_credential(admin_engine, seeded.shared_provider.id, days=30)
    before = reading("msc_reminders_written_total")
    with app.app_context():
        assert jobs.scan_reminders() == 3
        assert reading("msc_reminders_written_total") == before + 3
        # Found again the next day, nothing new is written.
        assert jobs.scan_reminders() == 0
    assert reading("msc_reminders_written_total") == before + 3


def test_the_queue_depth_and_failed_jobs_are_read_at_scrape_time(
    redis_url: str, queue_name: str
) -> None:
    queue = Queue(queue_name, connection=Redis.from_url(redis_url))
    collector = QueueCollector([queue])
    assert _collected(collector)[("msc_rq_queue_depth", queue_name)] == 0
    for _ in range(3):
        queue.enqueue("os.getpid")
    assert _collected(collector)[("msc_rq_queue_depth", queue_name)] == 3
    assert _collected(collector)[("msc_rq_failed_jobs", queue_name)] == 0

    failing = queue.enqueue("math.sqrt", "not a number")
    SimpleWorker([queue], connection=queue.connection).work(burst=True, logging_level="WARNING")
    assert failing.is_failed
    found = _collected(collector)
    assert found[("msc_rq_queue_depth", queue_name)] == 0
    assert found[("msc_rq_failed_jobs", queue_name)] == 1


def test_the_scheduler_beats_each_time_round_its_loop(redis_url: str, tmp_path: Path) -> None:
    class OneRound(scheduler.Stop):
        def sleep(self, seconds: float) -> None:
            self.requested = True

    # Only the scheduler serves it: no other process shows a stale 0 that would hide its
    # absence from the alert.
    assert reading("msc_scheduler_heartbeat_timestamp_seconds") == 0.0
    served = metrics.registry(scheduler.HEARTBEAT)
    started = time.time()
    scheduler.run(CronScheduler(Redis.from_url(redis_url)), OneRound(), tmp_path / "alive")
    beat = served.get_sample_value("msc_scheduler_heartbeat_timestamp_seconds")
    assert beat is not None and started <= beat <= time.time()
    assert metrics.registry().get_sample_value("msc_scheduler_heartbeat_timestamp_seconds") is None


def test_the_work_horses_of_a_worker_count_into_one_set_of_files() -> None:
    """rq forks a horse per job: they count on into the same files, one after another, so
    the directory a scrape reads stays the size it was however many jobs ran."""
    before = reading("msc_reminders_written_total")
    horses = metrics.horses_of(os.getpid())
    left: list[set[str]] = []
    for _ in range(3):
        pid = os.fork()
        if pid == 0:  # the horse
            metrics.count_as_horse_of(os.getppid())
            metrics.REMINDERS_WRITTEN.inc(2)
            os._exit(0)
        os.waitpid(pid, 0)
        metrics.forget_process(horses)
        left.append({p.name for p in Path(metrics.DIRECTORY).iterdir()})
    assert reading("msc_reminders_written_total") == before + 6
    assert left[0] == left[1] == left[2]
    assert f"counter_{horses}.db" in left[0]
    assert not [n for n in left[0] if n.startswith("gauge_live") and horses in n]
