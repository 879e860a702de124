from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from marshmallow import fields, missing, utils, validate
from marshmallow.decorators import POST_DUMP, PRE_DUMP

from app.domain.facilities import SORTS
from app.models.enums import FacilityType, values
from app.schemas.base import Schema
from app.schemas.fields import (
    EmailAddress,
    Npi,
    Phone,
    StateCode,
    StrictBoolean,
    ZipCode,
    place_of_service,
)

_NAME = validate.Length(min=1, max=255)


Convert = Callable[[Any], Any]


def _plain(field: fields.Field[Any]) -> Convert | None:
    """What `field` does to a value it dumps that is not None, for the field classes whose
    dump is that alone; None for any other (it dumps the value itself)."""
    serialize = type(field)._serialize
    if serialize is fields.Field._serialize:  # Boolean, Raw: the value as it is
        return lambda value: value
    if serialize is fields.String._serialize:
        return utils.ensure_text_type
    if serialize is fields.UUID._serialize:
        return str
    if isinstance(field, fields.DateTime) and serialize is fields.DateTime._serialize:
        return field.SERIALIZATION_FUNCS.get(field.format or field.DEFAULT_FORMAT)
    return None


class PlainRowsSchema(Schema):
    """A schema that dumps a list of dicts (the rows of a read-only page, see
    app/pagination.py) with each field's conversion looked up once, not per value:
    marshmallow's general path (an accessor and several calls per field and row) is
    most of the time a large page costs. The output is the same. Anything else (an
    instance, one object, a schema with dump hooks) takes marshmallow's path, and so
    does each value of a field that converts in any other way."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # (output key, row key, field name, conversion or None, field), in dump order
        self._plan = [
            (field.data_key or name, field.attribute or name, name, _plain(field), field)
            for name, field in self.dump_fields.items()
        ]

    def dump(self, obj: Any, *, many: bool | None = None) -> Any:
        many = self.many if many is None else many
        if (
            not many
            or self._hooks[PRE_DUMP]
            or self._hooks[POST_DUMP]
            or not isinstance(obj, list)
            or not all(isinstance(o, dict) for o in obj)
        ):
            return super().dump(obj, many=many)
        return [self._dump_row(row) for row in obj]

    def _dump_row(self, row: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, source, name, convert, field in self._plan:
            value = row.get(source, missing)
            if convert is None or value is missing:
                value = field.serialize(name, row, accessor=self.get_attribute)
                if value is not missing:
                    out[key] = value
            else:
                out[key] = None if value is None else convert(value)
        return out


class FacilitySchema(PlainRowsSchema):
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "name": "Lakeside Wound Care Center",
        "npi": "1558598797",
        "ptan": "TX1234567",
        "facility_type": "wound_center",
        "address": "1200 Barton Springs Rd",
        "city": "Austin",
        "state": "TX",
        "zip_code": "78704-1234",
        "phone": "+15125550147",
        "email": "front.desk@lakeside-health.example.com",
        "office_manager_id": "5e20535b-8394-4bf2-ab5b-bb6722c6c039",
        "place_of_service": "11",
    }

    id = fields.UUID(dump_only=True)
    organization_id = fields.UUID(dump_only=True)
    name = fields.String(required=True, validate=_NAME)
    npi = Npi(allow_none=True)
    ptan = fields.String(
        allow_none=True,
        validate=validate.Length(max=255),
        metadata={"description": "Provider Transaction Access Number (free-form)"},
    )
    facility_type = fields.String(required=True, validate=validate.OneOf(values(FacilityType)))
    address = fields.String(allow_none=True, validate=validate.Length(max=255))
    city = fields.String(allow_none=True, validate=validate.Length(max=100))
    state = StateCode(required=True)
    zip_code = ZipCode(allow_none=True)
    phone = Phone(allow_none=True)
    email = EmailAddress(allow_none=True)
    office_manager_id = fields.UUID(allow_none=True)
    mac_jurisdiction = fields.String(
        allow_none=True,
        validate=validate.Regexp(r"^J[0-9A-Z]{1,2}$"),
        metadata={"description": "Medicare A/B MAC; derived from the state when not given"},
    )
    place_of_service = place_of_service(load_default="11")
    active = StrictBoolean(load_default=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class FacilityUpdateSchema(FacilitySchema):
    """Partial update: only the fields sent change."""

    EXAMPLE: ClassVar[dict[str, Any]] = {"phone": "(512) 555-0199", "active": False}

    name = fields.String(validate=_NAME)
    facility_type = fields.String(validate=validate.OneOf(values(FacilityType)))
    state = StateCode()
    place_of_service = place_of_service()
    active = StrictBoolean()


class FacilityQuerySchema(Schema):
    organization_id = fields.UUID()
    facility_type = fields.String(validate=validate.OneOf(values(FacilityType)))
    state = StateCode()
    active = fields.Boolean()
    name = fields.String(
        validate=validate.Length(min=1, max=255),
        metadata={"description": "case-insensitive substring of the name"},
    )
    sort = fields.String(
        load_default="name",
        validate=validate.OneOf(list(SORTS)),
    )
