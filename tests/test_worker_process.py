"""The deployment's worker (`rq worker --worker-class workers.worker.Worker`), a real
subprocess forking a work horse per job, delivering a batch from the outbox to a real
SMTP server: every message once, every row sent. Prints its throughput (pytest -s).

The fixtures and helpers are those of tests/test_delivery.py."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
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


def test_forking_worker_delivers_a_batch_once(
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
        f"\n[delivery] one forking rq worker (workers.worker.Worker): {BATCH} messages in"
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
