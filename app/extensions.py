"""Extensions, created once and initialised per application in create_app()."""

from __future__ import annotations

import redis
from flask import Flask, current_app
from flask_jwt_extended import JWTManager

from app.database import Database

jwt = JWTManager()
db = Database()


class RedisConnection:
    """Each application's Redis client, shared by token revocation and the job queue."""

    def init_app(self, app: Flask, url: str) -> None:
        app.extensions["redis"] = redis.Redis.from_url(
            url, socket_timeout=2, socket_connect_timeout=2
        )

    @property
    def client(self) -> redis.Redis:
        client: redis.Redis = current_app.extensions["redis"]
        return client


redis_connection = RedisConnection()
