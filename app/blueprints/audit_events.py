"""The audit trail: who changed what, and who read which sensitive data, when. Written
only by the database (the audit triggers; accesses through `access_records`)."""

from __future__ import annotations

import json
from collections.abc import Generator, Sequence
from typing import Any

from flask import Response
from flask.views import MethodView
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app import csv_export
from app.blueprints.lookups import organization_or_404
from app.domain import access, audit_trail
from app.domain.errors import Invalid
from app.extensions import db
from app.models import AuditEvent
from app.models.enums import AccessPurpose
from app.pagination import SelectPage
from app.permissions import Permission, authenticated, requires
from app.request_body import Blueprint
from app.schemas.audit_events import (
    AuditEventQuerySchema,
    AuditEventSchema,
    AuditExportQuerySchema,
)
from app.tenancy.context import in_scope
from app.tenancy.request import current_context

blp = Blueprint(
    "audit_events",
    __name__,
    url_prefix="/api/v1/admin/audit-events",
    description="Who changed what, and who read which sensitive data (document downloads, "
    "exports, credentials and members read from outside their organization), when. "
    "Organization admins read and export their organizations' events; MSC admins read "
    "all, their own cross-tenant actions marked.",
)

# The export's formats: media type, and how an event (as AuditEventSchema dumps it)
# becomes its lines.
MEDIA_TYPES = {"csv": "text/csv", "ndjson": "application/x-ndjson"}
COLUMNS = tuple(AuditEventSchema().fields)


def _csv_value(value: Any) -> Any:
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _lines(events: Sequence[AuditEvent], file_format: str) -> str:
    dumped = AuditEventSchema(many=True).dump(events)
    if file_format == "csv":
        return "".join(csv_export.line(_csv_value(event[c]) for c in COLUMNS) for event in dumped)
    return "".join(json.dumps(event, sort_keys=True) + "\n" for event in dumped)


def _export_body(
    session: Session, query: Select[AuditEvent], file_format: str
) -> Generator[str, None, None]:
    """The file: a CSV header, then the events a batch at a time (the first batch with
    the header, so that the first chunk has read from the database)."""
    header = csv_export.line(COLUMNS) if file_format == "csv" else ""
    batches = audit_trail.batches(session, query)
    yield header + _lines(next(batches, ()), file_format)
    for batch in batches:
        yield _lines(batch, file_format)


_EXPORT_DOC = {
    "responses": {
        "200": {
            "description": "The events as an attachment, oldest first: CSV with a header "
            "row (the columns of an event as listed, `changes` as JSON; a cell a "
            "spreadsheet would run as a formula starts with an apostrophe), or NDJSON, an "
            "event per line.",
            "content": {
                media_type: {"schema": {"type": "string"}} for media_type in MEDIA_TYPES.values()
            },
        }
    }
}


@blp.route("")
class AuditEvents(MethodView):
    @authenticated()
    @requires(Permission.VIEW_AUDIT_TRAIL)
    @blp.arguments(AuditEventQuerySchema, location="query")
    @blp.response(200, AuditEventSchema(many=True))
    @blp.paginate(SelectPage, page_size=50)
    def get(self, filters: dict[str, Any]) -> Select[AuditEvent]:
        """List audit events (paginated, newest first), of `from` to `to` (UTC days,
        both included) when given."""
        # what the policies show, named: one organization's events are then one node's
        query = select(AuditEvent).where(
            in_scope(AuditEvent.organization_id, current_context()),
            *audit_trail.on_days(filters.pop("start", None), filters.pop("end", None)),
        )
        for column, value in filters.items():
            query = query.where(getattr(AuditEvent, column) == value)
        return query.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id)


@blp.route("/export")
class AuditEventsExport(MethodView):
    @authenticated()
    @requires(Permission.VIEW_AUDIT_TRAIL)
    @blp.arguments(AuditExportQuerySchema, location="query")
    @blp.doc(**_EXPORT_DOC)
    @blp.alt_response(404, description="the organization is not one the caller acts for")
    def get(self, query: dict[str, Any]) -> Response:
        """Export the audit trail, changes and accesses, from `from` to `to` (UTC days,
        both included, at most 366 days): of `organization_id`, or of every organization
        the caller acts for. Streamed as it is read. The export is itself recorded in the
        trail, as an access, in the transaction that reads it."""
        context = current_context()
        organization_id = query.get("organization_id")
        if organization_id is not None:
            organization_ids = [organization_or_404(organization_id, in_scope=True).id]
        elif context.is_msc_admin:
            raise Invalid("an MSC admin exports one organization's trail", field="organization_id")
        else:
            organization_ids = list(context.organization_ids)
        filed_under = organization_id or context.organization_id
        assert filed_under is not None, "an organization admin acts for an organization"
        access.record(db.session, [access.export(filed_under, AccessPurpose.AUDIT_EXPORT)])
        file_format = query["format"]
        events = audit_trail.events_between(organization_ids, query["start"], query["end"])
        response = db.streamed(
            _export_body(db.session, events, file_format), mimetype=MEDIA_TYPES[file_format]
        )
        name = f"audit-events-{query['start'].isoformat()}-{query['end'].isoformat()}"
        response.headers["Content-Disposition"] = f'attachment; filename="{name}.{file_format}"'
        return response
