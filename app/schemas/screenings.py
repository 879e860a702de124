from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from marshmallow import ValidationError, fields, validate, validates_schema

from app.domain.exclusion_reviews import CANDIDATE, DECISIONS
from app.models.exclusion import SOURCES
from app.models.screening import MATCH_KINDS, MATCH_STATUSES, OUTCOMES, SCREENING_REASONS
from app.schemas.analytics import DATES
from app.schemas.audit_events import MAX_EXPORT_DAYS
from app.schemas.base import Schema
from app.schemas.fields import Text

_ORGANIZATION = (
    "one organization the caller acts for (default: every one; an MSC admin, all of them)"
)


def _range(data: dict[str, Any]) -> None:
    start: dt.date | None = data.get("start")
    end: dt.date | None = data.get("end")
    if start is not None and end is not None and start > end:
        raise ValidationError("must not be after `to`", "from")


class ScreeningSchema(Schema):
    id = fields.UUID()
    organization_id = fields.UUID()
    user_id = fields.UUID(metadata={"description": "the provider screened"})
    provider_name = fields.String()
    provider_npi = fields.String(allow_none=True)
    screened_at = fields.DateTime()
    reason = fields.String(metadata={"enum": SCREENING_REASONS})
    list_ids = fields.List(
        fields.UUID(), metadata={"description": "the list versions in force, screened against"}
    )
    outcome = fields.String(metadata={"enum": OUTCOMES})
    matches = fields.List(
        fields.Dict(),
        metadata={
            "description": "the entries matched, as they read at the time: the evidence"
            " (entry_id, match_kind, source, names, npi, date_of_birth, state,"
            " exclusion_type, excluded_on)"
        },
    )


class ScreeningQuerySchema(Schema):
    organization_id = fields.UUID(metadata={"description": _ORGANIZATION})
    user_id = fields.UUID(metadata={"description": "one provider's screenings"})
    outcome = fields.String(validate=validate.OneOf(OUTCOMES))
    start = fields.Date(
        data_key="from", validate=DATES, metadata={"description": "from this day (UTC)"}
    )
    end = fields.Date(
        data_key="to", validate=DATES, metadata={"description": "up to this day (UTC), included"}
    )

    @validates_schema
    def _dates(self, data: dict[str, Any], **_kwargs: Any) -> None:
        _range(data)


class ScreeningExportQuerySchema(Schema):
    start = fields.Date(
        data_key="from",
        required=True,
        validate=DATES,
        metadata={"description": "the first day (UTC) of the screenings exported"},
    )
    end = fields.Date(
        data_key="to",
        required=True,
        validate=DATES,
        metadata={"description": f"the last day (UTC); at most {MAX_EXPORT_DAYS} days in all"},
    )
    organization_id = fields.UUID(
        metadata={
            "description": "the organization whose log to export (required of MSC admins);"
            " default: the organization the caller acts for"
        }
    )

    @validates_schema
    def _dates(self, data: dict[str, Any], **_kwargs: Any) -> None:
        start: dt.date | None = data.get("start")
        end: dt.date | None = data.get("end")
        if start is None or end is None:
            return  # reported as missing
        _range(data)
        if (end - start).days >= MAX_EXPORT_DAYS:
            raise ValidationError(f"at most {MAX_EXPORT_DAYS} days from `from`", "to")


class ExclusionMatchSchema(Schema):
    id = fields.UUID()
    organization_id = fields.UUID()
    user_id = fields.UUID(metadata={"description": "the provider matched"})
    match_kind = fields.String(metadata={"enum": MATCH_KINDS})
    status = fields.String(metadata={"enum": MATCH_STATUSES})
    found_at = fields.DateTime()
    decided_at = fields.DateTime(allow_none=True)
    decided_by_id = fields.UUID(
        allow_none=True,
        metadata={"description": "the person who decided; null for the service's own"},
    )
    decided_by_name = fields.String(allow_none=True)
    decision_reason = fields.String(allow_none=True)
    # The provider, as the organization knows them ...
    provider_name = fields.String()
    provider_npi = fields.String(allow_none=True)
    provider_date_of_birth = fields.Date(allow_none=True)
    provider_states = fields.List(
        fields.String(),
        metadata={
            "description": "the states of the facilities of the provider's active"
            " assignments in the organization and of their medical licenses"
        },
    )
    # ... beside the list entry.
    entry_id = fields.UUID()
    entry_source = fields.String(metadata={"enum": SOURCES})
    entry_last_name = fields.String(allow_none=True)
    entry_first_name = fields.String(allow_none=True)
    entry_middle_name = fields.String(allow_none=True)
    entry_business_name = fields.String(allow_none=True)
    entry_npi = fields.String(allow_none=True)
    entry_date_of_birth = fields.Date(allow_none=True)
    entry_state = fields.String(allow_none=True)
    entry_general = fields.String(allow_none=True)
    entry_specialty = fields.String(allow_none=True)
    entry_exclusion_type = fields.String(allow_none=True)
    entry_excluded_on = fields.Date(allow_none=True)
    entry_reinstated_on = fields.Date(allow_none=True)
    list_published_on = fields.Date(
        metadata={"description": "the date of the latest list version carrying the entry"}
    )


class ExclusionMatchQuerySchema(Schema):
    organization_id = fields.UUID(metadata={"description": _ORGANIZATION})
    user_id = fields.UUID(metadata={"description": "one provider's matches"})
    status = fields.String(
        load_default=CANDIDATE,
        validate=validate.OneOf(MATCH_STATUSES),
        metadata={"description": "default: candidate, the matches waiting for a decision"},
    )


class ExclusionDecisionSchema(Schema):
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "status": "cleared",
        "reason": "Different person: the listed individual's middle name and Ohio address"
        " do not match our provider's, confirmed with the state board.",
    }

    status = fields.String(
        required=True,
        validate=validate.OneOf(DECISIONS),
        metadata={
            "description": "excluded: the entry is the provider (confirmed); cleared: it is"
            " someone else"
        },
    )
    reason = Text(required=True, validate=validate.Length(min=1, max=2000))
