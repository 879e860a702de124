"""The Flask side of the services (app/services.py): each application's request
session, Redis client and document store, and the JWT manager."""

from __future__ import annotations

import redis
from flask import Flask, Response, current_app, g
from flask_jwt_extended import JWTManager
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.database import unavailable
from app.integrations.storage import DocumentStore
from app.services import Services

jwt = JWTManager()


def init_services(app: Flask, services: Services) -> None:
    app.extensions["services"] = services
    db.init_app(app)


def services() -> Services:
    """The services of the application handling the current request or command."""
    found: Services = current_app.extensions["services"]
    return found


def current_settings() -> Settings:
    """The settings of the application handling the current request or command."""
    return services().settings


class Database:
    """One session per request, opened by its first query (the tenant context is applied
    as its transaction begins) and ended with the request: committed when the response
    succeeds, rolled back otherwise, so every transaction-local setting ends with it.

    A commit that fails (the database gone, a conflict it finds only then) is rolled back
    and answered as if the view had raised the error: by the error handlers."""

    def init_app(self, app: Flask) -> None:
        app.after_request(self._finish_transaction)
        app.teardown_appcontext(self._close_session)

    @property
    def session_factory(self) -> sessionmaker[Session]:
        return services().sessions

    @property
    def engine(self) -> Engine:
        return services().engine

    @property
    def session(self) -> Session:
        if "db_session" not in g:
            g.db_session = self.session_factory()
        session: Session = g.db_session
        return session

    @staticmethod
    def _finish_transaction(response: Response) -> Response:
        session: Session | None = g.get("db_session")
        if session is None:
            return response
        if response.status_code >= 400:
            _roll_back(session)
            return response
        try:
            session.commit()
        except Exception as exc:
            _roll_back(session)
            return current_app.make_response(current_app.handle_user_exception(exc))
        return response

    @staticmethod
    def _close_session(_exc: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            session.close()


def _roll_back(session: Session) -> None:
    try:
        session.rollback()
    except SQLAlchemyError as exc:
        # The connection was lost: the server ends its transaction with it, and the pool
        # has discarded it.
        if not unavailable(exc):
            raise


class RedisConnection:
    """Each application's Redis client, shared by token revocation and the job queue."""

    @property
    def client(self) -> redis.Redis:
        return services().redis


def document_store() -> DocumentStore:
    """The current application's document store."""
    return services().documents


db = Database()
redis_connection = RedisConnection()
