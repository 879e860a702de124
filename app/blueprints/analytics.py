"""The organization dashboard and analytics reports (JSON, or CSV)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from flask import Response, request
from flask.views import MethodView
from flask_jwt_extended import jwt_required
from flask_smorest import Blueprint

from app.blueprints.lookups import organization_or_404
from app.domain import analytics as reports
from app.domain import dashboard as dashboards
from app.extensions import db
from app.permissions import require_msc_admin, requires
from app.schemas.analytics import (
    AnalyticsQuerySchema,
    AnalyticsSchema,
    DashboardSchema,
    OrganizationBreakdownSchema,
)

blp = Blueprint(
    "analytics",
    __name__,
    url_prefix="/api/v1/admin",
    description="Dashboard and analytics. " + (reports.__doc__ or "").split("\n", 1)[1].strip(),
)

REPORTS = ("view-analytics", "run-reports")


def _range(query: dict[str, Any]) -> tuple[dt.date, dt.date]:
    end = query.get("end") or dt.date.today()
    return query.get("start") or end - dt.timedelta(days=30), end


def _wants_csv(query: dict[str, Any]) -> bool:
    return query.get("format") == "csv" or request.accept_mimetypes.best == "text/csv"


def _csv(name: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    response = Response(buffer.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


@blp.route("/organizations/<uuid:organization_id>/dashboard")
class OrganizationDashboard(MethodView):
    @jwt_required()
    @requires(*REPORTS)
    @blp.response(200, DashboardSchema)
    def get(self, organization_id: uuid.UUID) -> dashboards.Dashboard:
        """Overview (facilities, providers, active orders, compliance score), a card per
        facility, recent activity from the audit trail, and onboarding progress: for the
        organization and its child organizations."""
        organization = organization_or_404(organization_id, in_scope=True)
        return dashboards.dashboard(db.session, organization, dt.date.today())


@blp.route("/organizations/<uuid:organization_id>/analytics")
class OrganizationAnalytics(MethodView):
    @jwt_required()
    @requires(*REPORTS)
    @blp.arguments(AnalyticsQuerySchema, location="query")
    @blp.response(200, AnalyticsSchema)
    def get(self, query: dict[str, Any], organization_id: uuid.UUID) -> Any:
        """Order volume, provider activity, facility utilization, compliance trend,
        revenue and growth over `from`..`to` by `interval`. CSV of the periods with
        `?format=csv` or `Accept: text/csv`."""
        organization = organization_or_404(organization_id, in_scope=True)
        start, end = _range(query)
        result = reports.analytics(
            db.session,
            dashboards.organization_ids(db.session, organization),
            start,
            end,
            query["interval"],
        )
        if _wants_csv(query):
            return _csv(
                "analytics",
                [
                    "period_start",
                    "orders",
                    "revenue",
                    "ordering_providers",
                    "active_providers",
                    "provider_activity_rate",
                    "compliance_score",
                    "order_growth",
                    "revenue_growth",
                ],
                (
                    [
                        p.start.isoformat(),
                        p.orders,
                        f"{p.revenue:.2f}",
                        p.ordering_providers,
                        p.active_providers,
                        p.provider_activity_rate,
                        p.compliance_score,
                        p.order_growth,
                        p.revenue_growth,
                    ]
                    for p in result.periods
                ),
            )
        return result


@blp.route("/analytics")
class AnalyticsAcrossOrganizations(MethodView):
    @jwt_required()
    @require_msc_admin
    @blp.arguments(AnalyticsQuerySchema, location="query")
    @blp.response(200, OrganizationBreakdownSchema(many=True))
    def get(self, query: dict[str, Any]) -> Any:
        """Every organization's orders, revenue and provider activity over `from`..`to`
        (CSV with `?format=csv` or `Accept: text/csv`)."""
        start, end = _range(query)
        rows = reports.breakdown(db.session, start, end)
        if _wants_csv(query):
            return _csv(
                "analytics-by-organization",
                [
                    "organization_id",
                    "name",
                    "orders",
                    "revenue",
                    "ordering_providers",
                    "active_providers",
                    "provider_activity_rate",
                ],
                (
                    [
                        r.organization_id,
                        r.name,
                        r.orders,
                        f"{r.revenue:.2f}",
                        r.ordering_providers,
                        r.active_providers,
                        r.provider_activity_rate,
                    ]
                    for r in rows
                ),
            )
        return rows
