"""What a job runs in: the process's services (opened once per worker process, or the
running application's when a CLI command runs a job) and a database session in the
system context, committed when the job's work succeeds."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app, has_app_context
from sqlalchemy.orm import Session

from app import metrics, tracing
from app import services as process_services
from app.config import Settings
from app.integrations.mail import SmtpMailer
from app.services import Services
from app.tenancy.context import TenantContext, use_context

log = logging.getLogger("workers")

_services: Services | None = None
_mailer: SmtpMailer | None = None


def services() -> Services:
    """The running application's services (a CLI command's), or this worker's."""
    global _services
    if has_app_context():
        running: Services = current_app.extensions["services"]
        return running
    if _services is None:
        _services = process_services.start()
        provider = tracing.start(_services.settings, tracing.WORKER)
        if provider is not None:
            tracing.trace_engine(_services.engine, provider)
        metrics.instrument_engine(_services.engine)
    return _services


def settings() -> Settings:
    return services().settings


def mailer() -> SmtpMailer:
    """This process's mailer for the current settings, whose SMTP connection carries
    one message after another (see SmtpMailer)."""
    global _mailer
    config = settings()
    if _mailer is None or _mailer.settings is not config:
        if _mailer is not None:
            _mailer.close()
        _mailer = SmtpMailer(config)
    return _mailer


def dispose_inherited_connections() -> None:
    """In a forked work horse: drop the database pool and the SMTP connection inherited
    from the parent without closing their sockets (the parent still owns them), so this
    process opens its own."""
    if _services is not None:
        _services.engine.dispose(close=False)
    if _mailer is not None:
        _mailer.forget()


@contextmanager
def system_session(job: str) -> Iterator[Session]:
    """A session acting as the system, named `job:<job>` in the audit trail. The
    policies admit it through their MSC-admin clause; nothing bypasses them."""
    session = services().sessions()
    use_context(session, TenantContext.system(f"job:{job}"))
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
