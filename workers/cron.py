"""The schedule, for `rq cron workers.cron` (run exactly one scheduler per region: rq
cron has no leader election, and two would enqueue every job twice).

- relay the outbox every RELAY_INTERVAL_SECONDS (default 15): messages written by
  requests and scans reach the queue, and abandoned ones are recovered;
- scan for expiring credentials and documents daily at REMINDER_SCAN_CRON (default
  06:00 UTC); the scan is idempotent, so an extra run sends nothing twice;
- ask the NPI Registry again about pending verifications hourly.
"""

from __future__ import annotations

import os

from rq import cron

from workers import jobs

QUEUE = os.environ.get("QUEUE_NAME", "default")

cron.register(
    jobs.relay_outbox, QUEUE, interval=int(os.environ.get("RELAY_INTERVAL_SECONDS", "15"))
)
cron.register(jobs.scan_reminders, QUEUE, cron=os.environ.get("REMINDER_SCAN_CRON", "0 6 * * *"))
cron.register(jobs.retry_npi_verifications, QUEUE, cron="17 * * * *")
