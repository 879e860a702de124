"""Constrained values shared by the columns, the API schemas and the domain rules."""

from enum import StrEnum


class OrganizationType(StrEnum):
    HOSPITAL_SYSTEM = "hospital_system"
    GROUP_PRACTICE = "group_practice"
    INDIVIDUAL = "individual"


class OrganizationStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    INACTIVE = "inactive"


class OnboardingStatus(StrEnum):
    INITIATED = "initiated"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class FacilityType(StrEnum):
    HOSPITAL = "hospital"
    CLINIC = "clinic"
    WOUND_CENTER = "wound_center"
    SNF = "snf"


class Role(StrEnum):
    ORGANIZATION_ADMIN = "organization_admin"
    OFFICE_MANAGER = "office_manager"
    PROVIDER = "provider"


class InvitationRole(StrEnum):
    """The roles an invitation can offer (organization admins are made by MSC)."""

    PROVIDER = "provider"
    OFFICE_MANAGER = "office_manager"


class InvitationStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REVOKED = "revoked"
    EXPIRED = "expired"


class AssignmentStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    INACTIVE = "inactive"


def values(enum: type[StrEnum]) -> list[str]:
    return [member.value for member in enum]
