"""Organization onboarding: nine steps in order, each complete either because the data
it asks for exists or because someone completed it by hand.

Data-backed steps complete (and un-complete) themselves; the manual ones (training and
certification, go-live) are completed and reopened through the API, in order. Going
live activates the organization.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    SQLColumnExpression,
    and_,
    case,
    delete,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.orm import InstrumentedAttribute, Session

from app import clock
from app.domain import webhook_events, webhooks
from app.domain.errors import Conflict
from app.models import Document, Facility, Invitation, OnboardingStepCompletion, Organization
from app.models.enums import (
    DocumentType,
    InvitationRole,
    OnboardingStatus,
    OrganizationStatus,
    WebhookEventType,
)
from app.models.enums import OnboardingStep as Step
from app.tenancy.context import TenantContext, system_context
from app.tenancy.read_only import ensure_writable

STEPS: tuple[Step, ...] = tuple(Step)
MANUAL = frozenset({Step.TRAINING_AND_CERTIFICATION, Step.GO_LIVE})

# What each data-backed step waits for, as said to the user.
DATA_NEEDED = {
    Step.REGISTRATION: "the organization exists",
    Step.BASIC_INFORMATION: "name, tax id and primary contact name, email and phone",
    Step.TAX_DOCUMENTATION: "a tax form uploaded",
    Step.BANKING_SETUP: "a banking letter uploaded",
    Step.ADD_FACILITIES: "at least one facility",
    Step.INVITE_OFFICE_MANAGERS: "an office manager invited",
    Step.PROVIDER_INVITATIONS: "a provider invited",
}
# The steps an upload completes, by the document's type, and an invitation, by its role.
DOCUMENT_STEPS = {
    DocumentType.TAX_FORM: Step.TAX_DOCUMENTATION,
    DocumentType.BANKING_LETTER: Step.BANKING_SETUP,
}
INVITATION_STEPS = {
    InvitationRole.OFFICE_MANAGER: Step.INVITE_OFFICE_MANAGERS,
    InvitationRole.PROVIDER: Step.PROVIDER_INVITATIONS,
}
BASIC_FIELDS = (
    "name",
    "tax_id",
    "primary_contact_name",
    "primary_contact_email",
    "primary_contact_phone",
)


@dataclass(frozen=True)
class StepState:
    step: Step
    completed: bool
    manual: bool
    completed_at: dt.datetime | None
    completed_by_id: uuid.UUID | None
    requirement: str | None


@dataclass(frozen=True)
class Progress:
    organization_id: uuid.UUID
    onboarding_status: str
    steps: list[StepState]

    @property
    def percent_complete(self) -> int:
        return percent_complete(sum(s.completed for s in self.steps))

    @property
    def next_step(self) -> Step | None:
        return next((s.step for s in self.steps if not s.completed), None)

    def missing_before(self, step: Step) -> list[Step]:
        index = STEPS.index(step)
        return [s.step for s in self.steps[:index] if not s.completed]


def percent_complete(completed_steps: int) -> int:
    """An organization's onboarding progress, in whole percent of its steps."""
    return round(100 * completed_steps / len(STEPS))


@dataclass(frozen=True)
class Evidence:
    """The rows whose first one completes a step: in `table`, those of the organization
    (`organization_id`) that meet `criteria`, the first by `when`."""

    when: InstrumentedAttribute[Any]
    organization_id: InstrumentedAttribute[Any]
    criteria: tuple[ColumnElement[bool], ...] = ()


def _evidence() -> dict[Step, Evidence]:
    """The one definition of each step a row completes (every step but the first two,
    which the organization's own row completes)."""
    return {
        **{
            step: Evidence(
                Document.created_at, Document.organization_id, (Document.document_type == kind,)
            )
            for kind, step in DOCUMENT_STEPS.items()
        },
        Step.ADD_FACILITIES: Evidence(Facility.created_at, Facility.organization_id),
        **{
            step: Evidence(
                Invitation.created_at, Invitation.organization_id, (Invitation.role == role,)
            )
            for role, step in INVITATION_STEPS.items()
        },
        **{
            step: Evidence(
                OnboardingStepCompletion.completed_at,
                OnboardingStepCompletion.organization_id,
                (OnboardingStepCompletion.step == step,),
            )
            for step in MANUAL
        },
    }


def _basics_done() -> ColumnElement[bool]:
    return and_(*(func.coalesce(getattr(Organization, name), "") != "" for name in BASIC_FIELDS))


def done_at(organization_id: uuid.UUID) -> dict[Step, SQLColumnExpression[Any]]:
    """When each step of the organization was done, null while it is not: SQL over its
    row (selected beside) and the rows that complete its steps (`_evidence`)."""
    found: dict[Step, SQLColumnExpression[Any]] = {
        Step.REGISTRATION: Organization.created_at,
        Step.BASIC_INFORMATION: case((_basics_done(), Organization.updated_at)),
    }
    for step, evidence in _evidence().items():
        found[step] = (
            select(func.min(evidence.when))
            .where(evidence.organization_id == organization_id, *evidence.criteria)
            .scalar_subquery()
        )
    return {step: found[step] for step in STEPS}


def completed_steps() -> ColumnElement[int]:
    """How many steps each organization selected (`Organization.id`) has completed, by
    the same evidence as `done_at`. Asked as whether the organization is among those
    with such rows, a question that does not depend on the row at hand: a Citus cluster
    answers it once for the statement, where it refuses a subquery per row between its
    reference and distributed tables."""
    with_rows = [
        Organization.id.in_(select(evidence.organization_id).where(*evidence.criteria))
        for evidence in _evidence().values()
    ]
    return sum(
        (case((done, 1), else_=0) for done in (literal(True), _basics_done(), *with_rows)),
        literal(0),
    )


def progress(session: Session, organization: Organization) -> Progress:
    """Every step's state, in one statement whatever the organization's size."""
    org_id = organization.id
    when = done_at(org_id)
    by = {
        step: select(OnboardingStepCompletion.completed_by_id)
        .where(
            OnboardingStepCompletion.organization_id == org_id,
            OnboardingStepCompletion.step == step,
        )
        .scalar_subquery()
        for step in MANUAL
    }
    row = session.execute(
        select(*when.values(), *by.values()).where(Organization.id == org_id)
    ).one()
    done = dict(zip(when, row[: len(when)], strict=True))
    completed_by = dict(zip(by, row[len(when) :], strict=True))
    states = [
        StepState(
            step,
            done[step] is not None,
            step in MANUAL,
            done[step],
            completed_by.get(step),
            None if step in MANUAL else DATA_NEEDED[step],
        )
        for step in STEPS
    ]
    return Progress(org_id, organization.onboarding_status, states)


def complete(
    session: Session,
    context: TenantContext,
    organization: Organization,
    step: Step,
    now: dt.datetime,
) -> Progress:
    ensure_writable(context, organization.id)
    current = progress(session, organization)
    state = current.steps[STEPS.index(step)]
    if state.completed:
        raise Conflict(f"{step.value} is already complete", field="step")
    if step not in MANUAL:
        raise Conflict(
            f"{step.value} completes itself once there is {DATA_NEEDED[step]}", field="step"
        )
    missing = current.missing_before(step)
    if missing:
        raise Conflict(
            f"complete these steps first: {', '.join(s.value for s in missing)}", field="step"
        )
    session.add(
        OnboardingStepCompletion(
            organization_id=organization.id,
            step=step,
            completed_by_id=context.user_id,
            completed_at=now,
        )
    )
    session.flush()
    mark_started(session, organization.id)
    # Announced before going live closes the onboarding (completion_events says none then).
    events = completion_events(organization, step, now)
    if step == Step.GO_LIVE:
        _go_live(session, organization, now)
        events.append(activation_event(organization))
    webhooks.record_many(session, events)
    session.refresh(organization)
    return progress(session, organization)


def reopen(
    session: Session, context: TenantContext, organization: Organization, step: Step
) -> Progress:
    ensure_writable(context, organization.id)
    current = progress(session, organization)
    if step not in MANUAL:
        raise Conflict(f"{step.value} follows its data and cannot be reopened", field="step")
    if not current.steps[STEPS.index(step)].completed:
        raise Conflict(f"{step.value} is not complete", field="step")
    if step == Step.GO_LIVE or organization.onboarding_status == OnboardingStatus.COMPLETED:
        raise Conflict("the organization is live: its onboarding is closed", field="step")
    session.execute(
        delete(OnboardingStepCompletion).where(
            OnboardingStepCompletion.organization_id == organization.id,
            OnboardingStepCompletion.step == step,
        )
    )
    return progress(session, organization)


def mark_started(session: Session, organization_id: uuid.UUID | None) -> None:
    """Something onboarding counts was just written for the organization (a facility, an
    invitation, an organization's document, a step completed by hand): its onboarding has
    started, if it had not. In the writer's own context, audited as theirs: a writer who
    may not update the organization (an office manager inviting someone) changes nothing.
    None: a provider's own document, which belongs to no organization."""
    if organization_id is None:
        return
    session.execute(
        update(Organization)
        .where(
            Organization.id == organization_id,
            Organization.onboarding_status == OnboardingStatus.INITIATED,
        )
        .values(onboarding_status=OnboardingStatus.IN_PROGRESS),
        # the rows the database did update (RETURNING), not those the criteria name:
        # the policies may leave the organization as it was
        execution_options={"synchronize_session": "fetch"},
    )


def has_basics(organization: Organization) -> bool:
    """Whether the basic information step's data is all there."""
    return all(getattr(organization, name) for name in BASIC_FIELDS)


def completion_events(
    organization: Organization, step: Step, now: dt.datetime
) -> list[webhooks.NewEvent]:
    """The event announcing that `step` is now complete, for a record: once per
    organization and step (its key), whatever reopens and completes it again; none once
    the organization is live (one onboarded before webhooks came, adding a facility,
    completes no step)."""
    if organization.onboarding_status == OnboardingStatus.COMPLETED:
        return []
    data = webhook_events.onboarding_step_completed(organization.id, step=step, completed_at=now)
    return [
        webhooks.event(
            organization.id,
            WebhookEventType.ONBOARDING_STEP_COMPLETED,
            data,
            key=webhook_events.step_key(step),
        )
    ]


def announce_step(session: Session, organization: Organization, step: Step) -> None:
    """Announce a data-backed step that the data just written completes (a facility,
    a document, an invitation, the organization's details)."""
    webhooks.record_many(session, completion_events(organization, step, clock.now()))


def activation_event(organization: Organization) -> webhooks.NewEvent:
    """organization.activated, once per organization (its key): an organization made
    active again after a suspension is not activated anew."""
    assert organization.activated_at is not None, "an activated organization has the date"
    data = webhook_events.organization_activated(
        organization.id, name=organization.name, activated_at=organization.activated_at
    )
    return webhooks.event(
        organization.id,
        WebhookEventType.ORGANIZATION_ACTIVATED,
        data,
        key=webhook_events.ACTIVATED_KEY,
    )


def _go_live(session: Session, organization: Organization, now: dt.datetime) -> None:
    """Activation is an MSC-level change (a guarded column): the organization admin's
    go-live does it in the system context, audited as theirs."""
    changes: dict[str, Any] = {"onboarding_status": OnboardingStatus.COMPLETED}
    if organization.status == OrganizationStatus.PENDING:
        changes["status"] = OrganizationStatus.ACTIVE
    if organization.activated_at is None:
        changes["activated_at"] = now
    with system_context(session):
        for name, value in changes.items():
            setattr(organization, name, value)
        session.flush()
