"""The schedule, for `rq cron workers.cron` (run exactly one scheduler per region: rq
cron has no leader election, and two would enqueue every job twice).

Times are UTC: rq cron reads each expression against the current UTC time, the same
clock the jobs take today's date from (app/clock.py).

- relay the outbox every RELAY_INTERVAL_SECONDS: messages written by requests and scans
  reach the queue, and abandoned ones are recovered;
- scan for expiring credentials and documents at REMINDER_SCAN_CRON (daily); the scan is
  idempotent, so an extra run sends nothing twice;
- ask the NPI Registry again about pending verifications at NPI_RETRY_CRON (hourly).
"""

from __future__ import annotations

from rq import cron

from app.config import Settings
from workers import jobs

settings = Settings.from_env()

cron.register(jobs.relay_outbox, settings.queue_name, interval=settings.relay_interval_seconds)
cron.register(jobs.scan_reminders, settings.queue_name, cron=settings.reminder_scan_cron)
cron.register(jobs.retry_npi_verifications, settings.queue_name, cron=settings.npi_retry_cron)
