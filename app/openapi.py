"""The API's flask-smorest `Api`: HTTP errors answered as problems (app/problems.py), and
the OpenAPI document (/openapi.json) describing them, and what marshmallow's schemas say.

Each operation lists the problems it can answer, each with the `Problem` schema, as
`application/problem+json`: those its view declares (`@blp.alt_response`: a conflict, a
wrong password...), and those that follow from what the operation is (`_answerable`):
400 and 413 for a JSON body, 401 for one that needs a token, 403 for one that requires a
permission, 404 for one with path parameters, 422 for one that takes arguments, 429 for
a throttled one (app/auth/throttle.py), 503 for one that reaches the database or Redis.
`default` is the unexpected 500. The pages (app/blueprints/pages.py) answer their
refusals as pages, and list none of these but `default`.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from http import HTTPStatus
from typing import Any

import flask_smorest
from apispec import BasePlugin
from flask import Flask, Response
from marshmallow import fields
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Rule

from app.permissions import REQUIRES
from app.problems import PAGES_BLUEPRINT, PROBLEM_JSON, ProblemSchema, http_problem

PROBLEM_SCHEMA = "Problem"

# What each problem that follows from what an operation is means there (a status its view
# declares says what it means itself).
MEANINGS: dict[int, str] = {
    400: "the JSON body is missing, empty, not JSON (another Content-Type) or malformed",
    401: "no valid access token: missing, malformed, expired, revoked, or of an unknown or "
    "inactive user",
    403: "the caller holds none of the permissions the operation requires",
    404: "nothing at this address within the caller's reach (an unknown id, another tenant's)",
    413: "the request body is larger than accepted",
    422: "invalid arguments: `errors` names each field at fault",
    503: "the database or Redis cannot serve the request now: retry after Retry-After seconds",
}
UNEXPECTED = "UNEXPECTED_ERROR"


def _problem_content() -> dict[str, Any]:
    return {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}}


def decimal_bounds_as_numbers(
    _converter: Any, field: fields.Field[Any], ret: dict[str, Any]
) -> dict[str, Any]:
    """A decimal field's Range bounds (amounts: app/schemas) as JSON numbers, as OpenAPI
    requires of `minimum` and `maximum`; the converter writes them as the field writes a
    value, a string for a decimal. A bound has two decimal places at most, which a JSON
    number holds exactly as written."""
    if not isinstance(field, fields.Decimal):
        return {}
    bounds = {key: Decimal(ret[key]) for key in ("minimum", "maximum") if key in ret}
    return {
        key: int(value) if value == value.to_integral_value() else float(value)
        for key, value in bounds.items()
    }


def _answerable(operation: dict[str, Any], rule: Rule, view: Callable[..., Any] | None) -> set[int]:
    """The problems that follow from what the operation is (see the module's docstring)."""
    body = operation.get("requestBody", {}).get("content", {})
    queried = any(
        isinstance(parameter, dict) and parameter.get("in") == "query"
        for parameter in operation.get("parameters", [])
    )
    needs_token = operation.get("security") != []
    throttled = 429 in _statuses(operation)
    answerable = {
        400: "application/json" in body,
        401: needs_token,
        403: getattr(view, REQUIRES, None) is not None,
        404: bool(rule.arguments),
        413: bool(body),
        422: bool(body) or queried,
        # A token is checked against the revocation list (Redis) and its user looked up
        # (PostgreSQL); a request limit is counted in Redis.
        503: needs_token or throttled,
    }
    return {status for status, applies in answerable.items() if applies}


def _statuses(operation: dict[str, Any]) -> set[int]:
    return {int(code) for code in operation.get("responses", {}) if str(code).isdigit()}


class ProblemResponses(BasePlugin):
    """Lists on each operation of `app` the problems it can answer (see the module's
    docstring)."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        rule: Rule | None = kwargs.get("rule")
        if rule is None or operations is None:
            return
        view_class = getattr(self.app.view_functions[rule.endpoint], "view_class", None)
        for method, operation in operations.items():
            responses: dict[str, Any] = {
                str(code): response for code, response in operation.get("responses", {}).items()
            }
            if rule.endpoint.partition(".")[0] != PAGES_BLUEPRINT:
                view = getattr(view_class, method, None)
                for status in _answerable(operation, rule, view):
                    responses.setdefault(str(status), HTTPStatus(status).name)
                for code, response in responses.items():
                    # Declared by the view with a description (and headers) alone.
                    if code.isdigit() and int(code) >= 400 and isinstance(response, dict):
                        response.setdefault("content", _problem_content())
            responses["default"] = UNEXPECTED
            operation["responses"] = responses


class Api(flask_smorest.Api):  # type: ignore[misc]
    """flask-smorest's Api, answering HTTP errors as problems and documenting, on each
    operation, the problems it can answer instead of flask-smorest's one `default`."""

    ERROR_SCHEMA = ProblemSchema
    # The `default` is the unexpected error (ProblemResponses).
    DEFAULT_ERROR_RESPONSE_NAME = None

    def init_app(self, app: Flask, *, spec_kwargs: dict[str, Any] | None = None) -> None:
        plugins = {"extra_plugins": [ProblemResponses(app)]}
        super().init_app(app, spec_kwargs={**plugins, **(spec_kwargs or {})})
        self.ma_plugin.converter.add_attribute_function(decimal_bounds_as_numbers)

    def handle_http_exception(self, error: HTTPException) -> Response:
        return http_problem(error)

    def _register_responses(self) -> None:
        """The responses operations refer to by their status's name (flask-smorest's
        arguments refer to UNPROCESSABLE_ENTITY), registered when first referred to: each
        error a problem, saying what it means (MEANINGS) or else its reason phrase."""
        self.spec.components.schema(PROBLEM_SCHEMA, schema=ProblemSchema)
        for status in HTTPStatus:
            response: dict[str, Any] = {"description": MEANINGS.get(status, status.phrase)}
            if status >= 400:
                response["content"] = _problem_content()
            if status == HTTPStatus.SERVICE_UNAVAILABLE:
                response["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
            self.spec.components.response(status.name, response, lazy=True)
        self.spec.components.response(
            UNEXPECTED,
            {"description": "an unexpected error (500)", "content": _problem_content()},
            lazy=True,
        )
