"""The schedule the scheduler keeps (`python -m workers.scheduler`, workers/scheduler.py;
run exactly one per region: it has no leader election, and two would enqueue every job
twice).

Times are UTC: rq's CronScheduler reads each expression against the current UTC time,
the same clock the jobs take today's date from (app/clock.py).

- relay the outbox and the webhook deliveries every RELAY_INTERVAL_SECONDS: messages and
  events written by requests and scans reach the queue, and abandoned ones are recovered;
- scan for expiring credentials and documents at REMINDER_SCAN_CRON (daily); the scan is
  idempotent, so an extra run sends nothing twice;
- ask the NPI Registry again about pending verifications at NPI_RETRY_CRON (hourly);
- start and end assignments whose dates have come at ASSIGNMENT_DATES_CRON (hourly); the
  job is idempotent, so a run after a day's changes are made finds nothing to do;
- import the exclusion lists at EXCLUSION_IMPORT_CRON (monthly, the 11th): the LEIE from
  LEIE_FULL_URL, SAM.gov when SAM_API_KEY is set; nothing when neither is. The same file
  again is no new version, so an extra run changes nothing.
- screen every active provider against the exclusion lists at SCREENING_CRON (monthly,
  the day after the LEIE's monthly publication): 42 CFR 455.436's monthly check.
"""

from __future__ import annotations

from rq.cron import CronScheduler

from app.config import Settings
from workers import jobs

EXCLUSION_IMPORT_TIMEOUT_SECONDS = 3600
SCREENING_TIMEOUT_SECONDS = 1800


def register(scheduler: CronScheduler, settings: Settings) -> None:
    queue = settings.queue_name
    scheduler.register(jobs.relay_outbox, queue, interval=settings.relay_interval_seconds)
    scheduler.register(jobs.relay_webhooks, queue, interval=settings.relay_interval_seconds)
    scheduler.register(jobs.scan_reminders, queue, cron=settings.reminder_scan_cron)
    scheduler.register(jobs.retry_npi_verifications, queue, cron=settings.npi_retry_cron)
    scheduler.register(jobs.apply_assignment_dates, queue, cron=settings.assignment_dates_cron)
    if settings.leie_full_url or settings.sam_api_key:
        # A SAM.gov pull is up to 1,000 pages of 10 records: far longer than a job's
        # default three minutes.
        scheduler.register(
            jobs.import_exclusion_lists,
            queue,
            cron=settings.exclusion_import_cron,
            job_timeout=EXCLUSION_IMPORT_TIMEOUT_SECONDS,
        )
    # A pass over 200,000 providers takes about half a minute (bench/RESULTS.md).
    scheduler.register(
        jobs.screen_providers,
        queue,
        args=("monthly",),
        cron=settings.screening_cron,
        job_timeout=SCREENING_TIMEOUT_SECONDS,
    )
