"""How the API reads request bodies: a size limit for each kind, and one JSON parser.

Every body is capped before it is read: an upload (`multipart/form-data`) at the
largest document plus room for its form fields, any other body at JSON_MAX_BYTES; past
the cap the answer is 413, whether the size was announced (Content-Length) or not
(chunked). JSON is read by `app.strict_json` alone: by the parser of the schemas
(`Blueprint` below, the base of every blueprint) and by `request.get_json()` (the
application's JSON provider).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import flask_smorest
from flask import Flask, Request, request
from flask.json.provider import DefaultJSONProvider
from marshmallow import Schema
from webargs.flaskparser import FlaskParser, abort, is_json_request
from werkzeug.exceptions import RequestEntityTooLarge

from app import strict_json
from app.config import Settings
from app.pagination import DocumentedPagination
from app.permissions import AUTHENTICATED, REQUIRES

# Room for an upload's other form fields and the multipart framing around its file.
UPLOAD_OVERHEAD_BYTES = 64 * 1024


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON (`request.get_json()`, `flask.json.loads`), read by `strict_json`."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return strict_json.loads(s)


def _announces_body(req: Request) -> bool:
    return bool(req.content_length) or "Transfer-Encoding" in req.headers


def _read(req: Request) -> bytes:
    body = req.get_data(cache=True)
    limit = req.max_content_length
    # A body of unannounced size (chunked) is cut at the limit without a word: one that
    # reaches the limit may have had more, and is refused.
    if req.content_length is None and limit is not None and len(body) >= limit:
        raise RequestEntityTooLarge()
    return body


def _refuse(message: str) -> NoReturn:
    # The body as a whole is at fault, no field of it: the problem names none.
    abort(400, message=message)


class RequestParser(FlaskParser):
    """webargs' parser, reading JSON with `strict_json`, and refusing a body sent as
    anything but JSON where JSON is expected (instead of ignoring it), and no body where
    the operation takes one: every JSON body an operation declares is required (the
    document says so), so that an update sent without one is not taken as a change of
    nothing."""

    def load_json(self, req: Request, schema: Schema) -> Any:
        if not is_json_request(req):
            if _announces_body(req):
                _refuse(
                    "expected a JSON body (Content-Type: application/json), got "
                    + (req.mimetype or "no Content-Type")
                )
            _refuse("a JSON body is required (Content-Type: application/json)")
        body = _read(req)
        if not body:
            _refuse("a JSON body is required (Content-Type: application/json)")
        try:
            return strict_json.loads(body)
        except strict_json.InvalidJSON as exc:
            _refuse(str(exc))


F = TypeVar("F", bound=Callable[..., Any])


class Blueprint(DocumentedPagination, flask_smorest.Blueprint):  # type: ignore[misc]
    """The base of every blueprint: its `arguments` are read by RequestParser, and only
    once the caller's token and permission are checked."""

    ARGUMENTS_PARSER = RequestParser()

    def arguments(self, *args: Any, **kwargs: Any) -> Callable[[F], F]:
        """flask-smorest's `arguments`, refusing to go above `authenticated`, `requires` or
        `require_msc_admin` (app/permissions.py): arguments read first would answer a
        caller who may not call the view with what is wrong in their request (422)
        instead of 401 or 403, telling them what the view takes."""
        parse = super().arguments(*args, **kwargs)

        def decorator(view: F) -> F:
            if hasattr(view, AUTHENTICATED) or hasattr(view, REQUIRES):
                raise TypeError(
                    f"{view.__qualname__}: @blp.arguments goes below @authenticated and"
                    " @requires / @require_msc_admin"
                )
            parsed: F = parse(view)
            return parsed

        return decorator


def init_request_bodies(app: Flask, settings: Settings) -> None:
    app.json = StrictJSONProvider(app)
    app.config["MAX_CONTENT_LENGTH"] = settings.json_max_bytes
    upload_max_bytes = settings.document_max_bytes + UPLOAD_OVERHEAD_BYTES

    @app.before_request
    def _allow_uploads() -> None:
        if request.mimetype == "multipart/form-data":
            request.max_content_length = upload_max_bytes
