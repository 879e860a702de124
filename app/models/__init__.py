"""Typed SQLAlchemy models; one module per table."""

from app.models.access_record import access_records
from app.models.audit_event import AuditEvent
from app.models.base import Base
from app.models.credential import Credential
from app.models.credential_verification import CredentialVerification
from app.models.deployment_region import DeploymentRegion
from app.models.document import Document
from app.models.exclusion import ExclusionEntry, ExclusionImportRow, ExclusionList
from app.models.facility import Facility
from app.models.invitation import Invitation
from app.models.license_check import LicenseCheck
from app.models.membership import Membership
from app.models.mfa_recovery_code import MfaRecoveryCode
from app.models.npi_registry_answer import NpiRegistryAnswer
from app.models.onboarding import OnboardingStepCompletion
from app.models.order import Order
from app.models.organization import Organization
from app.models.outbox_message import OutboxMessage
from app.models.password_reset import PasswordReset
from app.models.primary_assignment import PrimaryAssignment
from app.models.provider_facility import ProviderFacility
from app.models.screening import ExclusionMatch, ProviderScreening
from app.models.us_state import UsState
from app.models.user import User
from app.models.webhook import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent

__all__ = [
    "AuditEvent",
    "Base",
    "Credential",
    "CredentialVerification",
    "DeploymentRegion",
    "Document",
    "ExclusionEntry",
    "ExclusionImportRow",
    "ExclusionList",
    "ExclusionMatch",
    "Facility",
    "Invitation",
    "LicenseCheck",
    "Membership",
    "MfaRecoveryCode",
    "NpiRegistryAnswer",
    "OnboardingStepCompletion",
    "Order",
    "Organization",
    "OutboxMessage",
    "PasswordReset",
    "PrimaryAssignment",
    "ProviderFacility",
    "ProviderScreening",
    "UsState",
    "User",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
    "access_records",
]
