from __future__ import annotations

from marshmallow import fields, validate

from app.schemas.base import Schema


class AuditEventSchema(Schema):
    id = fields.UUID()
    organization_id = fields.UUID(allow_none=True)
    actor_user_id = fields.UUID(allow_none=True)
    cross_tenant = fields.Boolean()
    action = fields.String()
    table_name = fields.String()
    row_id = fields.UUID()
    changes = fields.Dict(metadata={"description": "{column: {old, new}}; secrets redacted"})
    request_id = fields.String(allow_none=True)
    occurred_at = fields.DateTime()


class AuditEventQuerySchema(Schema):
    organization_id = fields.UUID()
    table_name = fields.String(validate=validate.Length(min=1, max=63))
    row_id = fields.UUID()
    actor_user_id = fields.UUID()
    action = fields.String(validate=validate.OneOf(["insert", "update", "delete"]))
