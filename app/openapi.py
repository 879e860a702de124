"""How the OpenAPI document (/openapi.json) describes what marshmallow's schemas say."""

from __future__ import annotations

from typing import Any

from flask_smorest import Api
from marshmallow import fields

from app.schemas.fields import Money


def money_as_decimal_string(
    _converter: Any, field: fields.Field[Any], ret: dict[str, Any]
) -> dict[str, Any]:
    """An amount (`Money`) is a string in JSON, both ways, with the pattern it is read by;
    apispec would call any decimal field a number."""
    if not isinstance(field, Money):
        return {}
    return {"type": "string", "format": "decimal", "pattern": field.pattern}


def refine(api: Api) -> None:
    """Teach the document's schema converter what the application's schemas need."""
    api.ma_plugin.converter.add_attribute_function(money_as_decimal_string)
