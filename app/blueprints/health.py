"""Liveness and readiness, unauthenticated."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import current_settings, db, redis_connection
from app.region import RegionMismatch, check_region

blp = Blueprint("health", __name__, description="Probes for the orchestrator.")


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
    @blp.response(200)
    @blp.alt_response(503, description="a dependency is unreachable")
    def get(self) -> tuple[dict[str, Any], int]:
        """The database and Redis answer."""
        checks = {"database": _check_database(), "redis": _check_redis()}
        ready = all(value == "ok" for value in checks.values())
        body = {
            "status": "ok" if ready else "unavailable",
            "region": current_settings().region,
            "checks": checks,
        }
        return body, 200 if ready else 503


def _check_database() -> str:
    try:
        check_region(db.engine, current_settings().region)
        db.session.execute(text("SELECT 1"))
    except RegionMismatch:
        return "another region's database"
    except SQLAlchemyError:
        return "unreachable"
    return "ok"


def _check_redis() -> str:
    try:
        redis_connection.client.ping()
    except RedisError:
        return "unreachable"
    return "ok"
