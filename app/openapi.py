"""How the OpenAPI document (/openapi.json) describes what marshmallow's schemas say."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from apispec import BasePlugin
from apispec.ext.marshmallow.openapi import OpenAPIConverter
from flask_smorest import Api
from marshmallow import fields

from app.schemas.base import Schema
from app.schemas.fields import Constrained


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
    (app/schemas/base.py): its EXAMPLE, and for a body of several kinds, that it is one
    of its VARIANTS, told apart by the DISCRIMINATOR field (`oneOf`, `discriminator`)."""

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
        if schema_class.EXAMPLE is not None:
            facts["example"] = schema_class.EXAMPLE
        return facts


def refine(api: Api) -> None:
    """Teach the document's schema converter what the application's schemas need."""
    converter = api.ma_plugin.converter
    converter.add_attribute_function(decimal_bounds_as_numbers)
    converter.add_attribute_function(constrained_string_rules)
    # After the marshmallow plugin, whose output for a schema it completes.
    facts = SchemaFacts(converter)
    facts.init_spec(api.spec)
    api.spec.plugins.append(facts)
