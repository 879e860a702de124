"""The audit trail, newest first. Written only by database triggers."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from sqlalchemy import Select, select

from app.models import AuditEvent
from app.pagination import SelectPage
from app.permissions import Permission, authenticated, requires
from app.request_body import Blueprint
from app.schemas.audit_events import AuditEventQuerySchema, AuditEventSchema
from app.tenancy.context import in_scope
from app.tenancy.request import current_context

blp = Blueprint(
    "audit_events",
    __name__,
    url_prefix="/api/v1/admin/audit-events",
    description="Who changed what, when. Organization admins read their organizations' "
    "events; MSC admins read all, their own cross-tenant actions marked.",
)


@blp.route("")
class AuditEvents(MethodView):
    @authenticated()
    @requires(Permission.VIEW_AUDIT_TRAIL)
    @blp.arguments(AuditEventQuerySchema, location="query")
    @blp.response(200, AuditEventSchema(many=True))
    @blp.paginate(SelectPage, page_size=50)
    def get(self, filters: dict[str, Any]) -> Select[AuditEvent]:
        """List audit events (paginated, newest first)."""
        # what the policies show, named: one organization's events are then one node's
        query = select(AuditEvent).where(in_scope(AuditEvent.organization_id, current_context()))
        for column, value in filters.items():
            query = query.where(getattr(AuditEvent, column) == value)
        return query.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id)
