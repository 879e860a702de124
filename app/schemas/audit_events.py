from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from app.models.enums import AccessPurpose, AuditAction, values
from app.schemas.analytics import DATES
from app.schemas.base import Schema

# The longest range one export covers: a year, leap day included.
MAX_EXPORT_DAYS = 366
EXPORT_FORMATS = ("csv", "ndjson")


class AuditEventSchema(Schema):
    id = fields.UUID()
    organization_id = fields.UUID(allow_none=True)
    actor_user_id = fields.UUID(allow_none=True)
    cross_tenant = fields.Boolean()
    action = fields.String(
        metadata={"enum": values(AuditAction), "description": "a change, or `access`: a read"}
    )
    table_name = fields.String()
    row_id = fields.UUID()
    purpose = fields.String(
        allow_none=True, metadata={"description": "an access's: the endpoint that read the row"}
    )
    changes = fields.Dict(metadata={"description": "{column: {old, new}}; secrets redacted"})
    request_id = fields.String(allow_none=True)
    occurred_at = fields.DateTime()


def _in_order(data: dict[str, Any]) -> None:
    start: dt.date | None = data.get("start")
    end: dt.date | None = data.get("end")
    if start is not None and end is not None and start > end:
        raise ValidationError("must not be after `to`", "from")


class AuditEventQuerySchema(Schema):
    organization_id = fields.UUID()
    table_name = fields.String(validate=validate.Length(min=1, max=63))
    row_id = fields.UUID()
    actor_user_id = fields.UUID()
    action = fields.String(validate=validate.OneOf(values(AuditAction)))
    purpose = fields.String(validate=validate.OneOf(values(AccessPurpose)))
    start = fields.Date(
        data_key="from",
        validate=DATES,
        metadata={"description": "the first day (UTC) of the events listed"},
    )
    end = fields.Date(
        data_key="to",
        validate=DATES,
        metadata={"description": "the last day (UTC) of the events listed, included"},
    )

    @validates_schema
    def _range(self, data: dict[str, Any], **_kwargs: Any) -> None:
        _in_order(data)


class AuditExportQuerySchema(Schema):
    start = fields.Date(
        data_key="from",
        required=True,
        validate=DATES,
        metadata={"description": "the first day (UTC) of the events exported"},
    )
    end = fields.Date(
        data_key="to",
        required=True,
        validate=DATES,
        metadata={"description": f"the last day (UTC); at most {MAX_EXPORT_DAYS} days in all"},
    )
    format = fields.String(load_default="csv", validate=validate.OneOf(EXPORT_FORMATS))
    organization_id = fields.UUID(
        metadata={
            "description": "the organization whose events to export (required of MSC admins);"
            " default: every organization the caller acts for"
        }
    )

    @validates_schema
    def _range(self, data: dict[str, Any], **_kwargs: Any) -> None:
        _in_order(data)
        start: dt.date | None = data.get("start")
        end: dt.date | None = data.get("end")
        if start is None or end is None:
            return  # reported as missing
        if (end - start).days >= MAX_EXPORT_DAYS:
            raise ValidationError(f"at most {MAX_EXPORT_DAYS} days from `from`", "to")
