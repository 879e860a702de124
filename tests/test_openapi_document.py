"""The served OpenAPI document is valid OpenAPI, as a tool that generates requests from it
needs (openapi-spec-validator, for the version the document declares)."""

from __future__ import annotations

from flask import Flask
from openapi_spec_validator import OpenAPIV30SpecValidator, OpenAPIV31SpecValidator


def test_the_served_document_is_valid_openapi(app: Flask) -> None:
    document = app.test_client().get("/openapi.json").get_json()
    validator = (
        OpenAPIV31SpecValidator
        if document["openapi"].startswith("3.1")
        else OpenAPIV30SpecValidator
    )
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator(document).iter_errors()]
    assert errors == []


def test_amount_bounds_are_numbers(app: Flask) -> None:
    """An order's amount and a credential's coverage carry their bounds as numbers, the
    largest exactly as the schema allows it."""
    schemas = app.test_client().get("/openapi.json").get_json()["components"]["schemas"]
    assert schemas["PlaceOrder"]["properties"]["amount"]["maximum"] == 9999999999.99
    coverage = schemas["Credential"]["properties"]["coverage_aggregate"]
    assert (coverage["minimum"], coverage["maximum"]) == (0, 999999999999.99)
