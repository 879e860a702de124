"""Background jobs: RQ workers and the scheduler.

    rq worker --url "$REDIS_URL" --worker-class workers.worker.Worker default
    python -m workers.scheduler                  # exactly one per region

Jobs call the same domain functions as the API, in an explicit system context.
"""
