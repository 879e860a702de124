"""What a process of the service connects to, opened once from the settings: the
database (engine and session factory, and an engine for readiness probes), Redis and the
document store.

The web application (`app.factory`) and the workers (`workers.runtime`) both start from
here, so they configure logging, provision local services, check the region and
register the session listeners the same way. No Flask here.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app import local, logs
from app.config import Settings
from app.database import application_engine, probe_engine, register_session_listeners
from app.integrations.storage import DocumentStore, store_for
from app.region import check_region
from app.tenancy import signing
from app.tenancy.context import check_context_key


@dataclass(frozen=True)
class Services:
    settings: Settings
    sessions: sessionmaker[Session]
    redis: redis.Redis
    documents: DocumentStore
    # For readiness probes only (see app.database.probe_engine).
    probe: Engine

    @property
    def engine(self) -> Engine:
        engine = self.sessions.kw["bind"]
        assert isinstance(engine, Engine)
        return engine

    def close(self) -> None:
        """Close every pooled connection (a process that is done, or a test's app)."""
        self.engine.dispose()
        self.probe.dispose()
        self.redis.close()


def configure_logging(settings: Settings) -> None:
    """The process's log as the settings ask (see app/logs.py)."""
    logs.configure(settings.log_level, settings.region, settings.json_logs)


def start(config: Settings | None = None) -> Services:
    """Connect to everything the settings name (`config`, or else the environment);
    outside production, missing services are provided locally (see app/local.py)."""
    settings = config or Settings.from_env()
    settings.check()
    if settings.app_env != "production":
        settings = local.with_local_services(settings)
    assert settings.database_url and settings.redis_url
    configure_logging(settings)
    register_session_listeners()
    signing.use_key(settings.tenant_context_key)
    engine = application_engine(settings)
    check_region(engine, settings.region)
    check_context_key(engine)
    return Services(
        settings=settings,
        sessions=sessionmaker(engine, expire_on_commit=False),
        redis=redis.Redis.from_url(
            settings.redis_url,
            socket_timeout=settings.redis_timeout_seconds,
            socket_connect_timeout=settings.redis_timeout_seconds,
        ),
        documents=store_for(settings),
        probe=probe_engine(settings.database_url),
    )
