"""The RQ worker class the deployment runs (`--worker-class workers.worker.Worker`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from opentelemetry.trace import StatusCode
from redis.client import Pipeline
from rq import Queue
from rq.job import Job
from rq.worker import Worker as RqWorker
from rq.worker import WorkerStatus

from app import logs, metrics, tracing
from app.domain.passwords import ISSUE_PASSWORD_RESET
from workers import heartbeat
from workers.jobs import DELIVER, DELIVER_WEBHOOK
from workers.metrics import OutboxCollector, QueueCollector
from workers.runtime import dispose_inherited_connections, services

# The longest an idle worker waits for a job before it comes round its loop again
# (rq's own wait is 405 s): often enough for the liveness heartbeat.
IDLE_ROUND_SECONDS = 60
# Jobs the worker runs in its own process rather than in a forked work horse: short,
# bounded by their job timeout, and run thousands of times a minute, so a fork each (and
# a new database and SMTP connection each) would cost more than the job itself.
# (A webhook's post opens its own connection: see app/integrations/webhook_http.py.)
IN_PROCESS = frozenset({DELIVER, DELIVER_WEBHOOK, ISSUE_PASSWORD_RESET})


class Worker(RqWorker):
    """Deliveries and reset links (IN_PROCESS) run in the worker itself, one after
    another over its pooled database connection and its kept SMTP connection. Every
    other job (the reminder scan, the NPI retries) runs in a forked work horse, as RQ
    does by default: a long job then leaves the worker free to send heartbeats, and
    whatever memory it used goes with the horse. The services are opened once, in the
    worker, so each horse inherits them ready; a forked process must not share the
    parent's connections, so the horse drops them before running the job.

    While Redis is down, rq's loop waits and tries again (up to a minute apart), and the
    worker carries on when Redis is back. Each heartbeat, which rq sends each time round
    that loop (at least every IDLE_ROUND_SECONDS) and every 30 s while a job runs, also
    touches HEARTBEAT_FILE for the liveness probe (workers/heartbeat.py).

    The worker serves its metrics on METRICS_PORT (workers/metrics.py)."""

    heartbeat_file: Path | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # rq logs each job's description, its arguments included, and a reset link's job
        # carries an email address: the job's id and kind (bound above) say enough.
        kwargs["log_job_description"] = False
        super().__init__(*args, **kwargs)

    @property
    def dequeue_timeout(self) -> int:
        return min(super().dequeue_timeout, IDLE_ROUND_SECONDS)

    def work(self, *args: Any, **kwargs: Any) -> bool:
        settings = services().settings
        self.heartbeat_file = settings.heartbeat_file
        # rq bounds the time a command may take, not the time connecting may take: bound
        # that too, so an unreachable Redis is retried at rq's pace.
        self.connection.connection_pool.connection_kwargs["socket_connect_timeout"] = (
            settings.redis_timeout_seconds
        )
        # Scraped on METRICS_PORT from a thread of this process; the work horses count
        # into the same process tree (app/metrics.py).
        metrics.serve(settings.metrics_port, OutboxCollector(), QueueCollector(self.queues))
        return bool(super().work(*args, **kwargs))

    def heartbeat(self, timeout: int | None = None, pipeline: Pipeline | None = None) -> None:
        heartbeat.beat(self.heartbeat_file)
        super().heartbeat(timeout, pipeline)

    def execute_job(self, job: Job, queue: Queue) -> None:
        # Every line logged while the job runs names it, in a work horse too (forked
        # with this context).
        with logs.bound(job_id=job.id, job=job.func_name):
            if job.func_name not in IN_PROCESS:
                super().execute_job(job, queue)
                return
            # As rq's SimpleWorker runs every job: the job timeout still holds (SIGALRM).
            self.prepare_execution(job)
            self.perform_job(job, queue)
            self.set_state(WorkerStatus.IDLE)

    def perform_job(self, job: Job, queue: Queue) -> bool:
        with tracing.job_span(job.func_name or "", job.id, queue.name, job.meta) as span:
            performed = bool(super().perform_job(job, queue))
            if not performed:
                span.set_status(StatusCode.ERROR)
        if self.is_horse:
            # A work horse ends with os._exit, which no exporter outlives: its spans
            # leave first.
            tracing.flush()
        return performed

    def monitor_work_horse(self, job: Job, queue: Queue) -> None:
        try:
            super().monitor_work_horse(job, queue)
        finally:
            # The horse has exited: its gauges stop counting, its counters carry on
            # into the next horse's.
            metrics.forget_process(metrics.horses_of(os.getpid()))

    def main_work_horse(self, job: Job, queue: Queue) -> None:
        metrics.count_as_horse_of(os.getppid())
        dispose_inherited_connections()
        super().main_work_horse(job, queue)
