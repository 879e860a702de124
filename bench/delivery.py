"""How many emails the deployment's workers deliver per minute through the outbox, with
one and with two worker processes.

    DATABASE_ADMIN_URL=... REDIS_URL=... .venv/bin/python bench/delivery.py \
        [--messages 2000] [--workers 1,2]

For each worker count: writes that many renewal-reminder messages to the outbox of a
scratch database, relays them to a scratch queue, starts as many real `rq worker --burst`
processes (the deployment's worker class, `workers.worker.Worker`) against a local SMTP
server (aiosmtpd), and prints the time until the queue is empty and the rate, in all and
per worker. "steady" leaves out the workers' start-up: from the first message the server
received to the last. Then checks that every message arrived once and every row is sent
after one attempt.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import socket
import threading
import time
import uuid
from pathlib import Path

import harness
from aiosmtpd.controller import Controller
from sqlalchemy import text

from app.config import Settings
from app.domain import outbox
from app.extensions import db
from app.factory import create_app
from app.local import drop_database, embedded_postgres, embedded_redis, provision
from app.models.enums import MessageKind
from app.tenancy.context import TenantContext, use_context
from workers import jobs

ROOT = Path(__file__).resolve().parents[1]
PAYLOAD = {
    "recipient_name": "Dr. Bench",
    "for_provider": True,
    "credential_label": "medical license",
    "provider_name": "Dr. Bench",
    "masked_number": "•••1234",
    "expiry_date": "2026-12-25",
    "days_left": 30,
    "link": "http://127.0.0.1/api/v1/me/credentials",
}


class Counter:
    """The SMTP server's handler: counts what it accepts, and when."""

    def __init__(self) -> None:
        self.message_ids: list[str] = []
        self.times: list[float] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        content: bytes = envelope.content  # type: ignore[attr-defined]
        header = content.split(b"\r\n\r\n", 1)[0]
        found = [line for line in header.split(b"\r\n") if line.lower().startswith(b"message-id:")]
        with self.lock:
            self.message_ids.append(found[0].split(b":", 1)[1].strip().decode() if found else "")
            self.times.append(time.perf_counter())
        return "250 OK"

    def reset(self) -> None:
        with self.lock:
            self.message_ids.clear()
            self.times.clear()


def free_port() -> int:
    with socket.socket() as probe:  # the controller cannot use port 0
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def run(
    settings: Settings, counter: Counter, messages: int, workers: int, round_name: str
) -> float:
    """Deliver `messages` with `workers` worker processes; returns messages per minute."""
    app = create_app(settings)
    with app.app_context():
        session = db.session
        use_context(session, TenantContext.system("bench"))
        for i in range(messages):
            outbox.add(
                session,
                kind=MessageKind.CREDENTIAL_REMINDER,
                key=f"bench:{round_name}:{i}",
                organization_id=None,
                recipient_email=f"provider{i}@example.com",
                recipient_user_id=None,
                subject="Your medical license expires in 30 days",
                template="credential_reminder",
                payload=PAYLOAD,
            )
        session.commit()
        queued = 0
        while relayed := jobs.relay_outbox():
            queued += relayed
    counter.reset()
    # CPU seconds of the workers (start-up included) and of this process (the SMTP server).
    own = time.process_time()
    elapsed, worker_cpu = harness.run_workers(settings, workers, SMTP_PORT=str(settings.smtp_port))
    server_cpu = time.process_time() - own

    delivered = len(counter.message_ids)
    steady = (delivered - 1) / (counter.times[-1] - counter.times[0]) if delivered > 1 else 0.0
    print(
        f"{workers} worker(s): queued {queued}, delivered {delivered} in {elapsed:.1f} s:"
        f" {delivered / elapsed * 60:.0f}/min ({delivered / elapsed * 60 / workers:.0f}/min"
        f" per worker); steady {steady * 60:.0f}/min ({steady * 60 / workers:.0f}/min"
        " per worker)",
        flush=True,
    )
    print(
        f"  CPU per message: workers {worker_cpu / delivered * 1000:.1f} ms (start-up"
        f" included), SMTP server {server_cpu / delivered * 1000:.1f} ms",
        flush=True,
    )
    with app.app_context():
        session = db.session
        use_context(session, TenantContext.system("bench"))
        rows = session.execute(
            text(
                "SELECT status, attempts, count(*) FROM outbox_messages"
                " WHERE idempotency_key LIKE :prefix GROUP BY status, attempts"
            ),
            {"prefix": f"bench:{round_name}:%"},
        ).all()
        session.rollback()
    if delivered != messages or len(set(counter.message_ids)) != messages:
        raise SystemExit(f"{delivered} messages arrived ({len(set(counter.message_ids))} distinct)")
    if [tuple(row) for row in rows] != [("sent", 1, messages)]:
        raise SystemExit(f"outbox rows: {rows}")
    return steady * 60


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--workers", default="1,2", help="worker counts to run, in turn")
    args = parser.parse_args(argv)

    configured = Settings.from_env()
    admin = configured.database_admin_url or embedded_postgres(configured.local_data_dir)
    redis_url = configured.redis_url or embedded_redis(configured.local_data_dir)
    database = f"msc_bench_delivery_{os.getpid()}"
    urls = provision(admin, database, "bench", recreate=True)
    # The SMTP server logs every command at INFO.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    counter = Counter()
    smtp = Controller(counter, hostname="127.0.0.1", port=free_port())
    smtp.start()
    settings = dataclasses.replace(
        configured,
        region="bench",
        database_url=urls.app,
        database_owner_url=urls.owner,
        database_admin_url=urls.admin,
        redis_url=redis_url,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        log_level="WARNING",
    )
    try:
        for workers in (int(n) for n in args.workers.split(",")):
            round_name = f"{workers}-{uuid.uuid4().hex[:8]}"
            queue = dataclasses.replace(settings, queue_name=f"bench-{round_name}")
            run(queue, counter, args.messages, workers, round_name)
    finally:
        smtp.stop()
        drop_database(admin, database)


if __name__ == "__main__":
    main()
