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

The document also links operations into the workflows a client follows (LINKS), and says
of an amount and of plain text what the schemas' fields accept.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import flask_smorest
from apispec import BasePlugin
from apispec.ext.marshmallow.openapi import OpenAPIConverter
from flask import Flask, Response
from marshmallow import fields
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Rule

from app.permissions import REQUIRES
from app.problems import PAGES_BLUEPRINT, PROBLEM_JSON, ProblemSchema, http_problem
from app.schemas.base import Schema, text_pattern
from app.schemas.fields import Constrained, Money

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


def money_as_decimal_string(
    _converter: Any, field: fields.Field[Any], ret: dict[str, Any]
) -> dict[str, Any]:
    """An amount (`Money`) is a string in JSON, both ways, with the pattern it is read by;
    apispec would call any decimal field a number."""
    if not isinstance(field, Money):
        return {}
    return {"type": "string", "format": "decimal", "pattern": field.pattern}


def text_without_refused_characters(
    _converter: Any, field: fields.Field[Any], ret: dict[str, Any]
) -> dict[str, Any]:
    """A string's characters as the schemas' base refuses them (app/schemas/base.py), for a
    string with no stricter rule of its own: a format, a pattern or a closed set."""
    if ret.get("type") != "string" or {"format", "pattern", "enum"} & ret.keys():
        return {}
    return {"pattern": text_pattern(field)}


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


# The workflows the document links (OpenAPI links): what a client, or a tester following
# the links, does next with what an operation answered. (operation, status) ->
# {link name: (operation, {parameter: runtime expression})}, operations as "METHOD path".
BY_ID = "$response.body#/id"
LINKS: dict[tuple[str, str], dict[str, tuple[str, dict[str, str]]]] = {
    ("POST /api/v1/admin/organizations", "201"): {
        name: (target, {"organization_id": BY_ID})
        for name, target in {
            "GetOrganization": "GET /api/v1/admin/organizations/{organization_id}",
            "UpdateOrganization": "PUT /api/v1/admin/organizations/{organization_id}",
            "GetHierarchy": "GET /api/v1/admin/organizations/{organization_id}/hierarchy",
            "AddFacility": "POST /api/v1/admin/organizations/{organization_id}/facilities",
            "ListMembers": "GET /api/v1/admin/organizations/{organization_id}/members",
            "UploadDocument": "POST /api/v1/admin/organizations/{organization_id}/documents",
            "GetOnboarding": "GET /api/v1/admin/organizations/{organization_id}/onboarding",
            "GetDashboard": "GET /api/v1/admin/organizations/{organization_id}/dashboard",
            "GetAnalytics": "GET /api/v1/admin/organizations/{organization_id}/analytics",
            "ExportFhir": "GET /api/v1/admin/organizations/{organization_id}/fhir",
            "ListWebhookEndpoints": "GET /api/v1/admin/organizations/{organization_id}"
            "/webhook-endpoints",
            "ListWebhookEvents": "GET /api/v1/admin/organizations/{organization_id}/webhook-events",
        }.items()
    },
    ("POST /api/v1/admin/organizations/{organization_id}/webhook-endpoints", "201"): {
        name: (
            f"{method} /api/v1/admin/organizations/{{organization_id}}/webhook-endpoints"
            f"/{{endpoint_id}}{tail}",
            {"organization_id": "$request.path.organization_id", "endpoint_id": BY_ID},
        )
        for name, (method, tail) in {
            "GetWebhookEndpoint": ("GET", ""),
            "UpdateWebhookEndpoint": ("PATCH", ""),
            "DeleteWebhookEndpoint": ("DELETE", ""),
            "RotateWebhookSecret": ("POST", "/secret-rotations"),
            "ReplayWebhooks": ("POST", "/replays"),
            "ListWebhookDeliveries": ("GET", "/deliveries"),
            "ListWebhookAttempts": ("GET", "/attempts"),
        }.items()
    },
    ("POST /api/v1/admin/organizations/{organization_id}/facilities", "201"): {
        "GetFacility": ("GET /api/v1/admin/facilities/{facility_id}", {"facility_id": BY_ID}),
        "UpdateFacility": ("PUT /api/v1/admin/facilities/{facility_id}", {"facility_id": BY_ID}),
        "ListFacilityProviders": (
            "GET /api/v1/admin/facilities/{facility_id}/providers",
            {"facility_id": BY_ID},
        ),
    },
    ("POST /api/v1/admin/providers/{provider_id}/assign-facility", "201"): {
        "EndAssignment": (
            "POST /api/v1/admin/providers/{provider_id}/assignments/{assignment_id}/end",
            {"provider_id": "$request.path.provider_id", "assignment_id": BY_ID},
        ),
        "ListProviderFacilities": (
            "GET /api/v1/admin/providers/{provider_id}/facilities",
            {"provider_id": "$request.path.provider_id"},
        ),
    },
    ("POST /api/v1/admin/providers/invite", "201"): {
        "RevokeInvitation": (
            "POST /api/v1/admin/invitations/{invitation_id}/revoke",
            {"invitation_id": BY_ID},
        ),
    },
    ("POST /api/v1/me/credentials", "201"): {
        "GetCredential": ("GET /api/v1/me/credentials/{credential_id}", {"credential_id": BY_ID}),
        "UpdateCredential": (
            "PUT /api/v1/me/credentials/{credential_id}",
            {"credential_id": BY_ID},
        ),
        "DeleteCredential": (
            "DELETE /api/v1/me/credentials/{credential_id}",
            {"credential_id": BY_ID},
        ),
        "VerifyCredential": (
            "POST /api/v1/admin/providers/{provider_id}/credentials/{credential_id}/verify",
            {"provider_id": "$response.body#/user_id", "credential_id": BY_ID},
        ),
        "RejectCredential": (
            "POST /api/v1/admin/providers/{provider_id}/credentials/{credential_id}/reject",
            {"provider_id": "$response.body#/user_id", "credential_id": BY_ID},
        ),
    },
    **{
        (upload, "201"): {
            "GetDocument": ("GET /api/v1/documents/{document_id}", {"document_id": BY_ID}),
            "GetDocumentContent": (
                "GET /api/v1/documents/{document_id}/content",
                {"document_id": BY_ID},
            ),
            "DeleteDocument": ("DELETE /api/v1/documents/{document_id}", {"document_id": BY_ID}),
        }
        for upload in (
            "POST /api/v1/me/documents",
            "POST /api/v1/admin/organizations/{organization_id}/documents",
        )
    },
    ("POST /api/v1/orders", "201"): {
        "GetOrder": ("GET /api/v1/orders/{order_id}", {"order_id": BY_ID}),
        "ChangeOrderStatus": ("POST /api/v1/orders/{order_id}/status", {"order_id": BY_ID}),
    },
}


def operation_ref(operation: str) -> str:
    """ "METHOD path" as a JSON pointer into the document's paths."""
    method, path = operation.split(" ", 1)
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method.lower()


class WorkflowLinks(BasePlugin):
    """Puts LINKS on the responses they start from, as apispec registers each path."""

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **_: Any
    ) -> None:
        for method, operation in (operations or {}).items():
            for (source, status), links in LINKS.items():
                if source != f"{method.upper()} {path}":
                    continue
                # keyed by the status as text once ProblemResponses has listed them
                response = operation["responses"][status]
                response["links"] = {
                    name: {"operationRef": operation_ref(target), "parameters": parameters}
                    for name, (target, parameters) in links.items()
                }


def constrained_string_rules(
    _converter: Any, field: fields.Field[Any], ret: dict[str, Any]
) -> dict[str, Any]:
    """The rule a field of app/schemas/fields.py checks, as it states it: its pattern,
    length and format, and in the description what none of them can say."""
    if not isinstance(field, Constrained):
        return {}
    properties: dict[str, Any] = {}
    if field.PATTERN is not None:
        properties["pattern"] = field.PATTERN
    if field.MAX_LENGTH is not None:
        properties["maxLength"] = field.MAX_LENGTH
    if field.FORMAT is not None:
        properties["format"] = field.FORMAT
    if field.RULE is not None:
        properties["description"] = "; ".join(
            text for text in (ret.get("description"), field.RULE) if text
        )
    return properties


class SchemaFacts(BasePlugin):
    """What a schema of the application says of itself beyond its fields
    (app/schemas/base.py): its EXAMPLE; for a body of several kinds, that it is one of
    its VARIANTS, told apart by the DISCRIMINATOR field (`oneOf`, `discriminator`); and
    for fields of which a body sends EXACTLY_ONE_OF, a `oneOf` of their requirements."""

    def __init__(self, converter: OpenAPIConverter) -> None:
        self.converter = converter

    def schema_helper(
        self, name: str, definition: dict[str, Any], **kwargs: Any
    ) -> dict[str, Any] | None:
        schema = kwargs.get("schema")
        schema_class = schema if isinstance(schema, type) else type(schema)
        if not issubclass(schema_class, Schema):
            return None  # flask-smorest's own schemas (errors, pagination)
        facts: dict[str, Any] = {}
        if schema_class.VARIANTS:
            # apispec's converter is not annotated.
            references = {
                value: self.converter.resolve_nested_schema(variant)  # type: ignore[no-untyped-call]
                for value, variant in schema_class.VARIANTS.items()
            }
            # Each variant lists every field: the properties written for the schema
            # itself (by the marshmallow plugin, before this one) would say it twice.
            definition.clear()
            facts["oneOf"] = list(references.values())
            facts["discriminator"] = {
                "propertyName": schema_class.DISCRIMINATOR,
                "mapping": {value: ref["$ref"] for value, ref in references.items()},
            }
        if schema_class.EXACTLY_ONE_OF:
            facts["oneOf"] = [{"required": [name]} for name in schema_class.EXACTLY_ONE_OF]
        if schema_class.EXAMPLE is not None:
            facts["example"] = schema_class.EXAMPLE
        return facts


class Api(flask_smorest.Api):  # type: ignore[misc]
    """flask-smorest's Api, answering HTTP errors as problems and documenting, on each
    operation, the problems it can answer instead of flask-smorest's one `default`."""

    ERROR_SCHEMA = ProblemSchema
    # The `default` is the unexpected error (ProblemResponses).
    DEFAULT_ERROR_RESPONSE_NAME = None

    def init_app(self, app: Flask, *, spec_kwargs: dict[str, Any] | None = None) -> None:
        plugins = {"extra_plugins": [ProblemResponses(app), WorkflowLinks()]}
        super().init_app(app, spec_kwargs={**plugins, **(spec_kwargs or {})})
        converter = self.ma_plugin.converter
        converter.add_attribute_function(money_as_decimal_string)
        converter.add_attribute_function(constrained_string_rules)
        converter.add_attribute_function(text_without_refused_characters)
        # After the marshmallow plugin, whose output for a schema it completes.
        facts = SchemaFacts(converter)
        facts.init_spec(self.spec)
        self.spec.plugins.append(facts)

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
