"""The provider onboarding checklist, derived from the provider's data."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain import compliance, credentials
from app.domain.errors import NotFound
from app.domain.orders import has_ordered
from app.models import PrimaryAssignment
from app.models.enums import CredentialType as Kind
from app.models.enums import NpiVerification
from app.models.enums import VerificationStatus as Verification


@dataclass(frozen=True)
class Item:
    item: str
    complete: bool
    detail: str | None = None


@dataclass(frozen=True)
class Checklist:
    user_id: uuid.UUID
    items: list[Item]

    @property
    def percent_complete(self) -> int:
        return round(100 * sum(i.complete for i in self.items) / len(self.items))


def _on_file(facts: compliance.ProviderFacts, kind: str, today: dt.date) -> Item:
    """Complete when a credential of the kind, neither rejected nor expired, is on file
    for every state required of the provider (any state when none is): a license held
    in one state while they work in another is named here."""
    problems: list[str] = []
    held: list[str] = []
    for state, credential in compliance.counting_credentials(facts, kind).items():
        where = f" in {state}" if state else ""
        if credential is None:
            problems.append(f"not on file{where}")
            continue
        status = credentials.status_at(credential, today)
        if status in (Verification.REJECTED, Verification.EXPIRED):
            problems.append(f"{status}{where}")
        else:
            held.append(status)
    if problems:
        return Item(kind, False, "; ".join(problems))
    # The weaker of what is held: unverified where any is.
    return Item(kind, True, min(held, key=lambda status: status == Verification.VERIFIED))


def _primary_facility(session: Session, facts: compliance.ProviderFacts) -> Item:
    """Whether the provider has a primary facility: they choose one themselves when they
    work at several facilities and none is (their primary assignment ended, say)."""
    chosen = session.scalar(
        select(PrimaryAssignment.facility_id).where(PrimaryAssignment.user_id == facts.user.id)
    )
    if chosen is not None:
        return Item("primary_facility", True)
    if not facts.active_facility_ids:
        return Item("primary_facility", False, "no active assignment")
    return Item("primary_facility", False, "choose your primary facility")


def checklist(
    session: Session, user_id: uuid.UUID, today: dt.date, *, own: bool = False
) -> Checklist:
    """The provider's checklist. Their `own` has a ninth item, their primary facility:
    an organization sees the primary only when it is one of its own assignments, so
    the item would read unchosen wherever the primary lies elsewhere."""
    facts = compliance.load_facts(session, [user_id], today).get(user_id)
    if facts is None:
        raise NotFound("provider not found")
    user = facts.user
    personal = bool(user.name and user.phone and user.npi)
    dea = (
        Item(Kind.DEA_REGISTRATION, True, "not applicable")
        if user.dea_not_applicable
        else _on_file(facts, Kind.DEA_REGISTRATION, today)
    )
    items = [
        Item("personal_information", personal, None if personal else "name, phone and NPI"),
        Item(
            "npi_verification",
            user.npi_verification == NpiVerification.VERIFIED,
            user.npi_verification,
        ),
        _on_file(facts, Kind.MEDICAL_LICENSE, today),
        dea,
        _on_file(facts, Kind.MALPRACTICE_INSURANCE, today),
        Item("facility_assignment", bool(facts.active_facility_ids)),
        Item(
            "system_training",
            facts.has_training,
            None if facts.has_training else "no training certificate",
        ),
        Item("first_order", has_ordered(session, user_id)),
    ]
    if own:
        items.append(_primary_facility(session, facts))
    return Checklist(user_id, items)
