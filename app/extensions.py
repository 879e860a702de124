"""The Flask side of the services (app/services.py): each application's request
session, Redis client and document store, and the JWT manager."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import Any

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

    def streamed(self, chunks: Generator[str, None, None], **response: Any) -> Response:
        """A response whose body is read from the database as it is sent, in the
        request's transaction: the request leaves its session open, and the body ends it.

        The first chunk is made at once, by the view: a read that fails before anything
        is sent is answered as any failing request is (its error, the transaction rolled
        back). The rest is made as the client takes it, after the view has returned and
        outside the request's context: `chunks` holds what it reads with (the session,
        its cursor). The transaction is committed before the last chunk leaves, so a
        client that received the whole body received what the transaction committed (an
        access recorded with the read, say). A read that fails midway is rolled back and
        the body cut short, which the client sees as a failed transfer; a client that
        goes away midway was sent part of what was read, which is committed; a body
        dropped before anything was sent is rolled back."""
        first = next(chunks, None)
        session = self.session
        g.db_streaming = True
        streamed = Response(self._send(session, first, chunks), **response)
        streamed.call_on_close(session.close)
        return streamed

    @staticmethod
    def _send(
        session: Session, first: str | None, rest: Generator[str, None, None]
    ) -> Iterator[str]:
        held = first
        try:
            for chunk in rest:
                if held is not None:
                    yield held
                held = chunk
            session.commit()
        except GeneratorExit:
            rest.close()  # its reading ends (its cursor closed) before the transaction does
            session.commit()
            raise
        except Exception:
            _roll_back(session)
            raise
        if held is not None:
            yield held

    @staticmethod
    def _finish_transaction(response: Response) -> Response:
        session: Session | None = g.get("db_session")
        if session is None:
            return response
        if response.status_code >= 400:
            g.pop("db_streaming", None)  # no body is streamed: the request ends the session
            _roll_back(session)
            return response
        if g.get("db_streaming"):
            return response  # the body ends it as it is sent (streamed)
        try:
            session.commit()
        except Exception as exc:
            _roll_back(session)
            return current_app.make_response(current_app.handle_user_exception(exc))
        return response

    @staticmethod
    def _close_session(_exc: BaseException | None) -> None:
        if g.get("db_streaming"):
            return  # closed by the streamed body, when it is
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
