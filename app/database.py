"""Engines and the session events every session of the process shares. No Flask here:
the web application, the workers and the migrations all connect through this module."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session

from app.domain import documents
from app.tenancy import context, read_only


def sqlalchemy_url(url: str) -> URL:
    """Accept plain postgresql:// URLs and pin the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str, **options: Any) -> Engine:
    return create_engine(sqlalchemy_url(url), pool_pre_ping=True, **options)


# Listeners on the Session class reach every session of the process, whoever made it:
# no code path can begin a transaction without its tenant context, write to a read-only
# organization, or leave a document's bytes behind after a rollback.
SESSION_LISTENERS: tuple[tuple[str, Any], ...] = (
    ("after_begin", context.apply_on_begin),
    ("before_flush", read_only.refuse_writes_to_read_only),
    ("after_commit", documents.note_commit),
    ("after_transaction_end", documents.settle_files),
)


def register_session_listeners() -> None:
    """Install the listeners above, once per process (repeated calls change nothing)."""
    for name, listener in SESSION_LISTENERS:
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)
