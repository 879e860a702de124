"""What a job runs in: the application (created once per worker process) and a
database session in the system context, committed when the job's work succeeds."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app, has_app_context
from sqlalchemy.orm import Session

from app import create_app
from app.config import Settings
from app.extensions import db
from app.tenancy.context import TenantContext, use_context

log = logging.getLogger("workers")

_app: Flask | None = None


def get_app() -> Flask:
    """The running application (a CLI command's), or this worker's, created once."""
    global _app
    if has_app_context():
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        return app
    if _app is None:
        _app = create_app()
    return _app


def settings() -> Settings:
    value: Settings = get_app().config["SETTINGS"]
    return value


def dispose_inherited_connections() -> None:
    """In a forked work horse: drop the pool inherited from the parent without closing
    its sockets (the parent still owns them), so this process opens its own."""
    if _app is not None:
        with _app.app_context():
            db.engine.dispose(close=False)


@contextmanager
def system_session(job: str) -> Iterator[Session]:
    """A session acting as the system: MSC reach, named `job:<job>` in the audit trail.
    The policies admit it through their MSC-admin clause; nothing bypasses them."""
    app = get_app()
    with app.app_context():
        session = db.session_factory()
        use_context(session, TenantContext(is_msc_admin=True, request_id=f"job:{job}"[:64]))
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
