"""The schedule the scheduler keeps (`python -m workers.scheduler`, workers/scheduler.py;
run exactly one per region: it has no leader election, and two would enqueue every job
twice).

Times are UTC: rq's CronScheduler reads each expression against the current UTC time,
the same clock the jobs take today's date from (app/clock.py).

- relay the outbox every RELAY_INTERVAL_SECONDS: messages written by requests and scans
  reach the queue, and abandoned ones are recovered;
- scan for expiring credentials and documents at REMINDER_SCAN_CRON (daily); the scan is
  idempotent, so an extra run sends nothing twice;
- ask the NPI Registry again about pending verifications at NPI_RETRY_CRON (hourly);
- start and end assignments whose dates have come at ASSIGNMENT_DATES_CRON (hourly); the
  job is idempotent, so a run after a day's changes are made finds nothing to do;
- screen every active provider against the exclusion lists at SCREENING_CRON (monthly,
  the day after the LEIE's monthly publication): 42 CFR 455.436's monthly check.
"""

from __future__ import annotations

from rq.cron import CronScheduler

from app.config import Settings
from workers import jobs


def register(scheduler: CronScheduler, settings: Settings) -> None:
    queue = settings.queue_name
    scheduler.register(jobs.relay_outbox, queue, interval=settings.relay_interval_seconds)
    scheduler.register(jobs.scan_reminders, queue, cron=settings.reminder_scan_cron)
    scheduler.register(jobs.retry_npi_verifications, queue, cron=settings.npi_retry_cron)
    scheduler.register(jobs.apply_assignment_dates, queue, cron=settings.assignment_dates_cron)
    scheduler.register(
        jobs.screen_providers, queue, args=("monthly",), cron=settings.screening_cron
    )
