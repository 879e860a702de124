"""Typed SQLAlchemy models; one module per table."""

from app.models.audit_event import AuditEvent
from app.models.base import Base
from app.models.facility import Facility
from app.models.invitation import Invitation
from app.models.membership import Membership
from app.models.organization import Organization
from app.models.provider_facility import ProviderFacility
from app.models.us_state import UsState
from app.models.user import User

__all__ = [
    "AuditEvent",
    "Base",
    "Facility",
    "Invitation",
    "Membership",
    "Organization",
    "ProviderFacility",
    "UsState",
    "User",
]
