"""The API contract: the served OpenAPI document is valid OpenAPI, as a tool that
generates requests from it needs (openapi-spec-validator, for the version the document
declares), and the answers keep to what HTTP asks of them."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from marshmallow import fields
from openapi_spec_validator import OpenAPIV30SpecValidator, OpenAPIV31SpecValidator
from sqlalchemy import Engine

from app.schemas.base import Schema, text_pattern
from app.schemas.fields import Text
from tests.api_helpers import committed_credential
from tests.conftest import TwoTenants, bearer, token_for


def test_the_served_document_is_valid_openapi(app: Flask) -> None:
    document = app.test_client().get("/openapi.json").get_json()
    validator = (
        OpenAPIV31SpecValidator
        if document["openapi"].startswith("3.1")
        else OpenAPIV30SpecValidator
    )
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator(document).iter_errors()]
    assert errors == []


def test_amounts_are_documented_as_the_decimal_strings_they_are(app: Flask) -> None:
    """An order's amount and a credential's coverage are strings with at most two decimal
    places, and as many digits before the point as their columns hold."""
    schemas = app.test_client().get("/openapi.json").get_json()["components"]["schemas"]
    assert schemas["PlaceOrder"]["properties"]["amount"] == {
        "type": "string",
        "format": "decimal",
        "pattern": r"^[0-9]{1,10}(\.[0-9]{1,2})?$",
    }
    coverage = schemas["Credential"]["properties"]["coverage_aggregate"]
    assert (coverage["type"], coverage["pattern"]) == ("string", r"^[0-9]{1,12}(\.[0-9]{1,2})?$")
    assert coverage["nullable"] is True


def test_a_method_the_resource_does_not_answer_says_which_it_does(app: Flask) -> None:
    """405 carries Allow (RFC 9110), and the error body every other refusal has."""
    response = app.test_client().delete("/api/v1/auth/login")
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) >= {"POST", "OPTIONS"}
    assert "DELETE" not in response.headers["Allow"]
    assert response.get_json() == {
        "code": 405,
        "status": "Method Not Allowed",
        "message": "DELETE is not allowed here",
    }


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"data": b"name=Renamed", "content_type": "text/plain"},
        {"data": b"", "content_type": "application/json"},
    ],
    ids=["no body", "text/plain", "empty JSON"],
)
def test_an_update_without_a_json_body_changes_nothing_and_says_why(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine, body: dict[str, Any]
) -> None:
    """PUT /me and PUT /me/credentials/{id} take a JSON body: without one, the answer is
    400 naming what is missing, not a 200 that changed nothing."""
    provider = seeded.shared_provider
    credential = committed_credential(admin_engine, provider)
    headers = bearer(token_for(client, provider, seeded.a.organization))
    for path in ("/api/v1/me", f"/api/v1/me/credentials/{credential}"):
        response = client.put(path, headers=headers, **body)
        assert response.status_code == 400, (path, response.get_json())
        assert "JSON body" in response.get_json()["message"]


def test_every_link_leads_to_an_operation_with_all_its_path_parameters(app: Flask) -> None:
    """The links between operations (app/openapi.py LINKS) each name an operation of the
    document and give every path parameter it needs, and the workflows are all there."""
    document = app.test_client().get("/openapi.json").get_json()
    links = {}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":  # the path's own, beside its operations
                continue
            for status, response in operation["responses"].items():
                for name, link in response.get("links", {}).items():
                    links[(method.upper(), path, status, name)] = link
    for (_method, _path, _status, name), link in links.items():
        pointer = link["operationRef"].removeprefix("#/paths/")
        target_path, target_method = pointer.rsplit("/", 1)
        target_path = target_path.replace("~1", "/").replace("~0", "~")
        target = document["paths"][target_path][target_method]
        needed = {
            p["name"]
            for p in [
                *document["paths"][target_path].get("parameters", []),
                *target.get("parameters", []),
            ]
            if p["in"] == "path"
        }
        assert needed <= set(link["parameters"]), name
    follows = {(method, path, name) for method, path, _status, name in links}
    assert {
        ("POST", "/api/v1/admin/organizations", "AddFacility"),
        ("POST", "/api/v1/admin/providers/invite", "RevokeInvitation"),
        ("POST", "/api/v1/me/credentials", "VerifyCredential"),
        ("POST", "/api/v1/orders", "ChangeOrderStatus"),
    } <= follows


@pytest.mark.parametrize(
    "text", ["Main St. 5", "Zoë Ñandú", "two\nlines", "tab\there", "nul\x00", "c1\x9c", "\u2028"]
)
@pytest.mark.parametrize("field", [fields.String(), Text()], ids=["line", "text"])
def test_the_documented_characters_are_those_the_schemas_accept(
    text: str, field: fields.Field[Any]
) -> None:
    """The pattern every plain string is documented with says what the schemas' base
    lets through (app/schemas/base.py), for single-line fields and for `Text`."""
    schema = Schema.from_dict({"value": field})()
    accepted = not schema.validate({"value": text})
    assert (re.fullmatch(text_pattern(field), text) is not None) == accepted


def test_the_reports_document_their_csv(app: Flask) -> None:
    paths = app.test_client().get("/openapi.json").get_json()["paths"]
    for path in (
        "/api/v1/admin/analytics",
        "/api/v1/admin/organizations/{organization_id}/analytics",
    ):
        content = paths[path]["get"]["responses"]["200"]["content"]
        assert {"application/json", "text/csv"} <= content.keys(), path
