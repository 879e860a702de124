"""How many emails one forking RQ worker delivers per minute through the outbox.

    DATABASE_ADMIN_URL=... REDIS_URL=... python bench/delivery.py [messages]

Writes N renewal-reminder messages to the outbox of a scratch database, relays them to a
scratch queue, runs one real `rq worker --burst` (the deployment's worker class, a
forked work horse per job) against a local SMTP server, and prints the rate.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from aiosmtpd.controller import Controller

from app.config import Settings
from app.domain import outbox
from app.extensions import db
from app.factory import create_app
from app.local import drop_database, embedded_postgres, embedded_redis, provision
from app.models.enums import MessageKind
from app.tenancy.context import TenantContext, use_context
from workers import jobs

ROOT = Path(__file__).resolve().parents[1]


class Counter:
    def __init__(self) -> None:
        self.received = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        with self.lock:
            self.received += 1
        return "250 OK"


def main(count: int) -> None:
    configured = Settings.from_env()
    admin = configured.database_admin_url or embedded_postgres(configured.local_data_dir)
    redis_url = configured.redis_url or embedded_redis(configured.local_data_dir)
    database = f"msc_bench_{os.getpid()}"
    urls = provision(admin, database, "bench", recreate=True)
    counter = Counter()
    with socket.socket() as probe:  # a free port (the controller cannot use port 0)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtp = Controller(counter, hostname="127.0.0.1", port=port)
    smtp.start()
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    settings = dataclasses.replace(
        configured,
        region="bench",
        database_url=urls.app,
        database_owner_url=urls.owner,
        database_admin_url=urls.admin,
        redis_url=redis_url,
        smtp_port=smtp.port,
        queue_name=queue,
    )
    try:
        app = create_app(settings)
        with app.app_context():
            session = db.session
            use_context(session, TenantContext.system("bench"))
            for i in range(count):
                outbox.add(
                    session,
                    kind=MessageKind.CREDENTIAL_REMINDER,
                    key=f"bench:{i}",
                    organization_id=None,
                    recipient_email=f"provider{i}@example.com",
                    recipient_user_id=None,
                    subject="Your medical license expires in 30 days",
                    template="credential_reminder",
                    payload={
                        "recipient_name": "Dr. Bench",
                        "for_provider": True,
                        "credential_label": "medical license",
                        "provider_name": "Dr. Bench",
                        "masked_number": "•••1234",
                        "expiry_date": "2026-12-25",
                        "days_left": 30,
                        "link": "http://127.0.0.1/api/v1/me/credentials",
                    },
                )
            session.commit()
            queued = jobs.relay_outbox()
        env = {
            **os.environ,
            "DATABASE_URL": urls.app,
            "DATABASE_OWNER_URL": urls.owner,
            "DATABASE_ADMIN_URL": urls.admin,
            "REDIS_URL": redis_url,
            "REGION": "bench",
            "SMTP_PORT": str(smtp.port),
            "QUEUE_NAME": queue,
            "LOG_LEVEL": "WARNING",
        }
        rq = str(Path(sys.executable).parent / "rq")
        started = time.perf_counter()
        subprocess.run(
            [
                rq,
                "worker",
                "--burst",
                "--quiet",
                "--url",
                redis_url,
                "--worker-class",
                "workers.worker.Worker",
                queue,
            ],
            env=env,
            cwd=ROOT,
            check=True,
        )
        elapsed = time.perf_counter() - started
        print(
            f"queued {queued}, delivered {counter.received} in {elapsed:.1f} s:"
            f" {counter.received / elapsed * 60:.0f} messages per minute (one forking worker)"
        )
    finally:
        smtp.stop()
        drop_database(admin, database)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
