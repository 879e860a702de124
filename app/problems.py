"""The one format of every error the API answers: RFC 9457 Problem Details.

    {"type": "about:blank", "title": "Unprocessable Entity", "status": 422,
     "detail": "invalid fields: email", "instance": "/api/v1/admin/providers/invite",
     "request_id": "8c1f...", "errors": {"json": {"email": ["Not a valid email address."]}}}

served as `application/problem+json`. `type` is always `about:blank`: the status says
which kind of problem it is, and `title` is its reason phrase. `detail` says what went
wrong this time, `instance` is the request's path and `request_id` the id X-Request-ID
echoes (the one the logs and the audit trail record). `errors`, only when fields are at
fault, maps where each came from to its fields and their messages, as webargs does
(nested for a nested field): `path` (a URL path parameter), `query` (the query string),
`headers` (a request header), `form` and `files` (a multipart upload), else `json`.

`problem()` writes every one: for the error handlers (app/errors.py), flask-smorest's HTTP
errors (`http_problem`, which app/openapi.py's `Api` answers them with), the refused
tokens (app/auth/tokens.py) and the request limits (app/auth/throttle.py). The pages
(app/blueprints/pages.py) answer the refusals they handle as pages.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from flask import Response, current_app, request
from flask_smorest.fields import Upload
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException

from app.tenancy.request import answered_request_id

PROBLEM_JSON = "application/problem+json"

# The blueprint whose refusals are pages, not problems (app/blueprints/pages.py).
PAGES_BLUEPRINT = "pages"

# Where each field at fault came from -> the field -> its messages (for a nested field, a
# mapping of its own fields instead of messages).
Errors = dict[str, Any]

# webargs' location of an upload's form fields and files read as one (app/blueprints/
# documents.py), which a problem tells apart.
_UPLOAD_LOCATION = "multipart"


class ProblemSchema(Schema):
    """A problem, as the document describes it (`problem()` writes it)."""

    type = fields.String(
        required=True,
        metadata={
            "description": "always `about:blank`: the status says which problem it is",
            "example": "about:blank",
        },
    )
    title = fields.String(
        required=True,
        metadata={"description": "the status's reason phrase", "example": "Unprocessable Entity"},
    )
    status = fields.Integer(
        required=True, metadata={"description": "the response's status", "example": 422}
    )
    detail = fields.String(
        required=True,
        metadata={"description": "what went wrong", "example": "invalid fields: email"},
    )
    instance = fields.String(
        required=True,
        metadata={"description": "the request's path", "example": "/api/v1/admin/providers/invite"},
    )
    request_id = fields.String(
        required=True,
        metadata={
            "description": "the request's id, as X-Request-ID echoes it (a client's own id "
            "as it sent it)"
        },
    )
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.Dict(),
        metadata={
            "description": "only when fields are at fault: where each came from (`path`, "
            "`query`, `form`, `files` or `json`), to its fields, each with its messages (a "
            "nested field: its own fields)",
            "example": {"json": {"email": ["Not a valid email address."]}},
        },
    )


def problem(
    status: int,
    detail: str,
    errors: Errors | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The answer to a request refused with `status`: a problem saying `detail`, naming
    the fields at fault in `errors` when there are any."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.path,
        "request_id": answered_request_id(),
    }
    if errors:
        body["errors"] = errors
    response = current_app.response_class(
        current_app.json.dumps(body), status=status, mimetype=PROBLEM_JSON
    )
    response.headers.update(headers or {})
    return response


def field_errors(field: str, message: str) -> Errors:
    """`message` about `field`, filed under where the request carried it."""
    return {location_of(field): {field: [message]}}


def location_of(field: str) -> str:
    """Where the request carried `field`: its path, its query string, an upload's files or
    form fields, or else its JSON body. A field the request did not carry (one it lacks)
    is the body's."""
    if field in (request.view_args or {}):
        return "path"
    if field in request.args:
        return "query"
    if request.mimetype == "multipart/form-data":
        return "files" if field in request.files else "form"
    return "json"


def http_problem(exc: HTTPException) -> Response:
    """An HTTP error as a problem: flask-smorest's `abort` (its `message`, its `errors`
    and `headers`), webargs' refusal of the arguments (its `messages`, by location), and
    werkzeug's own errors (404 for an unknown URL, 405 with Allow...), with the headers
    each carries."""
    data: Mapping[str, Any] = getattr(exc, "data", None) or {}
    errors: Errors = data.get("errors") or _located(data.get("messages") or {}, data.get("schema"))
    detail = data.get("message") or _naming(errors) or exc.description or ""
    headers = {name: value for name, value in exc.get_headers() if name != "Content-Type"}
    headers.update(data.get("headers") or {})
    return problem(exc.code or 500, detail, errors, headers)


def _located(messages: Mapping[str, Any], schema: Schema | None) -> Errors:
    """webargs' messages by location, an upload's split into its files and form fields."""
    located: Errors = {}
    for location, at_fault in messages.items():
        if location != _UPLOAD_LOCATION:
            located[location] = at_fault
            continue
        uploads = {
            field.data_key or name
            for name, field in (schema.fields if schema else {}).items()
            if isinstance(field, Upload)
        }
        for name, field_messages in at_fault.items():
            located.setdefault("files" if name in uploads else "form", {})[name] = field_messages
    return located


def _naming(errors: Errors) -> str:
    """The detail of field errors that came without one (webargs'): the fields named."""
    names = sorted({name for at_fault in errors.values() for name in at_fault})
    return f"invalid fields: {', '.join(names)}" if names else ""
