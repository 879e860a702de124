"""What each webhook event says: one builder per type (WebhookEventType) making its
`data`, the keys of the occurrences that may be found twice, and an example of each.

An event belongs to one organization and names only that organization's data: its
facilities and assignments, never another organization's, even of a provider who works
for both (each gets its own event). Credentials are the provider's and shared; what an
event says of one is what every organization the provider works for reads of it: its
id, type, expiry date and verification status, never its number. Every value is plain
JSON (ids and dates as strings): `data` is stored and delivered exactly as built, and
EXAMPLES, built by the same functions, shows it as receivers get it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import ProviderFacility, User
from app.models.enums import (
    AssignmentStatus,
    CredentialType,
    OnboardingStep,
    VerificationStatus,
    WebhookEventType,
)

Data = dict[str, Any]


class AssignmentChange(StrEnum):
    """What an assignment.changed event says happened to the assignment."""

    CREATED = "created"
    ACTIVATED = "activated"  # its start date came, or a pending one was assigned from today
    START_DATE_SET = "start_date_set"  # a pending assignment's start date was moved
    END_DATE_SET = "end_date_set"  # it will end on its end date
    ENDED = "ended"
    MADE_PRIMARY = "made_primary"  # the provider's primary facility


class LeftBecause(StrEnum):
    """Why a provider.left event says the provider left the organization."""

    ASSIGNMENTS_ENDED = "assignments_ended"  # their last active assignment there ended
    MEMBERSHIP_DEACTIVATED = "membership_deactivated"
    ACCOUNT_DEACTIVATED = "account_deactivated"  # by MSC, everywhere at once


def _text(value: uuid.UUID | dt.date | None) -> str | None:
    """An id, a date or a moment as JSON carries it (ISO 8601)."""
    if value is None:
        return None
    if isinstance(value, uuid.UUID):
        return str(value)
    return value.isoformat()


def provider(user_id: uuid.UUID, name: str, npi: str | None) -> Data:
    """The provider as every event names them: the NPI is a public identifier."""
    return {"id": _text(user_id), "name": name, "npi": npi}


def provider_of(session: Session, user_id: uuid.UUID) -> Data:
    """The provider as `provider` names them, read in the caller's context (which acts
    on them, so sees them)."""
    user = session.get_one(User, user_id)
    return provider(user.id, user.name, user.npi)


def credential(
    credential_id: uuid.UUID,
    credential_type: str,
    expiry_date: dt.date | None,
    verification_status: str,
) -> Data:
    """A credential as every organization the provider works for reads it (no number)."""
    return {
        "id": _text(credential_id),
        "type": credential_type,
        "expiry_date": _text(expiry_date),
        "verification_status": verification_status,
    }


def assignment(
    assignment_id: uuid.UUID,
    facility_id: uuid.UUID,
    facility_name: str,
    status: str,
    start_date: dt.date,
    end_date: dt.date | None,
) -> Data:
    return {
        "id": _text(assignment_id),
        "facility": {"id": _text(facility_id), "name": facility_name},
        "status": status,
        "start_date": _text(start_date),
        "end_date": _text(end_date),
    }


def provider_invited(
    organization_id: uuid.UUID,
    *,
    invitation_id: uuid.UUID,
    email: str,
    name: str,
    facility_ids: list[uuid.UUID],
    primary_facility_id: uuid.UUID | None,
    expires_at: dt.datetime,
    invited_by_id: uuid.UUID | None,
) -> Data:
    return {
        "organization_id": _text(organization_id),
        "invitation": {
            "id": _text(invitation_id),
            "email": email,
            "name": name,
            "facility_ids": [_text(i) for i in facility_ids],
            "primary_facility_id": _text(primary_facility_id),
            "expires_at": _text(expires_at),
            "invited_by_id": _text(invited_by_id),
        },
    }


def provider_joined(
    organization_id: uuid.UUID,
    *,
    provider: Data,
    joined_at: dt.datetime,
    invitation_id: uuid.UUID | None,
    facility_ids: list[uuid.UUID],
) -> Data:
    """`invitation_id`: the invitation accepted (None: a membership made active again);
    `facility_ids`: the facilities it assigns them to, pending until activated."""
    return {
        "organization_id": _text(organization_id),
        "provider": provider,
        "joined_at": _text(joined_at),
        "invitation_id": _text(invitation_id),
        "facility_ids": [_text(i) for i in facility_ids],
    }


def provider_left(
    organization_id: uuid.UUID, *, provider: Data, reason: LeftBecause, left_on: dt.date
) -> Data:
    return {
        "organization_id": _text(organization_id),
        "provider": provider,
        "reason": reason.value,
        "left_on": _text(left_on),
    }


def assignment_changed(
    organization_id: uuid.UUID,
    *,
    changes: list[AssignmentChange],
    provider: Data,
    assignment: Data,
) -> Data:
    """`changes`: what happened, in order (an assignment made primary as it is created
    says both)."""
    return {
        "organization_id": _text(organization_id),
        "changes": [change.value for change in changes],
        "provider": provider,
        "assignment": assignment,
    }


def credential_expiring(
    organization_id: uuid.UUID, *, provider: Data, credential: Data, days_left: int, window: int
) -> Data:
    """`window`: the reminder window (days) the credential has entered."""
    return {
        "organization_id": _text(organization_id),
        "provider": provider,
        "credential": credential,
        "days_left": days_left,
        "window_days": window,
    }


def credential_expired(organization_id: uuid.UUID, *, provider: Data, credential: Data) -> Data:
    return {
        "organization_id": _text(organization_id),
        "provider": provider,
        "credential": credential,
    }


def credential_verified(
    organization_id: uuid.UUID, *, provider: Data, credential: Data, verified_at: dt.datetime
) -> Data:
    """Whoever verified it: the outcome is shared, the decider is their organization's."""
    return {
        "organization_id": _text(organization_id),
        "provider": provider,
        "credential": credential,
        "verified_at": _text(verified_at),
    }


def onboarding_step_completed(
    organization_id: uuid.UUID, *, step: str, completed_at: dt.datetime
) -> Data:
    return {
        "organization_id": _text(organization_id),
        "step": step,
        "completed_at": _text(completed_at),
    }


def organization_activated(
    organization_id: uuid.UUID, *, name: str, activated_at: dt.datetime
) -> Data:
    return {
        "organization_id": _text(organization_id),
        "name": name,
        "activated_at": _text(activated_at),
    }


def exclusion_candidate(
    organization_id: uuid.UUID,
    *,
    match_id: uuid.UUID,
    status: str,
    match_kind: str,
    source: str,
    found_at: dt.datetime,
    provider: Data,
) -> Data:
    """`status`: `candidate` (a name match, for an admin to confirm or clear) or
    `excluded` (the NPI is listed: an exclusion at once)."""
    return {
        "organization_id": _text(organization_id),
        "status": status,
        "match": {
            "id": _text(match_id),
            "match_kind": match_kind,
            "source": source,
            "found_at": _text(found_at),
        },
        "provider": provider,
    }


# --- keys: occurrences a scan may find again, recorded once per organization ---------


def expiring_key(credential_id: uuid.UUID, expiry_date: dt.date, window: int) -> str:
    """A renewed credential (a new expiry date) enters each window again."""
    return f"{WebhookEventType.CREDENTIAL_EXPIRING}:{credential_id}:{expiry_date}:{window}"


def expired_key(credential_id: uuid.UUID, expiry_date: dt.date) -> str:
    return f"{WebhookEventType.CREDENTIAL_EXPIRED}:{credential_id}:{expiry_date}"


def step_key(step: str) -> str:
    return f"{WebhookEventType.ONBOARDING_STEP_COMPLETED}:{step}"


ACTIVATED_KEY = str(WebhookEventType.ORGANIZATION_ACTIVATED)


def exclusion_key(match_id: uuid.UUID) -> str:
    return f"{WebhookEventType.EXCLUSION_CANDIDATE}:{match_id}"


def working_for(session: Session, user_id: uuid.UUID) -> list[uuid.UUID]:
    """The organizations where the provider has an active assignment, to each of which
    an event about their credentials goes. To be read in the service's context (the
    caller, one organization's admin, may see none of the others), by the recording
    that follows, which returns nothing to the caller."""
    return list(
        session.scalars(
            select(ProviderFacility.organization_id)
            .where(
                ProviderFacility.user_id == user_id,
                ProviderFacility.status == AssignmentStatus.ACTIVE,
            )
            .distinct()
            .order_by(ProviderFacility.organization_id)
        )
    )


# --- examples, for the documentation ---------------------------------------------------

_ORGANIZATION = uuid.UUID("0b6f3c1e-5d2a-4f7e-9a51-3c8d2e6f1a40")
_PROVIDER = provider(
    uuid.UUID("6a1d9e7c-2b4f-4e8a-b3c5-7d9f1e2a4b60"), "Dana Reyes, MD", "1558598797"
)
_FACILITY = uuid.UUID("9c2e4a6b-8d1f-4b3e-a5c7-2e4f6a8b0d12")
_LICENSE = credential(
    uuid.UUID("3f8a1c5e-7b9d-4e2f-8a6c-1e3b5d7f9a24"),
    CredentialType.MEDICAL_LICENSE,
    dt.date(2027, 3, 31),
    VerificationStatus.VERIFIED,
)
_AT = dt.datetime(2026, 12, 2, 14, 30, tzinfo=dt.UTC)

EXAMPLES: dict[WebhookEventType, Data] = {
    WebhookEventType.PROVIDER_INVITED: provider_invited(
        _ORGANIZATION,
        invitation_id=uuid.UUID("5e7a9c1b-3d5f-4a8e-b2c4-6f8a0c2e4b71"),
        email="dana.reyes@example.com",
        name="Dana Reyes",
        facility_ids=[_FACILITY],
        primary_facility_id=_FACILITY,
        expires_at=_AT + dt.timedelta(days=7),
        invited_by_id=uuid.UUID("2d4f6a8c-0e2b-4c6e-9a1d-3f5b7d9e1a38"),
    ),
    WebhookEventType.PROVIDER_JOINED: provider_joined(
        _ORGANIZATION,
        provider=_PROVIDER,
        joined_at=_AT,
        invitation_id=uuid.UUID("5e7a9c1b-3d5f-4a8e-b2c4-6f8a0c2e4b71"),
        facility_ids=[_FACILITY],
    ),
    WebhookEventType.PROVIDER_LEFT: provider_left(
        _ORGANIZATION,
        provider=_PROVIDER,
        reason=LeftBecause.ASSIGNMENTS_ENDED,
        left_on=_AT.date(),
    ),
    WebhookEventType.ASSIGNMENT_CHANGED: assignment_changed(
        _ORGANIZATION,
        changes=[AssignmentChange.CREATED, AssignmentChange.MADE_PRIMARY],
        provider=_PROVIDER,
        assignment=assignment(
            uuid.UUID("7b9d1f3a-5c7e-4b0a-8d2f-4a6c8e0b2d93"),
            _FACILITY,
            "Northside Wound Center",
            AssignmentStatus.ACTIVE,
            _AT.date(),
            None,
        ),
    ),
    WebhookEventType.CREDENTIAL_EXPIRING: credential_expiring(
        _ORGANIZATION,
        provider=_PROVIDER,
        credential=_LICENSE,
        days_left=28,
        window=30,
    ),
    WebhookEventType.CREDENTIAL_EXPIRED: credential_expired(
        _ORGANIZATION, provider=_PROVIDER, credential=_LICENSE
    ),
    WebhookEventType.CREDENTIAL_VERIFIED: credential_verified(
        _ORGANIZATION, provider=_PROVIDER, credential=_LICENSE, verified_at=_AT
    ),
    WebhookEventType.ONBOARDING_STEP_COMPLETED: onboarding_step_completed(
        _ORGANIZATION, step=OnboardingStep.ADD_FACILITIES, completed_at=_AT
    ),
    WebhookEventType.ORGANIZATION_ACTIVATED: organization_activated(
        _ORGANIZATION, name="Northside Health Partners", activated_at=_AT
    ),
    WebhookEventType.EXCLUSION_CANDIDATE: exclusion_candidate(
        _ORGANIZATION,
        match_id=uuid.UUID("8c0e2a4b-6d8f-4c1e-9b3d-5f7a9c1e3b05"),
        status="candidate",
        match_kind="name_and_date_of_birth",
        source="leie",
        found_at=_AT,
        provider=_PROVIDER,
    ),
}
