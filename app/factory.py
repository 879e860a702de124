"""`create_app()`: settings, extensions, blueprints, error handlers and commands.

The only module that puts the application together; `wsgi.py`, the workers and the
tests call it. Nothing else imports it, so the rest of the package imports no Flask
unless it serves requests.
"""

from __future__ import annotations

from flask import Flask

from app import cli, services, tracing
from app.auth.throttle import init_throttle
from app.auth.tokens import init_tokens
from app.blueprints import register_blueprints
from app.blueprints.console import init_console
from app.blueprints.pages import init_pages
from app.config import Settings
from app.cors import init_cors
from app.errors import init_error_handlers
from app.extensions import init_services, jwt
from app.openapi import Api
from app.request_body import init_request_bodies
from app.request_log import init_request_log
from app.request_metrics import init_request_metrics
from app.security_headers import init_security_headers
from app.tenancy.request import init_request_ids


def create_app(config: Settings | None = None) -> Flask:
    """The application, configured from `config` or else from the environment."""
    started = services.start(config)
    settings = started.settings

    app = Flask(__name__)
    app.config.update(
        SETTINGS=settings,
        REGION=settings.region,
        JWT_SECRET_KEY=settings.jwt_secret_key,
        JWT_ACCESS_TOKEN_EXPIRES=settings.access_token_lifetime,
        JWT_REFRESH_TOKEN_EXPIRES=settings.refresh_token_lifetime,
        API_TITLE="MSC Customer & Organization Management",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        API_SPEC_OPTIONS={
            "components": {
                "securitySchemes": {
                    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
                }
            },
            "security": [{"bearerAuth": []}],
        },
    )

    # Request hooks run in the order of their registration, response hooks in the
    # reverse order. First: the request's log line, which starts the clock and logs
    # the final status. Then: a browser's preflight is answered before anything else runs,
    # and the security and CORS headers go on whatever response is left at the end. The
    # request id goes on whatever response the request session's commit leaves (a failed
    # commit's 503). The request metrics come before all, the log line after them: they
    # time and count what the others do, and see the response as it leaves.
    init_request_metrics(app, started.engine)
    init_request_log(app)
    init_security_headers(app, settings)
    init_cors(app, settings)
    init_request_ids(app)
    init_services(app, started)
    init_request_bodies(app, settings)
    jwt.init_app(app)
    init_tokens(app)
    init_throttle(app, settings, started.redis)
    init_pages(app, settings)  # before the API: it says where Swagger UI's files are
    init_console(app)
    api = Api(app)
    register_blueprints(api)
    init_error_handlers(app)
    cli.init_cli(app)
    # Here, in the process that serves (a gunicorn worker imports wsgi.py after its fork).
    provider = tracing.start(settings, tracing.API)
    if provider is not None:
        tracing.trace_engine(started.engine, provider)
        tracing.trace_app(app, provider)
    return app
