"""Exclusion screening: each organization's screening log (the evidence an auditor asks
for, and its monthly export), and the review queue of matches its admins decide."""

from __future__ import annotations

import json
import uuid
from collections.abc import Generator, Iterable
from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app import csv_export
from app.blueprints.lookups import organization_or_404, provider_or_404
from app.domain import exclusion_reviews as reviews
from app.domain.errors import Invalid, NotFound
from app.domain.queries import Rows
from app.extensions import db
from app.models.exclusion import ExclusionList
from app.models.screening import ProviderScreening
from app.pagination import SelectPage
from app.permissions import SEE_SCREENINGS, Permission, authenticated, requires
from app.request_body import Blueprint
from app.schemas.screenings import (
    ExclusionDecisionSchema,
    ExclusionMatchQuerySchema,
    ExclusionMatchSchema,
    ScreeningExportQuerySchema,
    ScreeningQuerySchema,
    ScreeningSchema,
)
from app.tenancy.request import current_context

blp = Blueprint(
    "screenings",
    __name__,
    url_prefix="/api/v1/admin",
    description="Exclusion screening against the HHS-OIG LEIE and SAM.gov: each provider's "
    "screenings, recorded per organization and never changed, and the review queue of "
    "matches. An NPI match is an exclusion at once; a match by name with date of birth or "
    "state is a candidate that an admin of the organization (or an MSC admin) confirms "
    "(`excluded`) or clears, with a reason, in the organization's audit trail. An excluded "
    "provider scores 0 in the organization's compliance, places no new orders at its "
    "facilities and gets no new assignment there. Organization admins read their "
    "organizations', MSC representatives those they represent, MSC admins all; an "
    "organization never sees another's screenings or decisions about a shared provider.",
)

# The log's columns, as the monthly attestation reads them.
EXPORT_COLUMNS = (
    "screened_at",
    "provider_name",
    "provider_npi",
    "reason",
    "list_versions",
    "outcome",
    "matches",
)


class MatchPage(SelectPage):
    """The queue's page, each match given the provider's states (one more query)."""

    def __init__(self, collection: Select[Any], page_params: PaginationParameters) -> None:
        super().__init__(collection, page_params)
        reviews.with_provider_states(db.session, self._items)


def _list_versions(session: Session) -> dict[uuid.UUID, str]:
    """Every list version, as the log names it: `leie full 2026-11-01` (a few hundred
    rows at most: one a month per source)."""
    return {
        list_id: f"{source} {kind} {published_on.isoformat()}"
        for list_id, source, kind, published_on in session.execute(
            select(
                ExclusionList.id,
                ExclusionList.source,
                ExclusionList.kind,
                ExclusionList.published_on,
            )
        )
    }


def _log_lines(rows: Iterable[Any], versions: dict[uuid.UUID, str]) -> str:
    return "".join(
        csv_export.line(
            (
                row.screened_at.isoformat(),
                row.provider_name,
                row.provider_npi or "",
                row.reason,
                "; ".join(versions.get(list_id, str(list_id)) for list_id in row.list_ids),
                row.outcome,
                json.dumps(row.matches, sort_keys=True) if row.matches else "",
            )
        )
        for row in rows
    )


def _export_body(session: Session, query: Rows) -> Generator[str, None, None]:
    """The header and the first batch, then the rest a batch at a time from one
    server-side cursor."""
    versions = _list_versions(session)
    oldest_first = query.order_by(None).order_by(
        ProviderScreening.screened_at, ProviderScreening.id
    )
    result = session.execute(oldest_first)
    batches = result.yield_per(500).partitions()
    try:
        yield csv_export.line(EXPORT_COLUMNS) + _log_lines(next(batches, ()), versions)
        for batch in batches:
            yield _log_lines(batch, versions)
    finally:
        result.close()


_EXPORT_DOC = {
    "responses": {
        "200": {
            "description": "The screening log as a CSV attachment, oldest first, with a"
            " header row: `screened_at`, `provider_name`, `provider_npi`, `reason`,"
            " `list_versions` (each `source kind published_on`, separated by `; `),"
            " `outcome`, `matches` (the evidence, as JSON). A cell a spreadsheet would run"
            " as a formula starts with an apostrophe.",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    }
}


@blp.route("/screenings")
class Screenings(MethodView):
    @authenticated()
    @requires(*SEE_SCREENINGS)
    @blp.arguments(ScreeningQuerySchema, location="query")
    @blp.response(200, ScreeningSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, filters: dict[str, Any]) -> Rows:
        """List the screenings of the organizations the caller acts for, newest first
        (paginated; filter by organization, provider, outcome, and UTC days `from`/`to`,
        inclusive)."""
        return reviews.screenings(current_context(), filters)


@blp.route("/screenings/export")
class ScreeningsExport(MethodView):
    @authenticated()
    @requires(*SEE_SCREENINGS)
    @blp.arguments(ScreeningExportQuerySchema, location="query")
    @blp.doc(**_EXPORT_DOC)
    @blp.alt_response(404, description="the organization is not one the caller acts for")
    def get(self, query: dict[str, Any]) -> Response:
        """Export an organization's screening log from `from` to `to` (UTC days, both
        included, at most 366 days): the monthly attestation of who was screened against
        which list versions, when, with what result. Streamed as it is read."""
        context = current_context()
        organization_id = query.get("organization_id") or context.organization_id
        if organization_id is None:
            raise Invalid("an MSC admin exports one organization's log", field="organization_id")
        organization = organization_or_404(organization_id, in_scope=True)
        rows = reviews.screenings(
            context,
            {"organization_id": organization.id, "start": query["start"], "end": query["end"]},
        )
        response = db.streamed(_export_body(db.session, rows), mimetype="text/csv")
        name = f"screenings-{query['start'].isoformat()}-{query['end'].isoformat()}"
        response.headers["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return response


@blp.route("/providers/<uuid:provider_id>/screenings")
class ProviderScreenings(MethodView):
    @authenticated()
    @requires(*SEE_SCREENINGS)
    @blp.response(200, ScreeningSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, provider_id: uuid.UUID) -> Rows:
        """A provider's screening history in the organizations the caller acts for,
        newest first."""
        provider = provider_or_404(provider_id)
        return reviews.screenings(current_context(), {"user_id": provider.id})


@blp.route("/exclusion-matches")
class ExclusionMatches(MethodView):
    @authenticated()
    @requires(*SEE_SCREENINGS)
    @blp.arguments(ExclusionMatchQuerySchema, location="query")
    @blp.response(200, ExclusionMatchSchema(many=True))
    @blp.paginate(MatchPage)
    def get(self, filters: dict[str, Any]) -> Rows:
        """The review queue: matches of the organizations the caller acts for, oldest
        first, by default the candidates waiting for a decision (filter by status,
        organization, provider). Each shows the provider's name, NPI, date of birth and
        states beside the list entry's names, NPI, date of birth, state, exclusion type
        and date, source and list version."""
        return reviews.matches(current_context(), filters)


def _match_or_404(match_id: uuid.UUID) -> dict[str, Any]:
    found = reviews.match(db.session, current_context(), match_id)
    if found is None:
        raise NotFound("exclusion match not found")
    return found


@blp.route("/exclusion-matches/<uuid:match_id>")
class ExclusionMatchById(MethodView):
    @authenticated()
    @requires(*SEE_SCREENINGS)
    @blp.response(200, ExclusionMatchSchema)
    def get(self, match_id: uuid.UUID) -> dict[str, Any]:
        """One match, as the queue shows it."""
        return _match_or_404(match_id)


@blp.route("/exclusion-matches/<uuid:match_id>/decision")
class ExclusionDecision(MethodView):
    @authenticated()
    @requires(Permission.REVIEW_EXCLUSIONS)
    @blp.arguments(ExclusionDecisionSchema)
    @blp.response(200, ExclusionMatchSchema)
    @blp.alt_response(409, description="the match is not a candidate (decided already)")
    def post(self, data: dict[str, Any], match_id: uuid.UUID) -> dict[str, Any]:
        """Decide a candidate: `excluded` (the entry is the provider) or `cleared`, with
        the reason. Recorded with the decider and the time, in the organization's audit
        trail; an exclusion is emailed to the organization's admins."""
        found = _match_or_404(match_id)
        reviews.decide(
            db.session,
            current_context(),
            found["organization_id"],
            match_id,
            data["status"],
            data["reason"],
        )
        return _match_or_404(match_id)
