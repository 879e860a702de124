"""How long the daily renewal-reminder scan takes over a benchmark database's credentials
(600,000 at bench/generate.py's large scale).

    .venv/bin/python bench/generate.py --scale large --database msc_bench
    .venv/bin/python bench/scan.py --database msc_bench [--today 2026-11-30]

Runs the reminder job's work (`reminders.scan` in the system context of the job's
session, committed) three times, and prints for each the seconds, the candidates it
examined (credentials and organization documents inside a window) and the messages it
wrote:
- first: nothing reminded yet, so every item inside a window gets its reminders (the
  backlog of a first deployment);
- again: the same day once more (a retried job), which writes nothing;
- next day: the scan as it runs every day, writing what entered a window overnight.

`--today` is the first day (by default the day the data was generated for, from its
manifest, else today). The reminders of earlier runs are deleted first, with their audit
events, and those of this run afterwards: the database is left as it was found.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time

import psycopg
from sqlalchemy import text

from app import clock
from app.config import Settings
from app.local import embedded_postgres, embedded_redis, urls_for
from app.models.enums import MessageKind
from app.tenancy.roles import libpq_url

DATABASE = "msc_bench"
BASE_URL = "https://msc.example.com"
REMINDERS = [MessageKind.CREDENTIAL_REMINDER.value, MessageKind.DOCUMENT_REMINDER.value]


def forget_reminders(admin_url: str) -> None:
    """Delete every reminder in the outbox, and its audit events, as the superuser and
    past the tables' triggers (which would audit the deletions)."""
    with psycopg.connect(libpq_url(admin_url)) as conn:
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute(
            "DELETE FROM audit_events WHERE table_name = 'outbox_messages' AND row_id IN"
            " (SELECT id FROM outbox_messages WHERE kind = ANY(%s))",
            (REMINDERS,),
        )
        conn.execute("DELETE FROM outbox_messages WHERE kind = ANY(%s)", (REMINDERS,))
    with psycopg.connect(libpq_url(admin_url), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) outbox_messages, audit_events")


def candidates(admin_url: str, today: dt.date, windows: tuple[int, ...]) -> tuple[int, int]:
    """The credentials and organization documents inside a window on `today`."""
    last = today + dt.timedelta(days=max(windows))
    with psycopg.connect(libpq_url(admin_url)) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM credentials WHERE expiry_date BETWEEN %(a)s AND %(b)s"
            "        AND verification_status <> 'rejected'),"
            "       (SELECT count(*) FROM documents WHERE expiry_date BETWEEN %(a)s AND %(b)s"
            "        AND organization_id IS NOT NULL)",
            {"a": today, "b": last},
        ).fetchone()
    assert row is not None
    return row[0], row[1]


def scan(today: dt.date) -> tuple[float, int]:
    """The reminder job's work for `today`, as the job does it; seconds and messages."""
    # Imported here: the job reads its settings from the environment main() sets.
    from app.domain import reminders
    from workers.runtime import settings, system_session

    config = settings()
    with system_session("warm-up") as session:  # the pool's first connection, not timed
        session.execute(text("SELECT 1"))
    started = time.perf_counter()
    with system_session(f"reminder-scan:{today}") as session:
        result = reminders.scan(session, today, config.reminder_windows, config.public_base_url)
    return time.perf_counter() - started, result.total


def default_today(configured: Settings, database: str) -> dt.date:
    manifest = configured.local_data_dir / "bench" / f"{database}.json"
    if manifest.exists():
        return dt.date.fromisoformat(json.loads(manifest.read_text())["today"])
    return clock.today()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--database", default=DATABASE, help="a bench/generate.py database")
    parser.add_argument("--today", type=dt.date.fromisoformat, help="the first day scanned")
    args = parser.parse_args(argv)

    configured = Settings.from_env()
    admin = configured.database_admin_url or embedded_postgres(configured.local_data_dir)
    redis_url = configured.redis_url or embedded_redis(configured.local_data_dir)
    urls = urls_for(admin, args.database)
    with psycopg.connect(libpq_url(urls.admin)) as conn:
        region = conn.execute("SELECT region FROM deployment_region").fetchone()
        found = conn.execute("SELECT count(*) FROM credentials").fetchone()
    if region is None or found is None:
        raise SystemExit(f"{args.database} is not a provisioned database")
    today = args.today or default_today(configured, args.database)
    print(f"{args.database}: {found[0]} credentials; first day {today}", flush=True)
    # The job takes its settings from the environment (workers/runtime.py).
    os.environ.update(
        {
            "DATABASE_URL": urls.app,
            "DATABASE_OWNER_URL": urls.owner,
            "DATABASE_ADMIN_URL": urls.admin,
            "REDIS_URL": redis_url,
            "REGION": region[0],
            "PUBLIC_BASE_URL": BASE_URL,
            "LOG_LEVEL": "WARNING",
        }
    )
    forget_reminders(urls.admin)
    try:
        for label, day in (
            ("first", today),
            ("again", today),
            ("next day", today + dt.timedelta(days=1)),
        ):
            examined = candidates(urls.admin, day, configured.reminder_windows)
            seconds, written = scan(day)
            print(
                f"scan {label:8} {day}: {seconds:6.2f} s, examined {examined[0]} credentials"
                f" and {examined[1]} documents, wrote {written} messages",
                flush=True,
            )
    finally:
        forget_reminders(urls.admin)


if __name__ == "__main__":
    main()
