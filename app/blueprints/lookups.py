"""Loading a row named in the URL, or answering 404.

The policies decide what the caller can see: whatever they hide is simply not found,
so another tenant's ids and ids that do not exist answer alike. `in_scope=True` also
requires the row to belong to an organization the caller acts for (a user sees every
organization they belong to, but acts only for the active one and its descendants).
"""

from __future__ import annotations

import uuid

from app.domain import members, organizations, providers
from app.domain.errors import Invalid, NotFound
from app.domain.queries import in_reach
from app.extensions import db
from app.models import Facility, Invitation, Organization, ProviderFacility, User
from app.tenancy.request import current_context


def organization_or_404(organization_id: uuid.UUID, *, in_scope: bool = False) -> Organization:
    organization = organizations.get_organization(db.session, organization_id)
    if organization is None or (in_scope and not current_context().reaches(organization.id)):
        raise NotFound("organization not found")
    return organization


def account_or_404(user_id: uuid.UUID) -> User:
    """A user's account, as far as the policies show it (MSC admins: every one)."""
    user = members.get_account(db.session, user_id)
    if user is None:
        raise NotFound("user not found")
    return user


def facility_or_404(facility_id: uuid.UUID) -> Facility:
    facility = in_reach(db.session, Facility, facility_id, current_context())
    if facility is None:
        raise NotFound("facility not found")
    return facility


def provider_or_404(provider_id: uuid.UUID) -> User:
    provider = providers.get_provider(db.session, provider_id, current_context())
    if provider is None:
        raise NotFound("provider not found")
    return provider


def assignment_or_404(provider: User, assignment_id: uuid.UUID) -> ProviderFacility:
    assignment = in_reach(db.session, ProviderFacility, assignment_id, current_context())
    if assignment is None or assignment.user_id != provider.id:
        raise NotFound("assignment not found")
    return assignment


def invitation_or_404(invitation_id: uuid.UUID) -> Invitation:
    invitation = in_reach(db.session, Invitation, invitation_id, current_context())
    if invitation is None:
        raise NotFound("invitation not found")
    return invitation


def facility_for_field(facility_id: uuid.UUID, field: str = "facility_id") -> Facility:
    """A facility named in a request body: out of reach is a 422 naming the field."""
    facility = in_reach(db.session, Facility, facility_id, current_context())
    if facility is None:
        raise Invalid("facility not found", field=field)
    return facility


def organization_for_field(
    organization_id: uuid.UUID, field: str = "organization_id"
) -> Organization:
    organization = organizations.get_organization(db.session, organization_id)
    if organization is None or not current_context().reaches(organization.id):
        raise Invalid("organization not found", field=field)
    return organization
