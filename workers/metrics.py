"""What a worker reports at scrape time, besides what its process tree counted
(app/metrics.py): the outbox's backlog, read from the database as the system, and its
queues' depth and failed jobs, read from Redis.

Every worker reports them, so with several workers the series repeat once per worker,
alike: a rule aggregates them with max(). When the database or Redis cannot be read, the
readings concerned are left out of that scrape (and a warning logged); the scrape itself
still answers, so that the worker does not look down.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from redis import RedisError
from rq import Queue
from sqlalchemy.exc import SQLAlchemyError

from app import clock
from app.domain import outbox
from workers.runtime import log, system_session


class OutboxCollector(Collector):
    """msc_outbox_messages{status} and msc_outbox_oldest_due_age_seconds."""

    def collect(self) -> Iterator[Metric]:
        now = clock.now()
        try:
            with system_session("metrics") as session:
                backlog = outbox.backlog(session, now)
        except SQLAlchemyError as exc:
            log.warning("metrics: the outbox cannot be read: %s", exc)
            return
        messages = GaugeMetricFamily(
            "msc_outbox_messages", "Outbox messages, by status.", labels=["status"]
        )
        for status, count in backlog.counts.items():
            messages.add_metric([status.value], count)
        yield messages
        waited = 0.0 if backlog.oldest_due is None else (now - backlog.oldest_due).total_seconds()
        yield GaugeMetricFamily(
            "msc_outbox_oldest_due_age_seconds",
            "How long the oldest outbox message due to be sent has waited (0: none waits).",
            value=max(waited, 0.0),
        )


class QueueCollector(Collector):
    """msc_rq_queue_depth{queue} and msc_rq_failed_jobs{queue}, for `queues`."""

    def __init__(self, queues: Sequence[Queue]) -> None:
        self.queues = queues

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "msc_rq_queue_depth", "Jobs waiting in the queue.", labels=["queue"]
        )
        failed = GaugeMetricFamily(
            "msc_rq_failed_jobs", "Jobs in the queue's failed job registry.", labels=["queue"]
        )
        try:
            for queue in self.queues:
                depth.add_metric([queue.name], queue.count)
                failed.add_metric([queue.name], queue.failed_job_registry.count)
        except RedisError as exc:
            log.warning("metrics: the queues cannot be read: %s", exc)
            return
        yield depth
        yield failed
