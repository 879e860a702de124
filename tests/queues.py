"""The RQ queue in tests: run the queued jobs in this process, and remove what a test
queue left in Redis (a run's queues are its own: other runs may share the server)."""

from __future__ import annotations

import re

import redis
from flask import Flask
from rq import Queue, SimpleWorker

from app.extensions import redis_connection


def work(app: Flask) -> None:
    """Run every job queued on the app's queue, and every job those queue, in this
    process (rq.SimpleWorker, burst mode), inside the app's context: the jobs use the
    app's services (workers.runtime.services)."""
    with app.app_context():
        connection = redis_connection.client
        queue = Queue(app.config["SETTINGS"].queue_name, connection=connection)
        SimpleWorker([queue], connection=connection).work(burst=True, logging_level="WARNING")


def forget_queue(redis_url: str, name: str) -> None:
    """Remove what the queue `name` left in Redis (jobs, registries, worker keys)."""
    client = redis.Redis.from_url(redis_url)
    try:
        queue = Queue(name, connection=client)
        job_ids = set(queue.get_job_ids())
        for registry in (
            queue.started_job_registry,
            queue.finished_job_registry,
            queue.failed_job_registry,
            queue.deferred_job_registry,
            queue.scheduled_job_registry,
            queue.canceled_job_registry,
        ):
            job_ids.update(registry.get_job_ids())
        for job_id in job_ids:
            client.delete(
                f"rq:job:{job_id}",
                f"rq:results:{job_id}",
                f"rq:job:{job_id}:dependents",
                f"rq:job:{job_id}:dependencies",
            )
        # Keys naming this queue, not another whose name merely starts with this one's.
        own = re.compile(rf":{re.escape(name)}(?:$|[:-])")
        for key in client.scan_iter(match=f"rq:*{name}*"):
            if own.search(key.decode()):
                client.delete(key)
        client.srem("rq:queues", f"rq:queue:{name}")
        client.srem("rq:workers", f"rq:worker:{name}-worker")
    finally:
        client.close()
