"""How many webhook deliveries the deployment's workers post per second, with one and with
two worker processes.

    DATABASE_ADMIN_URL=... REDIS_URL=... .venv/bin/python bench/webhooks.py \
        [--events 2000] [--workers 1,2]

For each worker count: records that many events of one organization in a scratch
database, for one endpoint (a local HTTP receiver, tests/webhook_receiver.py, which
verifies every signature with the `standardwebhooks` package), relays them to a scratch
queue, starts as many real `rq worker --burst` processes (the deployment's worker class)
and prints the time until the queue is empty and the rate, in all and per worker.
"steady" leaves out the workers' start-up: from the first request the receiver took to
the last. Then checks that every event arrived once, signed, and every delivery is
delivered after one attempt.
"""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import os
import sys
import uuid
from pathlib import Path

import harness
from sqlalchemy import text

from app.config import Settings
from app.domain import webhooks
from app.domain.outbox import Sealer
from app.extensions import db
from app.factory import create_app
from app.local import drop_database, embedded_postgres, embedded_redis, provision
from app.models import Organization
from app.models.enums import WebhookEventType
from app.tenancy.context import TenantContext, use_context
from workers import jobs

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from tests.webhook_receiver import Receiver  # noqa: E402 (after the path is set)

TYPE = WebhookEventType.CREDENTIAL_EXPIRING
# The size of a real event's data (app/domain/webhook_events.py): a provider, a credential.
DATA = {
    "organization_id": "",
    "provider": {"id": str(uuid.uuid4()), "name": "Dr. Bench", "npi": "1234567893"},
    "credential": {
        "id": str(uuid.uuid4()),
        "credential_type": "medical_license",
        "state": "CA",
        "expiry_date": "2026-12-31",
    },
    "days_left": 30,
}


def run(settings: Settings, receiver: Receiver, events: int, workers: int, name: str) -> float:
    """Deliver `events` with `workers` worker processes; returns deliveries per second."""
    app = create_app(settings)
    with app.app_context():
        session = db.session
        use_context(session, TenantContext.system("bench"))
        organization = Organization(name=f"Bench {name}", organization_type="group_practice")
        session.add(organization)
        session.flush()
        _, secret = webhooks.create_endpoint(
            session,
            organization,
            {"url": receiver.url(), "event_types": [TYPE]},
            sealer=Sealer(settings.outbox_secret_key),
            created_by_id=None,
            require_https=False,
        )
        data = {**DATA, "organization_id": str(organization.id)}
        webhooks.record_many(
            session,
            [webhooks.NewEvent(organization.id, TYPE, f"bench:{i}", data) for i in range(events)],
        )
        session.commit()
        queued = 0
        while relayed := jobs.relay_webhooks():
            queued += relayed
    receiver.secrets = [secret]
    receiver.received.clear()
    elapsed, worker_cpu = harness.run_workers(
        settings, workers, WEBHOOK_ALLOWED_NETWORKS="127.0.0.1/32"
    )

    got = list(receiver.received)
    delivered = len(got)
    span = got[-1].at - got[0].at if delivered > 1 else 0.0
    steady = (delivered - 1) / span if span > 0 else 0.0
    print(
        f"{workers} worker(s): queued {queued}, delivered {delivered} in {elapsed:.1f} s:"
        f" {delivered / elapsed:.0f}/s ({delivered / elapsed / workers:.0f}/s per worker);"
        f" steady {steady:.0f}/s ({steady / workers:.0f}/s per worker); worker CPU per"
        f" delivery {worker_cpu / max(delivered, 1) * 1000:.1f} ms (start-up included)",
        flush=True,
    )
    with app.app_context():
        session = db.session
        use_context(session, TenantContext.system("bench"))
        rows = session.execute(
            text(
                "SELECT status, attempts, count(*) FROM webhook_deliveries"
                " WHERE organization_id = :organization GROUP BY status, attempts"
            ),
            {"organization": organization.id},
        ).all()
        session.rollback()
    ids = {d.webhook_id for d in got}
    if delivered != events or len(ids) != events or not all(d.verified for d in got):
        raise SystemExit(f"{delivered} requests arrived ({len(ids)} distinct ids)")
    if [tuple(row) for row in rows] != [("delivered", 1, events)]:
        raise SystemExit(f"deliveries: {rows}")
    return steady


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--workers", default="1,2", help="worker counts to run, in turn")
    args = parser.parse_args(argv)

    configured = Settings.from_env()
    admin = configured.database_admin_url or embedded_postgres(configured.local_data_dir)
    redis_url = configured.redis_url or embedded_redis(configured.local_data_dir)
    database = f"msc_bench_webhooks_{os.getpid()}"
    urls = provision(admin, database, "bench", recreate=True)
    receiver = Receiver().start()
    settings = dataclasses.replace(
        configured,
        region="bench",
        database_url=urls.app,
        database_owner_url=urls.owner,
        database_admin_url=urls.admin,
        redis_url=redis_url,
        webhook_allowed_networks=(ipaddress.ip_network("127.0.0.1/32"),),
        log_level="WARNING",
    )
    try:
        for workers in (int(n) for n in args.workers.split(",")):
            name = f"{workers}-{uuid.uuid4().hex[:8]}"
            queue = dataclasses.replace(settings, queue_name=f"bench-{name}")
            run(queue, receiver, args.events, workers, name)
    finally:
        receiver.stop()
        drop_database(admin, database)


if __name__ == "__main__":
    main()
