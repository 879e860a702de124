from __future__ import annotations

from typing import Any, ClassVar

from marshmallow import fields, validate

from app.domain.members import MemberStatus
from app.models.enums import Role, values
from app.schemas.base import Schema


class MemberSchema(Schema):
    """A member of an organization: one membership, with the person behind it."""

    id = fields.UUID(metadata={"description": "the membership's id"})
    organization_id = fields.UUID()
    user_id = fields.UUID()
    name = fields.String()
    email = fields.String()
    role = fields.String(metadata={"enum": values(Role)})
    status = fields.String(
        metadata={
            "enum": values(MemberStatus),
            "description": "deactivated: the membership, in this organization;"
            " account_deactivated: the account, everywhere",
        }
    )
    created_at = fields.DateTime(metadata={"description": "member since"})
    updated_at = fields.DateTime()


class MemberQuerySchema(Schema):
    role = fields.String(validate=validate.OneOf(values(Role)))
    status = fields.String(validate=validate.OneOf(values(MemberStatus)))


class MemberUpdateSchema(Schema):
    EXAMPLE: ClassVar[dict[str, Any]] = {"role": "office_manager"}

    role = fields.String(required=True, validate=validate.OneOf(values(Role)))


class AccountSchema(Schema):
    """A user account as MSC admins manage it."""

    id = fields.UUID()
    email = fields.String()
    name = fields.String()
    is_active = fields.Boolean()
    updated_at = fields.DateTime()
