from __future__ import annotations

from marshmallow import fields, validate

from app.models.enums import MessageKind, OutboxStatus, values
from app.schemas.base import Schema


class OutboxMessageSchema(Schema):
    id = fields.UUID()
    organization_id = fields.UUID(allow_none=True)
    kind = fields.String(metadata={"enum": values(MessageKind)})
    idempotency_key = fields.String()
    recipient_email = fields.String()
    subject = fields.String()
    status = fields.String(metadata={"enum": values(OutboxStatus)})
    attempts = fields.Integer()
    next_attempt_at = fields.DateTime()
    last_error = fields.String(allow_none=True)
    sent_at = fields.DateTime(allow_none=True)
    smtp_reply = fields.String(allow_none=True)
    created_at = fields.DateTime()


class OutboxQuerySchema(Schema):
    status = fields.String(validate=validate.OneOf(values(OutboxStatus)))
    kind = fields.String(validate=validate.OneOf(values(MessageKind)))
    organization_id = fields.UUID()
