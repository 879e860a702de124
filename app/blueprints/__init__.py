"""HTTP resources: one flask-smorest blueprint per resource."""

from flask_smorest import Api

from app.blueprints import (
    audit_events,
    auth,
    compliance,
    credentials,
    documents,
    facilities,
    health,
    invitations,
    me,
    npi,
    onboarding,
    organizations,
    outbox,
    providers,
)


def register_blueprints(api: Api) -> None:
    for module in (
        health,
        auth,
        me,
        organizations,
        facilities,
        providers,
        invitations,
        credentials,
        documents,
        npi,
        onboarding,
        compliance,
        outbox,
        audit_events,
    ):
        api.register_blueprint(module.blp)
