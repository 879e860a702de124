"""The scheduler process: `python -m workers.scheduler`, exactly one per region.

It runs rq's CronScheduler with the schedule of workers/cron.py in a loop of its own,
because rq's (`rq cron`) exits for good at the first Redis error. Here a connection
error or timeout is waited out: the loop tries again after 1 s, then 2, 4, … up to 30 s,
and carries on where it was once Redis answers. A job counts as enqueued only once Redis
has taken it, so whatever fell due during the outage is enqueued, once, when Redis is
back. Each time round, the loop touches HEARTBEAT_FILE for the liveness probe
(workers/heartbeat.py) and sets msc_scheduler_heartbeat_timestamp_seconds, served on
METRICS_PORT (app/metrics.py). SIGTERM or SIGINT stops it between two rounds.
"""

from __future__ import annotations

import logging
import signal
import time
from contextlib import suppress
from pathlib import Path
from types import FrameType

import redis
from rq.cron import CronScheduler
from rq.exceptions import SchedulerNotFound

from app import metrics
from app.config import ConfigError, Settings
from app.services import configure_logging
from workers import cron, heartbeat

log = logging.getLogger("workers.scheduler")

FIRST_RETRY_SECONDS = 1.0
LAST_RETRY_SECONDS = 30.0


class Stop:
    """Asked for by SIGTERM or SIGINT; ends the loop's sleeps early."""

    def __init__(self) -> None:
        self.requested = False

    def request(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True

    def sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.requested and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, 0.5))


# Served on METRICS_PORT; the alerts' sign that the loop comes round.
HEARTBEAT = metrics.SchedulerHeartbeat()


def run(scheduler: CronScheduler, stop: Stop, heartbeat_file: Path | None = None) -> None:
    """Enqueue what is due, sleep until the next job is due, and so on until stopped."""
    registered = False
    down_since: float | None = None
    retry = FIRST_RETRY_SECONDS
    while not stop.requested:
        heartbeat.beat(heartbeat_file)
        HEARTBEAT.beat()
        try:
            if not registered:
                scheduler.register_birth()
                registered = True
            if scheduler.enqueue_jobs():
                scheduler.save()
            scheduler.heartbeat()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            if down_since is None:
                down_since = time.monotonic()
            log.warning("Redis unavailable (%s); trying again in %gs", exc, retry)
            stop.sleep(retry)
            retry = min(retry * 2, LAST_RETRY_SECONDS)
            continue
        if down_since is not None:
            log.info("Redis answers again after %.1fs; scheduling", time.monotonic() - down_since)
            down_since, retry = None, FIRST_RETRY_SECONDS
        stop.sleep(scheduler.calculate_sleep_interval())
    if registered:
        with suppress(redis.RedisError, SchedulerNotFound):
            scheduler.register_death()
    log.info("scheduler stopped")


def main() -> None:
    settings = Settings.from_env()
    settings.check()
    if not settings.redis_url:
        raise ConfigError("REDIS_URL: the scheduler needs the Redis it enqueues jobs in")
    configure_logging(settings)
    metrics.serve(settings.metrics_port, HEARTBEAT)
    connection = redis.Redis.from_url(
        settings.redis_url,
        socket_timeout=settings.redis_timeout_seconds,
        socket_connect_timeout=settings.redis_timeout_seconds,
    )
    scheduler = CronScheduler(connection)
    cron.register(scheduler, settings)
    stop = Stop()
    signal.signal(signal.SIGTERM, stop.request)
    signal.signal(signal.SIGINT, stop.request)
    run(scheduler, stop, settings.heartbeat_file)


if __name__ == "__main__":
    main()
