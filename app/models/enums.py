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


# The role of a request made by an MSC representative acting for an organization they
# represent (`tenancy.enter`): a role of the context, never of a membership or an
# invitation, so not a `Role`.
MSC_REPRESENTATIVE = "msc_representative"


class InvitationRole(StrEnum):
    """The roles an invitation can offer. Office managers offer only `provider`, and an
    organization admin is invited by an MSC admin or an admin of the organization or of
    one of its ancestors (app/domain/invitations.py)."""

    PROVIDER = "provider"
    OFFICE_MANAGER = "office_manager"
    ORGANIZATION_ADMIN = "organization_admin"


class InvitationStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REVOKED = "revoked"
    EXPIRED = "expired"


class PasswordResetStatus(StrEnum):
    """A password reset link's state, derived like an invitation's: `revoked` when a newer
    link was asked for or the password was changed since."""

    PENDING = "pending"
    USED = "used"
    REVOKED = "revoked"
    EXPIRED = "expired"


class AssignmentStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    INACTIVE = "inactive"


def values(enum: type[StrEnum]) -> list[str]:
    return [member.value for member in enum]


class CredentialType(StrEnum):
    MEDICAL_LICENSE = "medical_license"
    DEA_REGISTRATION = "dea_registration"
    MALPRACTICE_INSURANCE = "malpractice_insurance"
    BOARD_CERTIFICATION = "board_certification"


class VerificationStatus(StrEnum):
    """Stored verification of a credential. `expired` is never stored: it follows from
    the expiry date at the moment of asking."""

    UNVERIFIED = "unverified"
    VERIFIED = "verified"
    REJECTED = "rejected"
    EXPIRED = "expired"


class DocumentType(StrEnum):
    TAX_FORM = "tax_form"
    BANKING_LETTER = "banking_letter"
    LICENSE_COPY = "license_copy"
    INSURANCE_CERTIFICATE = "insurance_certificate"
    TRAINING_CERTIFICATE = "training_certificate"


class NpiVerification(StrEnum):
    UNVERIFIED = "unverified"
    PENDING = "pending"  # the registry could not be reached; retried later
    VERIFIED = "verified"
    MISMATCH = "mismatch"  # the registry knows the number under another name or type
    NOT_FOUND = "not_found"


class OnboardingStep(StrEnum):
    """The organization onboarding steps, in order."""

    REGISTRATION = "registration"
    BASIC_INFORMATION = "basic_information"
    TAX_DOCUMENTATION = "tax_documentation"
    BANKING_SETUP = "banking_setup"
    ADD_FACILITIES = "add_facilities"
    INVITE_OFFICE_MANAGERS = "invite_office_managers"
    PROVIDER_INVITATIONS = "provider_invitations"
    TRAINING_AND_CERTIFICATION = "training_and_certification"
    GO_LIVE = "go_live"


class OutboxStatus(StrEnum):
    PENDING = "pending"  # waiting to be relayed to the queue (or to be retried)
    QUEUED = "queued"  # handed to the queue
    SENDING = "sending"  # claimed by a worker, under a lease
    SENT = "sent"
    FAILED = "failed"  # gave up after the last attempt; an MSC admin may retry
    CANCELLED = "cancelled"  # not to be sent: its invitation was replaced or revoked


class AuditAction(StrEnum):
    """What an audit event records: a row's change (by the audit triggers), or a read of
    sensitive data (an access, recorded through `access_records`)."""

    INSERT = "insert"
    UPDATE = "update"
    DELETE = "delete"
    ACCESS = "access"


class AccessPurpose(StrEnum):
    """Why sensitive data was read: the endpoint whose read an access event records
    (app/domain/access.py)."""

    DOCUMENT_DOWNLOAD = "document_download"
    FHIR_EXPORT = "fhir_export"
    # An organization's analytics report, in either of its formats.
    ANALYTICS_EXPORT = "analytics_export"
    # Every organization's totals (MSC admins): an event for each organization shown.
    ANALYTICS_BREAKDOWN_EXPORT = "analytics_breakdown_export"
    CREDENTIAL_READ = "credential_read"
    CREDENTIAL_LIST = "credential_list"
    MEMBER_READ = "member_read"
    AUDIT_EXPORT = "audit_export"


class MessageKind(StrEnum):
    CREDENTIAL_REMINDER = "credential_reminder"
    DOCUMENT_REMINDER = "document_reminder"
    INVITATION = "invitation"
    # A message kind, not a secret (bandit B105).
    PASSWORD_RESET = "password_reset"  # nosec B105
    # A provider found excluded, to their organization's admins.
    EXCLUSION_NOTICE = "exclusion_notice"
    # An organization's webhook endpoint disabled after failing for too long, to its admins.
    WEBHOOK_DISABLED = "webhook_disabled"


class WebhookEventType(StrEnum):
    """What an organization's webhook endpoints may subscribe to (app/domain/
    webhook_events.py builds each one's data; the README shows them)."""

    PROVIDER_INVITED = "provider.invited"
    PROVIDER_JOINED = "provider.joined"
    PROVIDER_LEFT = "provider.left"
    ASSIGNMENT_CHANGED = "assignment.changed"
    CREDENTIAL_EXPIRING = "credential.expiring"
    CREDENTIAL_EXPIRED = "credential.expired"
    CREDENTIAL_VERIFIED = "credential.verified"
    ONBOARDING_STEP_COMPLETED = "organization.onboarding_step_completed"
    ORGANIZATION_ACTIVATED = "organization.activated"
    EXCLUSION_CANDIDATE = "exclusion.candidate"


class WebhookDeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting to be relayed to the queue (or to be retried)
    QUEUED = "queued"  # handed to the queue
    SENDING = "sending"  # claimed by a worker, under a lease
    DELIVERED = "delivered"  # the endpoint answered 2xx
    FAILED = "failed"  # attempts spent, or the endpoint disabled; may be replayed
