"""Engine and per-request sessions.

One engine per application; one session per request (kept on flask.g), closed when
the request ends. The tenant context is applied to every transaction a session
begins (see app.tenancy.context, which listens on every Session).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker


def sqlalchemy_url(url: str) -> URL:
    """Accept plain postgresql:// URLs and pin the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str, **options: Any) -> Engine:
    return create_engine(sqlalchemy_url(url), pool_pre_ping=True, **options)


class Database:
    """The Flask extension holding each application's engine and request session."""

    def init_app(self, app: Flask, url: str, pool_size: int) -> None:
        engine = make_engine(url, pool_size=pool_size, max_overflow=0)
        factory = sessionmaker(engine, expire_on_commit=False)
        app.extensions["database"] = factory
        app.teardown_appcontext(self._close_session)

    @property
    def session_factory(self) -> sessionmaker[Session]:
        factory: sessionmaker[Session] = current_app.extensions["database"]
        return factory

    @property
    def engine(self) -> Engine:
        engine = self.session_factory.kw["bind"]
        assert isinstance(engine, Engine)
        return engine

    @property
    def session(self) -> Session:
        if "db_session" not in g:
            g.db_session = self.session_factory()
        session: Session = g.db_session
        return session

    @staticmethod
    def _close_session(_exc: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            session.close()
