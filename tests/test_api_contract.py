"""The API contract: the served OpenAPI document is valid OpenAPI, as a tool that
generates requests from it needs (openapi-spec-validator, for the version the document
declares), and lists on each operation the problems it can answer; the answers keep to
what HTTP asks of them, and every error is a problem (RFC 9457, app/problems.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from io import BytesIO
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_smorest.fields import Upload
from marshmallow import ValidationError, fields
from openapi_schema_validator import OAS30WriteValidator
from openapi_spec_validator import OpenAPIV30SpecValidator, OpenAPIV31SpecValidator
from sqlalchemy import Engine
from werkzeug.datastructures import FileStorage

from app.domain import credentials as credential_rules
from app.domain.documents import ALLOWED_CONTENT_TYPES
from app.domain.reference import PLACE_OF_SERVICE
from app.models.enums import (
    AssignmentStatus,
    CredentialType,
    FacilityType,
    InvitationRole,
    OrganizationStatus,
    OrganizationType,
    Role,
    VerificationStatus,
    values,
)
from app.models.order import OrderStatus
from app.schemas.base import Schema, text_pattern
from app.schemas.credentials import CredentialCreateSchema
from app.schemas.facilities import FacilitySchema
from app.schemas.fields import DeaNumber, Npi, Phone, StateCode, TaxId, Text, ZipCode
from app.schemas.mfa import ProofSchema
from app.schemas.organizations import OrganizationCreateSchema
from app.schemas.providers import ProfileSchema
from tests.api_helpers import committed_credential, problem_of, validation_errors
from tests.conftest import TwoTenants, bearer, token_for

PROBLEM = {"$ref": "#/components/schemas/Problem"}


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
    """405 carries Allow (RFC 9110), and is a problem like every other refusal."""
    response = app.test_client().delete("/api/v1/auth/login")
    body = problem_of(response, 405)
    assert set(response.headers["Allow"].split(", ")) >= {"POST", "OPTIONS"}
    assert "DELETE" not in response.headers["Allow"]
    assert "errors" not in body


def test_an_unknown_address_is_a_problem(app: Flask) -> None:
    response = app.test_client().get("/api/v1/no-such-resource")
    assert "errors" not in problem_of(response, 404)


def test_a_request_without_a_token_is_a_problem(client: FlaskClient) -> None:
    """flask-jwt-extended's refusals (app/auth/tokens.py) are problems too."""
    body = problem_of(client.get("/api/v1/me"), 401)
    assert body["detail"] == "Missing Authorization Header"
    assert "errors" not in body


def test_a_problem_carries_the_request_id_the_client_chose(client: FlaskClient) -> None:
    response = client.get("/api/v1/me", headers={"X-Request-ID": "trace-42"})
    assert problem_of(response, 401)["request_id"] == "trace-42"


def test_a_domain_refusal_names_its_field_in_the_body(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    token = token_for(client, seeded.a.admin, seeded.a.organization)
    response = client.put(
        f"/api/v1/admin/organizations/{seeded.a.organization.id}",
        json={"status": "suspended"},
        headers=bearer(token),
    )
    body = problem_of(response, 403)
    assert body["detail"] == "only MSC admins may change status"
    assert body["errors"] == {"json": {"status": ["only MSC admins may change status"]}}


def test_a_domain_refusal_names_a_path_parameter_under_path(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    token = token_for(client, seeded.a.admin, seeded.a.organization)
    url = f"/api/v1/admin/organizations/{seeded.a.organization.id}/onboarding"
    response = client.post(f"{url}/steps/add_facilities/complete", headers=bearer(token))
    body = problem_of(response, 409)
    assert body["errors"] == {"path": {"step": [body["detail"]]}}


def test_invalid_arguments_are_named_where_they_came_from(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    """webargs' refusals keep its map of location, field and messages."""
    token = token_for(client, seeded.a.admin, seeded.a.organization)
    body = problem_of(
        client.post(
            f"/api/v1/admin/organizations/{seeded.a.organization.id}/facilities",
            json={"name": "North", "facility_type": "castle"},
            headers=bearer(token),
        ),
        422,
    )
    assert set(body["errors"]) == {"json"}
    assert "facility_type" in body["errors"]["json"]
    assert body["detail"] == "invalid fields: " + ", ".join(sorted(body["errors"]["json"]))
    listed = client.get("/api/v1/admin/facilities?page_size=1000", headers=bearer(token))
    assert set(problem_of(listed, 422)["errors"]) == {"query"}


def test_a_body_too_large_is_a_problem_naming_the_limit(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    token = token_for(client, seeded.a.admin, seeded.a.organization)
    limit = client.application.config["MAX_CONTENT_LENGTH"]
    response = client.put(
        "/api/v1/me",
        data=b'{"name": "' + b"x" * limit + b'"}',
        content_type="application/json",
        headers=bearer(token),
    )
    assert str(limit) in problem_of(response, 413)["detail"]


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method != "parameters"
    ]


def _problems(document: dict[str, Any], operation: dict[str, Any]) -> dict[str, str]:
    """The responses the operation documents as problems, each with its description."""
    found = {}
    for code, response in operation["responses"].items():
        if "$ref" in response:
            response = document["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
        if response.get("content", {}).get("application/problem+json", {}).get("schema") == PROBLEM:
            found[code] = response["description"]
    return found


@pytest.mark.parametrize(
    ("method", "path", "statuses"),
    [
        (
            "post",
            "/api/v1/admin/organizations/{organization_id}/facilities",
            {"400", "401", "403", "404", "413", "422", "503"},
        ),
        ("get", "/api/v1/admin/facilities", {"401", "403", "422", "503"}),
        (
            "put",
            "/api/v1/admin/organizations/{organization_id}",
            {"400", "401", "403", "404", "409", "413", "422", "503"},
        ),
        ("post", "/api/v1/auth/login", {"400", "401", "403", "413", "422", "429", "503"}),
        ("get", "/api/v1/invitations/{token}", {"404", "429", "503"}),
        ("get", "/api/v1/me", {"401", "503"}),
        ("post", "/api/v1/me/documents", {"401", "403", "413", "422", "503"}),
    ],
)
def test_an_operation_documents_the_problems_it_can_answer(
    app: Flask, method: str, path: str, statuses: set[str]
) -> None:
    """Those that follow from what it is (a body, a token, a permission, path
    parameters, arguments, a request limit), those its view declares, and the
    unexpected one."""
    document = app.test_client().get("/openapi.json").get_json()
    assert set(_problems(document, document["paths"][path][method])) == {*statuses, "default"}


def test_a_declared_refusal_keeps_its_description(app: Flask) -> None:
    """Sign-in requires no permission: its 403 is the one its view declares."""
    document = app.test_client().get("/openapi.json").get_json()
    problems = _problems(document, document["paths"]["/api/v1/auth/login"]["post"])
    assert problems["403"] == "not a member of the organization asked for"
    assert problems["401"] == "wrong email or password"


def test_every_api_operation_documents_its_errors_as_problems(app: Flask) -> None:
    """Every error an operation of the API documents is a problem, and each documents at
    least one refusal (4xx). Not flask-smorest's one catch-all `default` error."""
    document = app.test_client().get("/openapi.json").get_json()
    for method, path, operation in _operations(document):
        if not path.startswith("/api/"):
            continue
        errors = {code for code in operation["responses"] if code[0] in "45" or code == "default"}
        assert set(_problems(document, operation)) == errors, (method, path)
        assert any(code.startswith("4") for code in errors), (method, path)
    assert "DEFAULT_ERROR" not in document["components"]["responses"]
    assert "Error" not in document["components"]["schemas"]


def test_the_pages_document_only_the_unexpected_problem(app: Flask) -> None:
    """The pages answer their refusals as pages (a 429 too); an unexpected error is a
    problem there as anywhere."""
    document = app.test_client().get("/openapi.json").get_json()
    for method, path, operation in _operations(document):
        if path.startswith(("/invitations/", "/password-reset", "/reminders/")):
            assert set(_problems(document, operation)) == {"default"}, (method, path)


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
        refused = problem_of(response, 400)
        assert "JSON body" in refused["detail"], path
        assert "errors" not in refused


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


# --- validation rules in the document ---------------------------------------------------
# What the schemas check is what the document says: patterns, formats, lengths and enums
# stated once by the fields (app/schemas/fields.py), the credential kinds as a `oneOf`
# made from the domain's table, and an example of every request body that its schema
# loads. A tool generating requests from the document (Schemathesis) then sends what the
# API accepts, and the API refuses what the document refuses.


def _document(app: Flask) -> dict[str, Any]:
    document: dict[str, Any] = app.test_client().get("/openapi.json").get_json()
    return document


def _component(document: dict[str, Any], reference: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = document["components"]["schemas"][reference["$ref"].split("/")[-1]]
    return found


def _request_bodies(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(operation, media type, media type object) of every request body."""
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
                yield f"{method.upper()} {path}", media_type, content


DOCUMENTED = [
    ("Facility", "phone", "pattern", Phone.PATTERN),
    ("Facility", "zip_code", "pattern", ZipCode.PATTERN),
    ("Facility", "npi", "pattern", Npi.PATTERN),
    ("Facility", "state", "pattern", StateCode.PATTERN),
    ("Facility", "email", "format", "email"),
    ("Facility", "email", "maxLength", 254),
    ("Facility", "facility_type", "enum", values(FacilityType)),
    ("Facility", "place_of_service", "enum", sorted(PLACE_OF_SERVICE)),
    ("Facility", "city", "maxLength", 100),
    ("OrganizationCreate", "tax_id", "pattern", TaxId.PATTERN),
    ("OrganizationCreate", "primary_contact_phone", "pattern", Phone.PATTERN),
    ("OrganizationCreate", "organization_type", "enum", values(OrganizationType)),
    ("Organization", "status", "enum", values(OrganizationStatus)),
    ("Profile", "npi", "pattern", Npi.PATTERN),
    ("Invite", "email", "format", "email"),
    ("Invite", "role", "enum", values(InvitationRole)),
    ("MemberUpdate", "role", "enum", values(Role)),
    ("Credential", "credential_type", "enum", values(CredentialType)),
    ("Credential", "status", "enum", values(VerificationStatus)),
    ("DeaRegistrationCredential", "number", "pattern", DeaNumber.PATTERN),
    ("Order", "status", "enum", values(OrderStatus)),
    ("Assignment", "status", "enum", values(AssignmentStatus)),
]


@pytest.mark.parametrize(("schema", "name", "keyword", "expected"), DOCUMENTED)
def test_the_fields_rules_are_in_the_document(
    app: Flask, schema: str, name: str, keyword: str, expected: Any
) -> None:
    prop = _document(app)["components"]["schemas"][schema]["properties"][name]
    assert prop[keyword] == expected


def test_what_no_pattern_can_say_is_in_the_description(app: Flask) -> None:
    properties = _document(app)["components"]["schemas"]["Facility"]["properties"]
    assert "check digit" in properties["npi"]["description"]
    assert "numbering plan" in properties["phone"]["description"]
    assert "us_states" in properties["state"]["description"]


# For each documented pattern: values the API takes, values the pattern already refuses
# (and so does the API), and values of the right shape that only the field's further
# check refuses (what the description says).
SHAPES: dict[tuple[str, str], tuple[list[str], list[str], list[str]]] = {
    ("Facility", "phone"): (
        ["+14155552671", "(415) 555-2671", "415.555.2671", "+1 415 555 2671", "+431110"],
        ["12", "x", "1-800-FLOWERS", "+1 415 555 2671 ext 3", "\uff14\uff11\uff15 555 2671"],
        ["+15551234567", "123 456 7890"],
    ),
    ("OrganizationCreate", "tax_id"): (
        ["12-3456789", "123456789"],
        ["12", "1-23456789", "12-34567890", " 12-3456789", "12\u20133456789"],
        [],
    ),
    ("Facility", "zip_code"): (
        ["78701", "78701-1234", "787011234"],
        ["7870", "787012", "78701-", "7870\uff11"],
        [],
    ),
    ("Profile", "npi"): (
        ["1234567893", "1558598797", "1528060837", "1003347634"],
        ["123456789", "12345678931", "3234567893", "12345678a3"],
        ["1234567890", "1093791627"],
    ),
    # Whether a code is a state's, the database's list says (us_states).
    ("Facility", "state"): (["TX", "pr", "Vi"], ["T", "TEX", "T1", "\u00c9T"], []),
    ("DeaRegistrationCredential", "number"): (
        ["AP5836727", "F91234563", "ap5836727"],
        ["A5836727", "9P5836727", "AP58367271", "AP 5836727"],
        ["AP5836720"],
    ),
}

SCHEMAS: dict[str, type[Schema]] = {
    "Facility": FacilitySchema,
    "OrganizationCreate": OrganizationCreateSchema,
    "Profile": ProfileSchema,
    "DeaRegistrationCredential": CredentialCreateSchema.VARIANTS["dea_registration"],
}


def _field_takes(schema: str, name: str, value: str) -> bool:
    try:
        SCHEMAS[schema]().fields[name].deserialize(value)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(("schema", "name"), SHAPES)
def test_a_documented_pattern_takes_what_the_field_takes_and_refuses_what_it_refuses(
    app: Flask, schema: str, name: str
) -> None:
    pattern = re.compile(
        _document(app)["components"]["schemas"][schema]["properties"][name]["pattern"]
    )
    accepted, refused, shaped_but_refused = SHAPES[(schema, name)]
    for value in accepted:
        assert pattern.search(value) and _field_takes(schema, name, value), value
    for value in refused:
        assert not pattern.search(value) and not _field_takes(schema, name, value), value
    for value in shaped_but_refused:
        assert pattern.search(value) and not _field_takes(schema, name, value), value


def _example_properties(
    document: dict[str, Any], schema: dict[str, Any], example: Any
) -> Iterator[tuple[dict[str, Any], Any]]:
    """(property schema, value) of every value of an example, nested ones too."""
    if "$ref" in schema:
        schema = _component(document, schema)
    if "discriminator" in schema:
        kind = example[schema["discriminator"]["propertyName"]]
        schema = _component(document, {"$ref": schema["discriminator"]["mapping"][kind]})
    if isinstance(example, dict):
        for key, value in example.items():
            prop = schema.get("properties", {}).get(key, {})
            yield prop, value
            yield from _example_properties(document, prop, value)
    elif isinstance(example, list):
        for value in example:
            yield from _example_properties(document, schema.get("items", {}), value)


def test_every_request_body_has_an_example_the_document_accepts(app: Flask) -> None:
    """Each example is valid against its schema in the document, as a request (no
    read-only property), and each documented pattern matches its values."""
    document = _document(app)
    for operation, media_type, content in _request_bodies(document):
        schema = content["schema"]
        example = _component(document, schema).get("example")
        assert example is not None, (operation, media_type)
        validator = OAS30WriteValidator({"components": document["components"], **schema})
        errors = [error.message for error in validator.iter_errors(example)]
        assert errors == [], (operation, errors)
        for prop, value in _example_properties(document, schema, example):
            if "pattern" in prop and value is not None:
                assert re.search(prop["pattern"], value), (operation, prop, value)


def _schemas_with_examples() -> list[type[Schema]]:
    found, pending = [], [Schema]
    while pending:
        schema = pending.pop()
        pending.extend(schema.__subclasses__())
        if schema.EXAMPLE is not None:
            found.append(schema)
    return sorted(set(found), key=lambda schema: schema.__name__)


@pytest.mark.parametrize("schema", _schemas_with_examples(), ids=lambda schema: schema.__name__)
def test_every_example_loads_through_its_schema(schema: type[Schema]) -> None:
    """As the API reads it: a multipart form sends its file as a file."""
    assert schema.EXAMPLE is not None
    example = {
        name: FileStorage(BytesIO(value.encode()), filename="example.pdf")
        if isinstance(schema().fields.get(name), Upload)
        else value
        for name, value in schema.EXAMPLE.items()
    }
    schema().load(example)


def test_a_credential_is_one_of_its_kinds_each_with_what_the_domain_requires(app: Flask) -> None:
    document = _document(app)
    body = document["paths"]["/api/v1/me/credentials"]["post"]["requestBody"]
    created = _component(document, body["content"]["application/json"]["schema"])
    discriminator = created["discriminator"]
    assert discriminator["propertyName"] == "credential_type"
    assert set(discriminator["mapping"]) == set(values(CredentialType))
    assert [ref["$ref"] for ref in created["oneOf"]] == list(discriminator["mapping"].values())
    for kind, reference in discriminator["mapping"].items():
        variant = _component(document, {"$ref": reference})
        assert variant["properties"]["credential_type"]["enum"] == [kind]
        assert set(variant["required"]) == {"credential_type", *credential_rules.REQUIRED[kind]}
        for name in credential_rules.REQUIRED[kind]:
            assert not variant["properties"][name].get("nullable"), (kind, name)


@pytest.mark.parametrize("kind", values(CredentialType))
def test_the_api_takes_each_kinds_example_and_refuses_it_short_of_a_required_field(
    client: FlaskClient, seeded: TwoTenants, kind: str
) -> None:
    """The document's per-kind requirements are the ones the API enforces."""
    headers = bearer(token_for(client, seeded.shared_provider, seeded.a.organization))
    example = CredentialCreateSchema.VARIANTS[kind].EXAMPLE
    assert example is not None
    created = client.post("/api/v1/me/credentials", json=example, headers=headers)
    assert created.status_code == 201, created.get_json()
    for name in credential_rules.REQUIRED[kind]:
        short = {key: value for key, value in example.items() if key != name}
        refused = client.post("/api/v1/me/credentials", json=short, headers=headers)
        assert refused.status_code == 422, (name, refused.get_json())
        assert name in validation_errors(refused), (name, refused.get_json())


def test_an_upload_says_which_types_its_file_may_be(app: Flask) -> None:
    document = _document(app)
    uploads = [
        content
        for _operation, media_type, content in _request_bodies(document)
        if media_type == "multipart/form-data"
    ]
    assert len(uploads) == 2
    for content in uploads:
        assert content["encoding"]["file"]["contentType"] == ", ".join(ALLOWED_CONTENT_TYPES)


def test_a_second_factor_is_a_code_or_a_recovery_code_in_the_document_as_in_the_api(
    app: Flask,
) -> None:
    """The body that proves a second factor takes exactly one of the two: the document's
    `oneOf` of their requirements refuses both and neither, as the schema does."""
    document = _document(app)
    proof = document["components"]["schemas"]["Proof"]
    assert proof["oneOf"] == [{"required": ["code"]}, {"required": ["recovery_code"]}]
    validator = OAS30WriteValidator(proof)
    for body, valid in (
        ({"code": "492039"}, True),
        ({"recovery_code": "abcd-efgh"}, True),
        ({"code": "492039", "recovery_code": "abcd-efgh"}, False),
        ({}, False),
    ):
        assert validator.is_valid(body) is valid, body
        assert (not ProofSchema().validate(body)) is valid, body
