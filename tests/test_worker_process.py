"""The deployment's worker (`rq worker --worker-class workers.worker.Worker`), a real
subprocess, delivering a batch from the outbox to a real SMTP server: every message
once, every row sent, all in the worker's own process over one SMTP connection; other
jobs still run in a forked work horse. Prints its throughput (pytest -s).

The fixtures and helpers are those of tests/test_delivery.py."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from redis import Redis
from rq import Queue
from sqlalchemy import Engine

from app.integrations import mail
from tests import test_delivery as delivery
from tests.smtp_server import SmtpServer

# The fixtures of tests/test_delivery.py, made available to this module.
smtp = delivery.smtp
queue_name = delivery.queue_name
make_app = delivery.make_app
rq_worker = delivery.rq_worker

pytestmark = [pytest.mark.slow, pytest.mark.process]

BATCH = 20


def test_worker_delivers_a_batch_once_over_one_connection(
    clean_database: None,
    smtp: SmtpServer,
    make_app: delivery.AppFactory,
    rq_worker: Callable[..., delivery.RqWorkerProcess],
    admin_engine: Engine,
) -> None:
    app = make_app()
    keys = delivery.add_messages(app, BATCH)
    assert delivery.relay(app) == BATCH

    started = time.perf_counter()
    worker = rq_worker(burst=True)
    assert worker.wait(timeout=120) == 0, worker.output()
    elapsed = time.perf_counter() - started

    print(
        f"\n[delivery] one rq worker (workers.worker.Worker): {BATCH} messages in"
        f" {elapsed:.2f}s = {BATCH / elapsed * 60:.0f} messages/minute (startup included)",
        flush=True,
    )
    sender = app.config["SETTINGS"].smtp_sender
    assert sorted(r.message_id or "" for r in smtp.received) == sorted(
        mail.message_id(key, sender) for key in keys
    )
    rows = delivery.outbox_rows(admin_engine)
    assert {row["status"] for row in rows} == {"sent"}
    assert {row["attempts"] for row in rows} == {1}
    assert all(row["smtp_reply"].startswith("250") for row in rows)
    # Delivered by the worker itself, one message after another on one connection.
    assert len({r.peer for r in smtp.received}) == 1


def test_jobs_other_than_deliveries_run_in_a_forked_horse(
    redis_url: str,
    queue_name: str,
    rq_worker: Callable[..., delivery.RqWorkerProcess],
) -> None:
    queue = Queue(queue_name, connection=Redis.from_url(redis_url))
    job = queue.enqueue("os.getpid")

    worker = rq_worker(burst=True)
    assert worker.wait(timeout=120) == 0, worker.output()

    horse = job.latest_result()
    assert horse is not None and isinstance(horse.return_value, int), worker.output()
    assert horse.return_value != worker.process.pid
