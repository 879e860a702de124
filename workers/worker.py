"""The RQ worker class the deployment runs (`--worker-class workers.worker.Worker`)."""

from __future__ import annotations

from typing import Any

from rq import Queue
from rq.job import Job
from rq.worker import Worker as RqWorker

from workers.runtime import dispose_inherited_connections, services


class Worker(RqWorker):
    """RQ forks a work horse per job. The services are opened once, in the worker, so
    each horse inherits them ready; a forked process must not share the parent's pooled
    database connections, so the horse drops them before running the job."""

    def work(self, *args: Any, **kwargs: Any) -> bool:
        services()
        return bool(super().work(*args, **kwargs))

    def main_work_horse(self, job: Job, queue: Queue) -> None:
        dispose_inherited_connections()
        super().main_work_horse(job, queue)
