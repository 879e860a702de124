"""Background jobs: RQ workers and the `rq cron` schedule.

    rq worker --url "$REDIS_URL" --worker-class workers.worker.Worker default
    rq cron --url "$REDIS_URL" workers.cron      # exactly one per region

Jobs call the same domain functions as the API, in an explicit system context.
"""
