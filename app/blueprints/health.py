"""Liveness and readiness, unauthenticated.

Liveness touches nothing but the process. Readiness asks PostgreSQL and Redis on fresh
connections of its own, both at once, and answers within about a second whatever they
do: a probe that waited on the request pool, or on a frozen server, would hang with
the requests it is meant to report on. It says how each answered and how long each took.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields
from redis.exceptions import RedisError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.database import PROBE_ANSWER_SECONDS
from app.extensions import current_settings, services
from app.region import RegionMismatch, verify_region
from app.schemas.base import Schema
from app.tenancy.context import ContextKeyMismatch, verify_context_key

blp = Blueprint("health", __name__, description="Probes for the orchestrator.")

# How long readiness waits for its checks; an unfinished check reports `no answer`.
READINESS_SECONDS = PROBE_ANSWER_SECONDS


class ReadinessReport(Schema):
    """The readiness report, 200 or 503 alike."""

    status = fields.String(required=True, metadata={"enum": ["ok", "unavailable"]})
    region = fields.String(
        required=True, metadata={"description": "the region this deployment serves"}
    )
    checks = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        metadata={
            "description": "each dependency's (`database`, `redis`) state: `ok`,"
            " `unreachable`, `no answer` (none within the probe's second), or for the"
            " database `another region's database` or `another context key`"
        },
    )
    latency_ms = fields.Dict(
        keys=fields.String(),
        values=fields.Float(allow_none=True),
        required=True,
        metadata={
            "description": "how long each dependency's check took, in milliseconds;"
            " null when it gave no answer"
        },
    )


@blp.route("/healthz")
class Liveness(MethodView):
    @blp.doc(security=[])
    @blp.response(200)
    def get(self) -> dict[str, Any]:
        """The process is alive."""
        return {"status": "ok"}


@blp.route("/readyz")
class Readiness(MethodView):
    @blp.doc(security=[])
    @blp.response(200, ReadinessReport, description="both dependencies answer")
    @blp.alt_response(
        503,
        description="a dependency is unreachable or does not answer",
        # The readiness report, not a problem: the 200 answer's, with `checks` saying which.
        schema=ReadinessReport,
    )
    def get(self) -> tuple[dict[str, Any], int]:
        """The database and Redis answer: each one's state and latency."""
        settings = current_settings()
        assert settings.redis_url
        probe, region, redis_url = services().probe, settings.region, settings.redis_url
        checks, latency_ms = _within(
            READINESS_SECONDS,
            database=lambda: _check_database(probe, region),
            redis=lambda: _check_redis(redis_url),
        )
        ready = all(value == "ok" for value in checks.values())
        body = {
            "status": "ok" if ready else "unavailable",
            "region": region,
            "checks": checks,
            "latency_ms": latency_ms,
        }
        return body, 200 if ready else 503


def _within(
    seconds: float, **checks: Callable[[], str]
) -> tuple[dict[str, str], dict[str, float | None]]:
    """Run the checks at once, each on a thread of its own, and wait `seconds` for them:
    each one's outcome and how long it took in ms (None if unfinished). A check still
    running then is left to end on its own timeouts."""
    outcomes: dict[str, str] = {}
    latencies: dict[str, float] = {}

    def run(name: str, check: Callable[[], str]) -> None:
        started = time.perf_counter()
        outcome = check()
        latencies[name] = round((time.perf_counter() - started) * 1000, 1)
        outcomes[name] = outcome

    threads = [
        threading.Thread(target=run, args=item, name=f"readiness-{item[0]}", daemon=True)
        for item in checks.items()
    ]
    deadline = time.monotonic() + seconds
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    # Read once, so a check finishing now is not half reported.
    finished = {name: (outcomes[name], latencies[name]) for name in list(outcomes)}
    return (
        {name: finished[name][0] if name in finished else "no answer" for name in checks},
        {name: finished[name][1] if name in finished else None for name in checks},
    )


def _check_database(probe: Engine, region: str) -> str:
    try:
        with probe.connect() as connection:
            verify_region(connection, region)
            verify_context_key(connection)
    except RegionMismatch:
        return "another region's database"
    except ContextKeyMismatch:
        return "another context key"
    except SQLAlchemyError:
        return "unreachable"
    return "ok"


def _check_redis(url: str) -> str:
    client = redis.Redis.from_url(
        url, socket_timeout=READINESS_SECONDS, socket_connect_timeout=READINESS_SECONDS
    )
    try:
        client.ping()
    except RedisError:
        return "unreachable"
    finally:
        client.close()
    return "ok"
