"""The organization dashboard and analytics reports (JSON, or CSV)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from flask import Response, request
from flask.views import MethodView

from app import clock, csv_export
from app.blueprints.lookups import organization_or_404
from app.domain import access, queries
from app.domain import analytics as reports
from app.domain import dashboard as dashboards
from app.extensions import db
from app.models.enums import AccessPurpose
from app.permissions import SEE_DASHBOARD, SEE_REPORTS, authenticated, require_msc_admin, requires
from app.request_body import Blueprint
from app.schemas.analytics import (
    AnalyticsQuerySchema,
    AnalyticsSchema,
    DashboardSchema,
    OrganizationBreakdownSchema,
)
from app.schemas.fields import CENTS

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

blp = Blueprint(
    "analytics",
    __name__,
    url_prefix="/api/v1/admin",
    description="Dashboard and analytics. " + (reports.__doc__ or "").split("\n", 1)[1].strip(),
)


def _range(query: dict[str, Any]) -> tuple[dt.date, dt.date]:
    end = query.get("end") or clock.today()
    return query.get("start") or end - dt.timedelta(days=30), end


# The reports answer CSV too (`_wants_csv`): the same 200, in either media type.
_CSV_TOO: dict[str, Any] = {
    "responses": {
        200: {
            "content": {
                "text/csv": {
                    "schema": {"type": "string", "description": "a header row, then a row each"}
                }
            }
        }
    }
}


def _wants_csv(query: dict[str, Any]) -> bool:
    return query.get("format") == "csv" or request.accept_mimetypes.best == "text/csv"


def _cell(value: Any) -> Any:
    # Amounts keep their cents, as in the JSON; still numbers, which csv_export leaves be.
    return value.quantize(CENTS) if isinstance(value, Decimal) else value


def _csv(
    name: str,
    row_type: type[DataclassInstance],
    rows: Iterable[DataclassInstance],
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A column per field of the result type, in its order, headed by the field's name
    (or its entry in `headers`)."""
    columns = [field.name for field in dataclasses.fields(row_type)]
    body = csv_export.line((headers or {}).get(column, column) for column in columns)
    body += "".join(
        csv_export.line(_cell(getattr(row, column)) for column in columns) for row in rows
    )
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


@blp.route("/organizations/<uuid:organization_id>/dashboard")
class OrganizationDashboard(MethodView):
    @authenticated()
    @requires(*SEE_DASHBOARD)
    @blp.response(200, DashboardSchema)
    def get(self, organization_id: uuid.UUID) -> dashboards.Dashboard:
        """Overview (facilities, providers, active orders, compliance score), a card per
        facility, recent activity from the audit trail, and onboarding progress: for the
        organization and its child organizations."""
        organization = organization_or_404(organization_id, in_scope=True)
        return dashboards.dashboard(db.session, organization, clock.today())


@blp.route("/organizations/<uuid:organization_id>/analytics")
class OrganizationAnalytics(MethodView):
    @authenticated()
    @requires(*SEE_REPORTS)
    @blp.arguments(AnalyticsQuerySchema, location="query")
    @blp.response(200, AnalyticsSchema)
    @blp.doc(**_CSV_TOO)
    def get(self, query: dict[str, Any], organization_id: uuid.UUID) -> Any:
        """Order volume, provider activity, facility utilization, compliance trend,
        revenue and growth over `from`..`to` by `interval`. CSV of the periods with
        `?format=csv` or `Accept: text/csv`. An export, in either format: recorded in the
        organization's audit trail."""
        organization = organization_or_404(organization_id, in_scope=True)
        start, end = _range(query)
        result = reports.analytics(
            db.session,
            queries.tree_ids(db.session, organization),
            start,
            end,
            query["interval"],
            clock.today(),
        )
        access.record(db.session, [access.export(organization.id, AccessPurpose.ANALYTICS_EXPORT)])
        if _wants_csv(query):
            # A bare `start` header would not say what starts.
            return _csv(
                "analytics", reports.Period, result.periods, headers={"start": "period_start"}
            )
        return result


@blp.route("/analytics")
class AnalyticsAcrossOrganizations(MethodView):
    @authenticated()
    @require_msc_admin
    @blp.arguments(AnalyticsQuerySchema, location="query")
    @blp.response(200, OrganizationBreakdownSchema(many=True))
    @blp.doc(**_CSV_TOO)
    def get(self, query: dict[str, Any]) -> Any:
        """Every organization's orders, revenue and provider activity over `from`..`to`
        (CSV with `?format=csv` or `Accept: text/csv`). An export of each organization's
        figures, in either format: recorded in each one's audit trail."""
        start, end = _range(query)
        rows = reports.breakdown(db.session, start, end, clock.today())
        access.record(
            db.session,
            (
                access.export(row.organization_id, AccessPurpose.ANALYTICS_BREAKDOWN_EXPORT)
                for row in rows
            ),
        )
        if _wants_csv(query):
            return _csv("analytics-by-organization", reports.OrganizationTotals, rows)
        return rows
