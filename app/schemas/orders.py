from __future__ import annotations

from typing import Any, ClassVar

from marshmallow import ValidationError, fields, validate, validates_schema

from app.models.enums import values
from app.models.order import Order, OrderStatus
from app.schemas.base import Schema
from app.schemas.fields import Money

# What NUMERIC(12, 2) holds; refused here rather than as a database error.
# An order starts as a draft or goes straight to submitted.
NEW_STATUSES = [OrderStatus.DRAFT.value, OrderStatus.SUBMITTED.value]


class OrderSchema(Schema):
    id = fields.UUID()
    organization_id = fields.UUID()
    facility_id = fields.UUID()
    provider_id = fields.UUID()
    status = fields.String(metadata={"enum": values(OrderStatus)})
    amount = Money(metadata={"description": "exact, as a string"})
    line_count = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    submitted_at = fields.DateTime(allow_none=True)
    approved_at = fields.DateTime(allow_none=True)
    shipped_at = fields.DateTime(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)
    cancelled_at = fields.DateTime(allow_none=True)


class PlaceOrderSchema(Schema):
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "facility_id": "20f8ad29-396f-4f7b-8a68-e592ee83261e",
        "amount": "1250.50",
        "line_count": 3,
        "status": "submitted",
    }

    facility_id = fields.UUID(required=True)
    amount = Money(required=True, column=Order.__table__.c.amount)
    line_count = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=2_147_483_647)
    )
    status = fields.String(
        load_default=OrderStatus.SUBMITTED.value, validate=validate.OneOf(NEW_STATUSES)
    )


class OrderStatusSchema(Schema):
    EXAMPLE: ClassVar[dict[str, Any]] = {"status": "approved"}

    status = fields.String(required=True, validate=validate.OneOf(values(OrderStatus)))


class OrderQuerySchema(Schema):
    status = fields.String(validate=validate.OneOf(values(OrderStatus)))
    facility_id = fields.UUID()
    # `from` and `to` are Python keywords: loaded under other names.
    from_date = fields.Date(data_key="from", metadata={"description": "created on or after"})
    to_date = fields.Date(data_key="to", metadata={"description": "created on or before"})

    @validates_schema
    def _ordered(self, data: dict[str, Any], **_kwargs: Any) -> None:
        start, end = data.get("from_date"), data.get("to_date")
        if start is not None and end is not None and end < start:
            raise ValidationError("before `from`", field_name="to")
