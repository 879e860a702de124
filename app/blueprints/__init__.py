"""HTTP resources: one flask-smorest blueprint per resource."""

from flask_smorest import Api

from app.blueprints import (
    analytics,
    audit_events,
    auth,
    compliance,
    credentials,
    documents,
    facilities,
    fhir,
    health,
    invitations,
    license_checks,
    me,
    members,
    mfa,
    npi,
    onboarding,
    orders,
    organizations,
    outbox,
    pages,
    passwords,
    providers,
    representatives,
    screenings,
    sessions,
    webhooks,
)


def register_blueprints(api: Api) -> None:
    for module in (
        health,
        auth,
        mfa,
        sessions,
        passwords,
        me,
        organizations,
        facilities,
        providers,
        invitations,
        members,
        representatives,
        credentials,
        license_checks,
        documents,
        npi,
        onboarding,
        compliance,
        screenings,
        orders,
        analytics,
        fhir,
        outbox,
        audit_events,
        webhooks,
        pages,
    ):
        api.register_blueprint(module.blp)
